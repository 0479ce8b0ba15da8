// `fogctl describe`: everything a person needs to understand one object.

import { formatCpu, formatMemory } from '../api/quantity.js';
import type { ImageTransferView, StatusDoc } from '../status/doc.js';
import { age as formatAge, ageOf, nodeState, serviceState, table } from './print.js';
import { transferText, within } from '../status/text.js';

function section(title: string, body: string): string {
  return `${title}:\n${body
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => `  ${l}`)
    .join('\n')}\n`;
}

function kv(pairs: [string, string | undefined][]): string {
  const shown = pairs.filter((p): p is [string, string] => p[1] !== undefined && p[1] !== '');
  const w = Math.max(...shown.map(([k]) => k.length)) + 1;
  return shown.map(([k, v]) => `${`${k}:`.padEnd(w + 1)}${v}`).join('\n') + '\n';
}

/** Pulls and copies in flight now: `Pulling 45% (3/5 layers, …)`. */
function transfers(doc: StatusDoc, which: (t: ImageTransferView) => boolean): string {
  const moving = (doc.images?.transfers ?? []).filter(which);
  if (moving.length === 0) return '';
  return section(
    'Images',
    table(
      ['NODE', 'IMAGE', 'PROGRESS', 'AGE'],
      moving.map((t) => [t.node, t.image, transferText(t), formatAge(t.age)]),
    ),
  );
}

function eventsFor(doc: StatusDoc, object: string): string {
  const evs = doc.events.filter((e) => e.object === object).slice(-15);
  if (evs.length === 0) return 'Events: <none>\n';
  return section(
    'Events',
    table(
      ['TYPE', 'REASON', 'AGE', 'COUNT', 'MESSAGE'],
      evs.map((e) => [e.type, e.reason, ageOf(doc, e.time), String(e.count ?? 1), e.message]),
    ),
  );
}

/** `3 (Complete)`, or which revision runs and which the manifest names when they differ. */
function revisionLine(doc: StatusDoc, name: string): string | undefined {
  const r = doc.rollouts?.[name];
  if (r === undefined) return undefined;
  const extra = [r.manifestRevision !== r.revision ? `manifest names revision ${r.manifestRevision}` : '', r.pinned !== undefined ? 'pinned by undo' : '', r.paused === true ? 'paused' : ''].filter(
    Boolean,
  );
  return `${r.revision} (${r.phase}${extra.length > 0 ? `; ${extra.join(', ')}` : ''}) — fogctl rollout history ${name}`;
}

/** The image as replicas run it: `name@sha256:…` once the revision is pinned (with the tag it came from). */
function imageLine(doc: StatusDoc, name: string, written: string | undefined): string | undefined {
  const running = doc.rollouts?.[name]?.image;
  if (running === undefined || running === written) return written;
  return written !== undefined && !written.includes('@') ? `${running} (tag ${written})` : running;
}

export function describeService(doc: StatusDoc, name: string): string | undefined {
  const s = doc.status.services.find((x) => x.name === name);
  const spec = doc.specs?.[name];
  if (!s && !spec) return undefined;
  let out = kv([
    ['Name', name],
    ['Source', spec?.source],
    ['Image', imageLine(doc, name, spec?.image)],
    ['Mode', spec?.mode],
    ['Replicas', s ? `${s.desired} desired | ${s.ready} ready | ${s.upToDate} up-to-date | ${s.available} available` : undefined],
    ['Status', s ? serviceState(s) : 'NotReconciled'],
    ['Spec hash', s?.specHash],
    ['Revision', revisionLine(doc, name)],
    ['Command', spec?.command?.join(' ')],
    ['Network', spec?.network],
    ['Ports', spec?.ports.join(', ')],
    [
      'Resources',
      spec
        ? [spec.resources.cpu && `cpu ${spec.resources.cpu}`, spec.resources.memory && `memory ${spec.resources.memory}`, spec.resources.disk && `disk ${spec.resources.disk}`]
            .filter(Boolean)
            .join(', ') || 'none reserved'
        : undefined,
    ],
    ['Devices', spec?.devices.join(', ')],
    ['Constraints', spec?.constraints.join(' && ')],
    ['Spread', spec?.spread],
    ['Depends on', spec?.dependsOn.join(', ')],
    ['Restart', spec?.restart],
    ['Update', spec?.update],
  ]);
  if (spec?.held) out += `Warning: this service's manifest is invalid now; its last good version stays in force (fogctl validate ${doc.desired.dir})\n`;
  const errs = doc.desired.errors.filter((e) => e.object === `Service/${name}`);
  if (errs.length > 0) out += section('Manifest errors', errs.map((e) => `${e.file}:${e.line}:${e.col}: ${e.message}`).join('\n'));
  if (spec && spec.env.length > 0) out += section('Environment', spec.env.join('\n'));
  if (s) {
    out += section(
      'Conditions',
      table(
        ['TYPE', 'STATUS', 'REASON', 'MESSAGE'],
        s.conditions.map((c) => [c.type, String(c.status), c.reason, c.message]),
      ),
    );
    out += section(
      'Replicas',
      s.replicas.length === 0
        ? '<none>'
        : table(
            ['SLOT', 'NODE', 'STATE', 'READY', 'RESTARTS', 'UP-TO-DATE', 'CONTAINER', 'MESSAGE'],
            s.replicas.map((r) => [String(r.slot), r.node || '<none>', r.state, String(r.ready), String(r.restarts), String(r.upToDate), r.containerName ?? '', r.message ?? '']),
          ),
    );
    const nodes = new Set(s.replicas.map((r) => r.node));
    const images = [spec?.image, ...s.conditions.flatMap((c) => (c.note.code === 'PullingImage' ? c.note.slots.map((w) => w.image) : []))];
    out += transfers(doc, (t) => images.includes(t.image) || nodes.has(t.node));
    if (s.unschedulable) {
      out += section('Unschedulable', `${s.unschedulable.message}\n${s.unschedulable.perNode.map((p) => `${p.node}: ${p.message}`).join('\n')}`);
    }
  }
  const fails = doc.failures.filter((f) => f.service === name);
  if (fails.length > 0) {
    const next = (f: (typeof fails)[number]): string => {
      const b = s?.backoffs?.find((x) => x.note.code === 'ActionBackOff' && x.note.slot === f.slot && x.note.action === f.type && x.note.node === f.node)?.note;
      if (b === undefined || b.code !== 'ActionBackOff') return 'due';
      return b.until === undefined ? 'after a spec change' : within(b.until, doc.clock.now);
    };
    out += section(
      'Failed actions',
      table(
        ['ACTION', 'SLOT', 'NODE', 'CODE', 'ATTEMPTS', 'LAST', 'NEXT TRY', 'MESSAGE'],
        fails.map((f) => [f.type, String(f.slot), f.node, f.code, String(f.attempts), `${ageOf(doc, f.time)} ago`, next(f), f.message]),
      ),
    );
  }
  return out + eventsFor(doc, `service/${name}`);
}

export function describeNode(doc: StatusDoc, name: string): string | undefined {
  const n = doc.status.nodes.find((x) => x.name === name);
  const spec = doc.nodeSpecs?.[name];
  if (!n && !spec) return undefined;
  let out = kv([
    ['Name', name],
    ['Source', spec?.source],
    ['Endpoint', spec?.endpoint],
    ['Address', spec?.address],
    ['Status', n ? nodeState(n) : 'NotObserved'],
    ['Reachable', n ? `${n.reachable} (since ${ageOf(doc, n.since)} ago)` : undefined],
    ['Last seen', n?.lastSeen === undefined ? 'never' : `${ageOf(doc, n.lastSeen)} ago`],
    ['Message', n?.message],
    ['Devices', n?.devices.join(', ') ?? spec?.devices.join(', ')],
  ]);
  if (n) {
    out += section(
      'Labels',
      Object.entries(n.labels)
        .map(([k, v]) => `${k}=${v}`)
        .sort()
        .join('\n') || '<none>',
    );
    out += section(
      'Capacity',
      table(
        ['RESOURCE', 'RESERVED', 'CAPACITY'],
        [
          ['cpu', formatCpu(n.reserved.cpu), formatCpu(n.capacity.cpu)],
          ['memory', formatMemory(n.reserved.memory), formatMemory(n.capacity.memory)],
          ...(n.reserved.disk !== undefined || n.capacity.disk !== undefined
            ? [['disk', formatMemory(n.reserved.disk ?? 0), n.capacity.disk === undefined ? 'unknown' : formatMemory(n.capacity.disk)]]
            : []),
        ],
      ),
    );
    out += section(
      'Data root',
      n.disk === undefined
        ? 'free space unknown (engine not on a unix socket of this host)'
        : `${formatMemory(n.disk.free)} of ${formatMemory(n.disk.total)} free${n.disk.pressure ? ' (DiskPressure: no new replicas)' : ''}`,
    );
    const here = doc.status.services.flatMap((s) => s.replicas.filter((r) => r.node === name).map((r) => [`${s.name}-${r.slot}`, r.state, String(r.ready), String(r.restarts)]));
    out += section('Replicas', here.length ? table(['NAME', 'STATE', 'READY', 'RESTARTS'], here) : '<none>');
    out += transfers(doc, (t) => t.node === name || t.from === name);
  }
  return out + eventsFor(doc, `node/${name}`);
}
