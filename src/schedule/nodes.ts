// Build the scheduler's view of each node from its manifest and what its
// engine reports: facts for constraints, capacity, and what is reserved.

import type { DiskSpace, DiskThreshold, FogNode, ObservedContainer, ObservedNode, ReconcileSettings } from '../api/types.js';
import { isOurs, LABEL } from '../api/types.js';
import { effectiveAllow } from './security.js';
import type { NodeInfo } from './types.js';

/** Free space below every bound given (`percent` of the total, `bytes`): the smaller one counts, so neither a big disk nor a tiny one crosses it early. None given: never. */
export function belowThreshold(disk: DiskSpace, t: DiskThreshold): boolean {
  if (t.bytes === undefined && t.percent === undefined) return false;
  return (t.bytes === undefined || disk.free < t.bytes) && (t.percent === undefined || disk.free < (disk.total * t.percent) / 100);
}

/** Host ports a container binds, as `proto/port`. */
export function containerPortKeys(network: 'host' | 'none' | 'bridge', ports: readonly { container: number; host?: number; protocol: string }[]): string[] {
  if (network === 'none') return [];
  const out: string[] = [];
  for (const p of ports) {
    const port = network === 'host' ? p.container : p.host;
    if (port !== undefined) out.push(`${p.protocol}/${port}`);
  }
  return out;
}

/** Engine labels overridden by manifest labels; shares an object when one side is empty. */
function mergeLabels(engine: Readonly<Record<string, string>> | undefined, manifest: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  if (engine === undefined || Object.keys(engine).length === 0) return manifest;
  if (Object.keys(manifest).length === 0) return engine;
  return Object.assign({}, engine, manifest);
}

/**
 * Everything the class-scoped filters look at, except the name. Built in
 * insertion order without sorting: two nodes listing the same labels in a
 * different order land in different classes, which only costs a memo entry.
 */
function classKey(n: NodeInfo): string {
  let key = `${n.reachable ? 1 : 0}${n.cordoned ? 1 : 0}${n.diskPressure ? 1 : 0}\u0002${n.facts.arch}\u0002${n.facts.os}\u0002${n.capacity.cpu}\u0002${n.capacity.memory}\u0002`;
  const labels = n.facts.labels;
  for (const k in labels) key += `${k}=${labels[k]}\u0001`;
  key += '\u0002';
  for (const d of n.devices) key += `${d}\u0001`;
  return key;
}

interface Holdings {
  readonly cluster: string;
  readonly cpu: number;
  readonly memory: number;
  readonly disk: number;
  /** `proto/port` → containers binding it. */
  readonly hostPorts: ReadonlyMap<string, number>;
  /** Our service → replicas of it (not counting those being removed). */
  readonly services: ReadonlyMap<string, number>;
}

/**
 * What a node's containers hold, summed once per containers array: observed
 * values are immutable and the observer keeps a node's array when nothing on
 * it changed, so a pass after one change sums one node, not the fleet.
 */
const HOLDINGS = new WeakMap<readonly ObservedContainer[], Holdings>();

function holdings(containers: readonly ObservedContainer[], cluster: string): Holdings {
  const known = HOLDINGS.get(containers);
  if (known !== undefined && known.cluster === cluster) return known;
  let cpu = 0;
  let memory = 0;
  let disk = 0;
  const hostPorts = new Map<string, number>();
  const services = new Map<string, number>();
  for (const c of containers) {
    cpu += c.resources.cpu ?? 0;
    memory += c.resources.memory ?? 0;
    disk += c.resources.disk ?? 0;
    for (const p of c.hostPorts) hostPorts.set(p, (hostPorts.get(p) ?? 0) + 1);
    // Our replicas count for affinity, anti-affinity, spread and maxPerNode.
    if (c.state !== 'removing' && isOurs(c.labels, cluster)) {
      const svc = c.labels[LABEL.service]!;
      services.set(svc, (services.get(svc) ?? 0) + 1);
    }
  }
  const h: Holdings = { cluster, cpu, memory, disk, hostPorts, services };
  HOLDINGS.set(containers, h);
  return h;
}

/**
 * One NodeInfo per Node manifest, sorted by name. A manifest without an
 * observation is treated as lost (never seen: nothing to wait for).
 * Containers on lost nodes count for nothing: their replicas are re-placed.
 * Which container belongs to which replica is src/reconcile/pair.ts's job;
 * here every container only reserves what it holds.
 */
export function buildNodeInfos(manifests: readonly FogNode[], observed: readonly ObservedNode[], settings: ReconcileSettings, now: number): NodeInfo[] {
  const byName = new Map<string, ObservedNode>();
  for (const o of observed) byName.set(o.name, o);
  const out: NodeInfo[] = [];
  const infos = new Map<string, NodeInfo>();
  const policyAllow = settings.policy !== undefined ? effectiveAllow(undefined, settings.policy) : undefined;
  for (const m of manifests) {
    const o = byName.get(m.metadata.name);
    const facts = o?.facts;
    const reachable = o?.reachable === true;
    const lost = !reachable && (o === undefined || now - o.since > settings.nodeGracePeriod);
    const capacity: NodeInfo['capacity'] = {
      cpu: m.spec.capacity.cpu ?? facts?.cpu ?? 0,
      memory: m.spec.capacity.memory ?? facts?.memory ?? 0,
    };
    const diskCap = m.spec.capacity.disk ?? o?.disk?.total;
    if (diskCap !== undefined) capacity.disk = diskCap;
    const disk = reachable ? o?.disk : undefined;
    const info: NodeInfo = {
      name: m.metadata.name,
      address: m.spec.address,
      reachable,
      lost,
      since: o?.since ?? Number.NEGATIVE_INFINITY,
      lastSeen: o?.lastSeen,
      error: o === undefined ? 'never observed' : o.error,
      cordoned: m.spec.unschedulable,
      facts: {
        name: m.metadata.name,
        arch: facts?.arch ?? '',
        os: facts?.os ?? '',
        cpu: capacity.cpu,
        memory: capacity.memory,
        labels: mergeLabels(facts?.labels, m.metadata.labels),
      },
      devices: new Set(m.spec.devices),
      capacity,
      reserved: { cpu: 0, memory: 0 },
      diskPressure: disk !== undefined && settings.diskPressure !== undefined && belowThreshold(disk, settings.diskPressure),
      hostPorts: new Map(),
      services: new Map(),
      classId: 0,
      index: 0,
    };
    // Absent means nothing allowed: only compute the union where there is something to or.
    const allow = m.spec.allow !== undefined ? effectiveAllow(m.spec.allow, settings.policy) : policyAllow;
    if (allow !== undefined) info.allow = allow;
    if (disk !== undefined) info.disk = disk;
    out.push(info);
    infos.set(info.name, info);
  }
  const cluster = settings.cluster;
  for (const o of observed) {
    const info = infos.get(o.name);
    if (info === undefined || info.lost) continue;
    const held = holdings(o.containers, cluster);
    info.reserved.cpu = held.cpu;
    info.reserved.memory = held.memory;
    if (held.disk > 0) info.reserved.disk = held.disk;
    info.hostPorts = new Map(held.hostPorts);
    info.services = new Map(held.services);
  }
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const classes = new Map<string, number>();
  for (let i = 0; i < out.length; i++) {
    const n = out[i]!;
    n.index = i;
    const key = classKey(n);
    let id = classes.get(key);
    if (id === undefined) classes.set(key, (id = classes.size));
    n.classId = id;
  }
  return out;
}
