// Tables and human forms, kubectl-style. Text is only made here, at the edge.

import { stringify } from 'yaml';
import { formatCpu, formatMemory } from '../api/quantity.js';
import type { ReplicaView, ServiceView } from '../status/doc.js';
import type { StatusDoc } from '../status/doc.js';
import { nodeState, serviceState } from '../status/state.js';

// Shared with the dashboard (status/dashboard), which cannot import from cli/.
export { nodeState, serviceState };

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** kubectl's short ages: 42s, 5m, 3h, 2d. */
export function age(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '<unknown>';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

export function ageOf(doc: StatusDoc, t: number | undefined): string {
  return t === undefined ? '<unknown>' : age(doc.clock.now - t);
}

export type Output = 'table' | 'wide' | 'json' | 'yaml';

export function parseOutput(v: string | undefined): Output {
  if (v === undefined) return 'table';
  if (v === 'wide' || v === 'json' || v === 'yaml') return v;
  throw new Error(`unknown output format "${v}": allowed are wide, json, yaml`);
}

export function serialize(value: unknown, out: 'json' | 'yaml'): string {
  return out === 'json' ? JSON.stringify(value, null, 2) + '\n' : stringify(value);
}

export function servicesTable(doc: StatusDoc, wide: boolean): string {
  const rows = doc.status.services.map((s) => {
    const row = [s.name, s.mode, `${s.ready}/${s.desired}`, String(s.upToDate), String(s.available), serviceState(s)];
    if (wide) {
      const spec = doc.specs?.[s.name];
      row.push(
        doc.rollouts?.[s.name]?.image ?? spec?.image ?? '',
        s.replicas
          .map((r) => r.node)
          .filter((n, i, a) => n && a.indexOf(n) === i)
          .join(','),
        s.unschedulable?.message ?? firstFalse(s) ?? '',
      );
    }
    return row;
  });
  const header = ['NAME', 'MODE', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'STATUS'];
  if (wide) header.push('IMAGE', 'NODES', 'MESSAGE');
  return table(header, rows);
}

function firstFalse(s: ServiceView): string | undefined {
  return s.conditions.find((c) => c.status && c.type !== 'Available' && c.type !== 'Progressing')?.message;
}

export function nodesTable(doc: StatusDoc, wide: boolean): string {
  const rows = doc.status.nodes.map((n) => {
    const row = [
      n.name,
      nodeState(n),
      String(n.replicas),
      `${formatCpu(n.reserved.cpu)}/${formatCpu(n.capacity.cpu)}`,
      `${formatMemory(n.reserved.memory)}/${formatMemory(n.capacity.memory)}`,
      n.lastSeen === undefined ? 'never' : `${ageOf(doc, n.lastSeen)} ago`,
    ];
    if (wide)
      row.push(
        Object.entries(n.labels)
          .map(([k, v]) => `${k}=${v}`)
          .sort()
          .join(','),
        n.devices.join(','),
        n.message ?? '',
      );
    return row;
  });
  const header = ['NAME', 'STATUS', 'REPLICAS', 'CPU', 'MEMORY', 'LAST-SEEN'];
  if (wide) header.push('LABELS', 'DEVICES', 'MESSAGE');
  return table(header, rows);
}

export function replicaRows(doc: StatusDoc): { service: string; r: ReplicaView }[] {
  return doc.status.services.flatMap((s) => s.replicas.map((r) => ({ service: s.name, r })));
}

export function replicasTable(doc: StatusDoc, wide: boolean): string {
  const rows = replicaRows(doc).map(({ service, r }) => {
    const row = [`${service}-${r.slot}`, service, r.node || '<none>', r.state, r.ready ? 'true' : 'false', String(r.restarts), r.upToDate ? 'true' : 'false', ageOf(doc, r.startedAt)];
    if (wide) row.push(r.containerName ?? '', r.containerId?.slice(0, 12) ?? '', r.message ?? '');
    return row;
  });
  const header = ['NAME', 'SERVICE', 'NODE', 'STATUS', 'READY', 'RESTARTS', 'UP-TO-DATE', 'AGE'];
  if (wide) header.push('CONTAINER', 'ID', 'MESSAGE');
  return table(header, rows);
}
