// Engine answers → observed state, with no I/O. Engine timestamps are on the
// engine's wall clock (which may be off by an hour); they are carried over to
// the controller's monotonic clock through their age on the engine's clock.

import { createHash } from 'node:crypto';
import { LABEL, type ContainerState, type EngineFacts, type ObservedContainer, type ObservedImage } from '../api/types.js';
import type { EngineContainer, EngineContainerSummary, EngineImage, EngineInfo } from '../docker/engine.js';
import { parseEngineTime } from '../docker/time.js';

export { parseEngineTime };

const GOARCH: Readonly<Record<string, string>> = {
  x86_64: 'amd64',
  amd64: 'amd64',
  aarch64: 'arm64',
  arm64: 'arm64',
  armv7l: 'arm',
  armv6l: 'arm',
  armhf: 'arm',
  i386: '386',
  i686: '386',
  ppc64le: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

/** Docker reports `uname -m`; constraints are written with GOARCH names. */
export function normaliseArch(machine: string): string {
  return GOARCH[machine] ?? machine;
}

/** Maps engine wall-clock times onto the controller's monotonic clock. */
export interface TimeBase {
  /** The engine's own clock at the moment of observation (from /info). */
  engineNow: number;
  /** The controller's monotonic clock at the same moment. */
  now: number;
}

export function toControllerTime(text: string | undefined, base: TimeBase): number | undefined {
  const t = parseEngineTime(text);
  return t === undefined ? undefined : base.now - (base.engineNow - t);
}

export function toFacts(info: EngineInfo): EngineFacts {
  const labels: Record<string, string> = {};
  for (const kv of info.Labels ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) labels[kv.slice(0, eq)] = kv.slice(eq + 1);
    else if (kv) labels[kv] = '';
  }
  return {
    engineName: info.Name,
    arch: normaliseArch(info.Architecture),
    os: info.OSType,
    cpu: info.NCPU * 1000,
    memory: info.MemTotal,
    labels,
    ...(info.ServerVersion ? { version: info.ServerVersion } : {}),
  };
}

/** The engine's image list, sorted by id; `previous` when nothing changed (the reconcile and the controller compare by identity). */
export function toImages(images: readonly EngineImage[], previous?: readonly ObservedImage[]): readonly ObservedImage[] {
  const clean = (l: readonly string[] | null | undefined) => (l ?? []).filter((t) => !t.startsWith('<none>')).sort();
  const out = images
    .map((i): ObservedImage => ({ id: i.Id, repoTags: clean(i.RepoTags), repoDigests: clean(i.RepoDigests), size: i.Size ?? 0 }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (previous !== undefined && JSON.stringify(previous) === JSON.stringify(out)) return previous;
  return out;
}

/** Made by a fog controller, of any cluster (inspected in full; whether it is ours is `isOurs`, in the reconcile). */
export function madeByFog(labels: Readonly<Record<string, string>> | null | undefined): boolean {
  return labels != null && LABEL.service in labels;
}

const STATES: ReadonlySet<string> = new Set<ContainerState>(['created', 'running', 'restarting', 'exited', 'dead', 'paused', 'removing']);

function toState(s: string | undefined): ContainerState {
  return s !== undefined && STATES.has(s) ? (s as ContainerState) : 'dead';
}

function containerName(summary: EngineContainerSummary): string {
  return (summary.Names?.[0] ?? summary.Id.slice(0, 12)).replace(/^\//, '');
}

function intLabel(labels: Readonly<Record<string, string>>, key: string): number | undefined {
  const v = labels[key];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** The durations in a list entry's Status text: `3 seconds`, `About a minute`, `Less than a second`, with ` ago`. */
const DURATION = /\b(?:Less than a second|About an? \w+|\d+ \w+)(?: ago)?/g;

/**
 * What the container list says about a container's state, minus the clock:
 * `running|Up (healthy)`, `exited|Exited (137)`. A change means the container
 * must be inspected again; the same text does not prove nothing happened (a
 * restart between two lists reads `Up …` both times).
 */
export function listKey(s: EngineContainerSummary): string {
  return `${s.State ?? ''}|${(s.Status ?? '').replace(DURATION, '').trim()}`;
}

/**
 * A digest of a container list's JSON without its durations: equal digests
 * mean the list shows nothing new (same containers, states, names, health).
 */
export function listPrint(text: string): string {
  return createHash('sha1').update(text.replace(DURATION, '')).digest('base64');
}

/** What a container reserves and binds: read once per container, it does not change while it lives. */
export interface ContainerFootprint {
  resources: { cpu?: number; memory?: number; disk?: number };
  hostPorts: readonly string[];
}

export function toFootprint(c: EngineContainer): ContainerFootprint {
  const labels = c.Config.Labels ?? {};
  const cpu = intLabel(labels, LABEL.cpu) ?? (c.HostConfig.NanoCpus ? Math.round(c.HostConfig.NanoCpus / 1e6) : undefined);
  const memory = intLabel(labels, LABEL.memory) ?? (c.HostConfig.Memory ? c.HostConfig.Memory : undefined);
  const disk = intLabel(labels, LABEL.disk);
  return {
    resources: { ...(cpu !== undefined ? { cpu } : {}), ...(memory !== undefined ? { memory } : {}), ...(disk !== undefined ? { disk } : {}) },
    hostPorts: hostPorts(c),
  };
}

/** `proto/port` on the host: the ports label first, else what the engine binds (host network: the exposed ports). */
export function hostPorts(c: EngineContainer): string[] {
  const label = c.Config.Labels?.[LABEL.ports];
  const ports = new Set<string>();
  const add = (key: string, hostPort: string | undefined) => {
    const [port, proto = 'tcp'] = key.split('/');
    const p = hostPort || port;
    if (p) ports.add(`${proto}/${p}`);
  };
  if (label !== undefined) {
    for (const p of label.split(',')) if (p.trim()) ports.add(p.trim());
  } else if (c.HostConfig.NetworkMode === 'host') {
    for (const key of Object.keys(c.Config.ExposedPorts ?? {})) add(key, undefined);
  } else {
    for (const [key, binds] of Object.entries(c.HostConfig.PortBindings ?? {})) {
      for (const b of binds ?? []) if (b.HostPort) add(key, b.HostPort);
    }
  }
  return [...ports].sort();
}

/** A managed container, from its inspect answer. */
export function toManagedContainer(c: EngineContainer, base: TimeBase): ObservedContainer {
  const state = toState(c.State.Status);
  const health = c.State.Health?.Status;
  const startedAt = toControllerTime(c.State.StartedAt, base);
  const finishedAt = toControllerTime(c.State.FinishedAt, base);
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    labels: c.Config.Labels ?? {},
    image: c.Config.Image,
    state,
    ...(state === 'exited' || state === 'dead' ? { exitCode: c.State.ExitCode } : {}),
    health: health === 'starting' || health === 'healthy' || health === 'unhealthy' ? health : 'none',
    restartCount: c.RestartCount,
    ...(startedAt !== undefined ? { startedAt } : {}),
    ...(finishedAt !== undefined ? { finishedAt } : {}),
    ...toFootprint(c),
  };
}

/** A foreign container: the list entry plus its footprint (cached by the caller). */
export function toForeignContainer(s: EngineContainerSummary, footprint: ContainerFootprint): ObservedContainer {
  return {
    id: s.Id,
    name: containerName(s),
    labels: s.Labels ?? {},
    image: s.Image,
    state: toState(s.State),
    health: 'none',
    restartCount: 0,
    ...footprint,
  };
}
