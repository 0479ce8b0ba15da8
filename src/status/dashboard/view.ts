// What the dashboard shows, as data: made from the status document (already
// redacted, messages already in words) at the edge, with the same words as
// `fogctl get` and `describe`. The page only lays this out; it decides
// nothing. Pure: the same document gives the same view.

import { formatCpu, formatMemory } from '../../api/quantity.js';
import { asSyncStatus, formatSyncStatus } from '../../sync/status.js';
import type { ReplicaView, ServiceView, StatusDoc } from '../doc.js';
import { nodeState, serviceState } from '../state.js';
import { ago, within } from '../text.js';

/** ok: all is well; busy: in motion; bad: needs a person (or waits on one). */
export type Tone = 'ok' | 'busy' | 'bad' | 'idle';

export interface ReplicaChip {
  name: string;
  service: string;
  node: string;
  state: string;
  ready: boolean;
  restarts: number;
  upToDate: boolean;
  message?: string;
  tone: Tone;
}

export interface NodeCard {
  name: string;
  status: string;
  tone: Tone;
  /** How long ago at `doc.clock` (the page adds the time since it received the view). */
  lastSeenMs?: number;
  cpu: string;
  memory: string;
  /** Reserved share of capacity, 0..1 (undefined when the capacity is unknown). */
  cpuUse?: number;
  memoryUse?: number;
  labels: Readonly<Record<string, string>>;
  devices: readonly string[];
  message?: string;
  replicas: ReplicaChip[];
}

export interface FailureRow {
  action: string;
  slot: number;
  node: string;
  code: string;
  attempts: number;
  last: string;
  next: string;
  message: string;
}

export interface ServiceRow {
  name: string;
  mode: string;
  /** READY, UP-TO-DATE, AVAILABLE and STATUS as `fogctl get services` prints them. */
  ready: string;
  upToDate: number;
  available: number;
  status: string;
  tone: Tone;
  image?: string;
  source?: string;
  held: boolean;
  conditions: { type: string; status: boolean; reason: string; message: string }[];
  replicas: ReplicaChip[];
  unschedulable?: { message: string; perNode: { node: string; message: string }[] };
  failures: FailureRow[];
  errors: string[];
}

export interface DashboardView {
  cluster: string;
  /** The controller's wall clock when the view was made (ms since the epoch). */
  wall: number;
  passes: number;
  lastPassMs?: number;
  /** Label keys that nodes carry, for the "group by" selector. */
  labelKeys: string[];
  nodes: NodeCard[];
  /** Broken first, then those in motion, then the steady ones; by name within each. */
  services: ServiceRow[];
  desired: { dir: string; errors: { where: string; object?: string; message: string }[]; folderError?: string; held: string[] };
  sync?: { state: string; tone: Tone; text: string };
  /** Newest first. */
  events: { type: string; reason: string; object: string; age: string; count: number; message: string }[];
}

const BAD = new Set(['CrashLoop', 'CrashLoopBackOff', 'Unschedulable', 'DependencyCycle', 'DependencyWait', 'Refused', 'PolicyRefused', 'ActionBackOff']);
const STEADY = new Set(['Running', 'ScaledToZero']);
const RANK: Record<Tone, number> = { bad: 0, busy: 1, ok: 2, idle: 3 };

export function statusTone(status: string): Tone {
  if (BAD.has(status)) return 'bad';
  if (status === 'ScaledToZero') return 'idle';
  return STEADY.has(status) ? 'ok' : 'busy';
}

export function replicaTone(r: ReplicaView): Tone {
  if (r.state === 'running') return r.ready && r.upToDate ? 'ok' : 'busy';
  if (r.state === 'created' || r.state === 'restarting' || r.state === 'pending' || r.state === 'unknown (node unreachable)') return 'busy';
  return 'bad';
}

function chip(service: string, r: ReplicaView): ReplicaChip {
  const c: ReplicaChip = { name: `${service}-${r.slot}`, service, node: r.node, state: r.state, ready: r.ready, restarts: r.restarts, upToDate: r.upToDate, tone: replicaTone(r) };
  if (r.message !== undefined) c.message = r.message;
  return c;
}

function use(reserved: number, capacity: number): number | undefined {
  return capacity > 0 ? Math.min(1, reserved / capacity) : undefined;
}

/** The failed actions of a service and when each is tried next, as `describe service` shows them. */
function failuresOf(doc: StatusDoc, s: ServiceView | undefined, name: string): FailureRow[] {
  return doc.failures
    .filter((f) => f.service === name)
    .map((f) => {
      const b = s?.backoffs?.find((x) => x.note.code === 'ActionBackOff' && x.note.slot === f.slot && x.note.action === f.type && x.note.node === f.node)?.note;
      const next = b === undefined || b.code !== 'ActionBackOff' ? 'due' : b.until === undefined ? 'after a spec change' : within(b.until, doc.clock.now);
      return { action: f.type, slot: f.slot, node: f.node, code: f.code, attempts: f.attempts, last: ago(f.time, doc.clock.now), next, message: f.message };
    });
}

function serviceRow(doc: StatusDoc, s: ServiceView): ServiceRow {
  const spec = doc.specs?.[s.name];
  const status = serviceState(s);
  const row: ServiceRow = {
    name: s.name,
    mode: s.mode,
    ready: `${s.ready}/${s.desired}`,
    upToDate: s.upToDate,
    available: s.available,
    status,
    tone: statusTone(status),
    held: spec?.held ?? false,
    conditions: s.conditions.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
    replicas: s.replicas.map((r) => chip(s.name, r)),
    failures: failuresOf(doc, s, s.name),
    errors: doc.desired.errors.filter((e) => e.object === `Service/${s.name}`).map((e) => `${e.file}:${e.line}:${e.col}: ${e.message}`),
  };
  if (spec) {
    row.image = spec.image;
    row.source = spec.source;
  }
  if (s.unschedulable) row.unschedulable = { message: s.unschedulable.message, perNode: s.unschedulable.perNode.map((p) => ({ node: p.node, message: p.message })) };
  return row;
}

export function dashboardView(doc: StatusDoc): DashboardView {
  const services = doc.status.services.map((s) => serviceRow(doc, s)).sort((a, b) => RANK[a.tone] - RANK[b.tone] || a.name.localeCompare(b.name));
  const chips = services.flatMap((s) => s.replicas);
  const nodes = doc.status.nodes
    .map((n): NodeCard => {
      const card: NodeCard = {
        name: n.name,
        status: nodeState(n),
        tone: !n.reachable ? 'bad' : n.unschedulable ? 'idle' : 'ok',
        cpu: `${formatCpu(n.reserved.cpu)}/${formatCpu(n.capacity.cpu)}`,
        memory: `${formatMemory(n.reserved.memory)}/${formatMemory(n.capacity.memory)}`,
        labels: n.labels,
        devices: n.devices,
        replicas: chips.filter((c) => c.node === n.name).sort((a, b) => a.name.localeCompare(b.name)),
      };
      if (n.lastSeen !== undefined) card.lastSeenMs = Math.max(0, doc.clock.now - n.lastSeen);
      const cpu = use(n.reserved.cpu, n.capacity.cpu);
      const memory = use(n.reserved.memory, n.capacity.memory);
      if (cpu !== undefined) card.cpuUse = cpu;
      if (memory !== undefined) card.memoryUse = memory;
      if (n.message !== undefined) card.message = n.message;
      return card;
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  const view: DashboardView = {
    cluster: doc.cluster,
    wall: doc.clock.wall,
    passes: doc.passes,
    labelKeys: [...new Set(nodes.flatMap((n) => Object.keys(n.labels)))].sort(),
    nodes,
    services,
    desired: {
      dir: doc.desired.dir,
      errors: doc.desired.errors.map((e) => ({ where: `${e.file}:${e.line}:${e.col}`, ...(e.object ? { object: e.object } : {}), message: e.message })),
      held: doc.desired.held,
      ...(doc.desired.folderError ? { folderError: doc.desired.folderError } : {}),
    },
    events: doc.events
      .slice(-100)
      .reverse()
      .map((e) => ({ type: e.type, reason: e.reason, object: e.object, age: ago(e.time, doc.clock.now), count: e.count ?? 1, message: e.message })),
  };
  if (doc.lastPassAt !== undefined) view.lastPassMs = Math.max(0, doc.clock.now - doc.lastPassAt);
  const sync = asSyncStatus(doc.sync);
  if (sync) view.sync = { state: sync.state, tone: sync.state === 'Synced' ? 'ok' : sync.state === 'Pending' ? 'busy' : 'bad', text: formatSyncStatus(sync) };
  return view;
}
