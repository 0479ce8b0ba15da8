// One schema-checked document → one typed FogObject with every default
// applied, or located errors. Quantities, durations and constraints are
// parsed here with the shared parsers in src/api.

import { parseConstraint } from '../api/constraint.js';
import { parseCpu, parseDisk, parseDuration, parseMemory, type Parsed } from '../api/quantity.js';
import { SECRET_NAME_PATTERN } from '../api/redact.js';
import { parseWindow, type MaintenanceWindow } from '../api/window.js';
import { capabilitySet, parseCapability } from './capabilities.js';
import type {
  Constraint,
  EnvVar,
  FogNode,
  FogObject,
  Healthcheck,
  LoadError,
  NodeAllow,
  NodeSpec,
  PortMapping,
  RestartPolicy,
  Service,
  ServiceSecurity,
  ServiceSpec,
  VolumeMount,
} from '../api/types.js';
import { loadError, show, showPath, type ErrorCode } from './errors.js';
import type { Path, SourceDoc } from './parse.js';
import { KINDS, type Kind } from './schema.js';
import { validateStructure } from './validate.js';

/** Every default the loader applies, in one place (docs/manifest.md repeats them). */
export const DEFAULTS = {
  network: 'bridge',
  mode: 'replicated',
  replicas: 1,
  protocol: 'tcp',
  onNodeReturn: 'keep-replacement',
  restartPolicy: 'always',
  maxRetries: 5,
  updateParallelism: 1,
  updateOrder: 'stop-first',
  updateDelayMs: 0,
  updateMonitorMs: 10_000,
  updateProgressDeadlineMs: 600_000,
  healthInterval: 10_000,
  healthTimeout: 5_000,
  healthRetries: 3,
  healthStartPeriod: 0,
  stopGracePeriodSeconds: 10,
  unixAddress: '127.0.0.1',
} as const;

/** Env names matching this are secret whatever the manifest says (one pattern, shared with redaction). */
export const SECRET_NAME = SECRET_NAME_PATTERN;
/** Docker's rule for named volumes. */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** `.` or `..` segments, or `//`: a host path that a prefix check could be fooled by. */
const UNNORMALISED_PATH = /(^|\/)\.\.?(\/|$)|\/\//;

type Raw = Record<string, unknown>;

/** Errors are collected per object; a document with any of them yields no object. */
class Ctx {
  readonly errors: LoadError[] = [];
  constructor(
    readonly doc: SourceDoc,
    readonly object: string | undefined,
  ) {}
  fail(path: Path, message: string, code: ErrorCode = 'invalid-value', key = false): void {
    this.errors.push(loadError(this.doc.pos(path, key), code, message, this.object));
  }
  /** A quantity or duration: the parser's error, located at the value. */
  parsed<T>(path: Path, value: unknown, parse: (v: unknown) => Parsed<T>): T | undefined {
    if (value === undefined) return undefined;
    const r = parse(value);
    if (r.ok) return r.value;
    this.fail(path, `${showPath(path)} ${r.error}`);
    return undefined;
  }
}

export interface Normalised {
  object?: FogObject;
  errors: LoadError[];
}

export function normaliseDocument(doc: SourceDoc): Normalised {
  const raw = doc.value as Raw;
  const name = typeof raw.metadata === 'object' && raw.metadata !== null ? (raw.metadata as Raw).name : undefined;
  const kind = raw.kind;
  const ctx = new Ctx(doc, typeof kind === 'string' && typeof name === 'string' ? `${kind}/${name}` : undefined);
  if (!KINDS.includes(kind as Kind)) {
    const message = kind === undefined ? `missing required field "kind" in the manifest: must be one of ${KINDS.join(', ')}` : `kind must be one of ${KINDS.join(', ')}, got ${show(kind)}`;
    ctx.fail(['kind'], message, 'schema');
    return { errors: ctx.errors };
  }
  for (const issue of validateStructure(kind as Kind, raw)) ctx.fail(issue.path, issue.message, 'schema', issue.key);
  if (ctx.errors.length > 0) return { errors: ctx.errors };

  const meta = raw.metadata as Raw;
  const metadata = {
    name: meta.name as string,
    labels: { ...((meta.labels as Record<string, string>) ?? {}) },
    annotations: { ...((meta.annotations as Record<string, string>) ?? {}) },
  };
  const spec = raw.spec as Raw;
  const object: FogObject =
    kind === 'Node'
      ? ({ kind, metadata, spec: nodeSpec(ctx, spec), source: doc.start } satisfies FogNode)
      : ({ kind: 'Service', metadata, spec: serviceSpec(ctx, spec), source: doc.start } satisfies Service);
  return ctx.errors.length > 0 ? { errors: ctx.errors } : { object, errors: [] };
}

function nodeSpec(ctx: Ctx, s: Raw): NodeSpec {
  const endpoint = s.endpoint as string;
  const tcp = endpoint.startsWith('tcp://');
  const insecure = s.insecure === true;
  let host = DEFAULTS.unixAddress as string;
  if (tcp) {
    const hostPort = endpoint.slice('tcp://'.length);
    const colon = hostPort.lastIndexOf(':');
    host = hostPort.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    const port = Number(hostPort.slice(colon + 1));
    if (port < 1 || port > 65535) ctx.fail(['spec', 'endpoint'], `spec.endpoint has port ${port}: must be 1-65535`);
  }
  let tls: NodeSpec['tls'];
  if (s.tls !== undefined) {
    const given = s.tls as Partial<Record<'ca' | 'cert' | 'key', string>>;
    const missing = (['ca', 'cert', 'key'] as const).filter((k) => given[k] === undefined);
    if (missing.length > 0) {
      ctx.fail(['spec', 'tls'], `spec.tls must name all of ca, cert and key; missing ${missing.join(', ')}`);
    } else if (!tcp) {
      ctx.fail(['spec', 'tls'], 'spec.tls is only for tcp:// endpoints; a unix:// socket needs none');
    } else {
      tls = { ca: given.ca!, cert: given.cert!, key: given.key! };
    }
  } else if (tcp && !insecure) {
    ctx.fail(['spec', 'endpoint'], 'spec.endpoint is tcp:// without spec.tls: give tls {ca, cert, key}, or write insecure: true to allow an unencrypted, unauthenticated engine');
  }
  const capacity = (s.capacity as Raw | undefined) ?? {};
  const spec: NodeSpec = {
    endpoint,
    insecure,
    address: (s.address as string | undefined) ?? host,
    devices: [...((s.devices as string[] | undefined) ?? [])],
    capacity: definedOnly({
      cpu: ctx.parsed(['spec', 'capacity', 'cpu'], capacity.cpu, parseCpu),
      memory: ctx.parsed(['spec', 'capacity', 'memory'], capacity.memory, parseMemory),
      disk: ctx.parsed(['spec', 'capacity', 'disk'], capacity.disk, parseDisk),
    }),
    unschedulable: s.unschedulable === true,
  };
  if (tls) spec.tls = tls;
  if (s.allow !== undefined) spec.allow = nodeAllow(ctx, s.allow as Raw);
  const images = s.images as Raw | undefined;
  if (images?.pull !== undefined) spec.images = { pull: images.pull as 'if-not-present' | 'never' };
  return spec;
}

function flags(o: Raw): { privileged: boolean; hostPID: boolean; hostIPC: boolean } {
  return { privileged: o.privileged === true, hostPID: o.hostPID === true, hostIPC: o.hostIPC === true };
}

function capabilities(ctx: Ctx, path: Path, names: unknown): string[] {
  const out: string[] = [];
  ((names as string[] | undefined) ?? []).forEach((name, i) => {
    const r = parseCapability(name);
    if (r.ok) out.push(r.value);
    else ctx.fail([...path, i], `${showPath([...path, i])}: ${r.error}`);
  });
  return capabilitySet(out);
}

function nodeAllow(ctx: Ctx, a: Raw): NodeAllow {
  const hostPaths = ((a.hostPaths as string[] | undefined) ?? []).flatMap((p, i) => {
    if (!UNNORMALISED_PATH.test(p)) return [p.length > 1 ? p.replace(/\/+$/, '') : p];
    ctx.fail(['spec', 'allow', 'hostPaths', i], `spec.allow.hostPaths[${i}] is ${show(p)}: write it without . or .. segments and //`);
    return [];
  });
  return { ...flags(a), capabilities: capabilities(ctx, ['spec', 'allow', 'capabilities'], a.capabilities), hostPaths: [...new Set(hostPaths)].sort() };
}

function serviceSecurity(ctx: Ctx, sec: Raw): ServiceSecurity {
  return { ...flags(sec), capAdd: capabilities(ctx, ['spec', 'security', 'capAdd'], sec.capAdd) };
}

function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function serviceSpec(ctx: Ctx, s: Raw): ServiceSpec {
  const network = (s.network as ServiceSpec['network'] | undefined) ?? DEFAULTS.network;
  const mode = (s.mode as ServiceSpec['mode'] | undefined) ?? DEFAULTS.mode;
  if (mode === 'global' && s.replicas !== undefined) {
    ctx.fail(['spec', 'replicas'], 'spec.replicas is not allowed with mode: global (a global service runs one replica on every eligible node)');
  }
  const resources = (s.resources as Raw | undefined) ?? {};
  const placement = (s.placement as Raw | undefined) ?? {};
  const update = (s.update as Raw | undefined) ?? {};
  const spec: ServiceSpec = {
    image: s.image as string,
    env: envVars(ctx, (s.env as Raw | undefined) ?? {}),
    ports: ports(ctx, (s.ports as unknown[] | undefined) ?? [], network),
    network,
    volumes: volumes(ctx, (s.volumes as unknown[] | undefined) ?? []),
    mode,
    replicas: (s.replicas as number | undefined) ?? DEFAULTS.replicas,
    resources: definedOnly({
      cpu: ctx.parsed(['spec', 'resources', 'cpu'], resources.cpu, parseCpu),
      memory: ctx.parsed(['spec', 'resources', 'memory'], resources.memory, parseMemory),
      disk: ctx.parsed(['spec', 'resources', 'disk'], resources.disk, parseDisk),
    }),
    devices: [...((s.devices as string[] | undefined) ?? [])],
    placement: {
      constraints: constraints(ctx, (placement.constraints as string[] | undefined) ?? []),
      affinity: [...((placement.affinity as string[] | undefined) ?? [])],
      antiAffinity: [...((placement.antiAffinity as string[] | undefined) ?? [])],
      onNodeReturn: (placement.onNodeReturn as ServiceSpec['placement']['onNodeReturn'] | undefined) ?? DEFAULTS.onNodeReturn,
    },
    dependsOn: [...((s.dependsOn as string[] | undefined) ?? [])],
    restart: restart(s.restart),
    update: {
      parallelism: (update.parallelism as number | undefined) ?? DEFAULTS.updateParallelism,
      order: (update.order as ServiceSpec['update']['order'] | undefined) ?? DEFAULTS.updateOrder,
      delay: ctx.parsed(['spec', 'update', 'delay'], update.delay, parseDuration) ?? DEFAULTS.updateDelayMs,
      monitor: ctx.parsed(['spec', 'update', 'monitor'], update.monitor, parseDuration) ?? DEFAULTS.updateMonitorMs,
      maxFailureRatio: (update.maxFailureRatio as number | undefined) ?? 0,
      failureAction: (update.failureAction as ServiceSpec['update']['failureAction'] | undefined) ?? 'rollback',
      progressDeadline: ctx.parsed(['spec', 'update', 'progressDeadline'], update.progressDeadline, parseDuration) ?? DEFAULTS.updateProgressDeadlineMs,
      windows: windows(ctx, (update.windows as string[] | undefined) ?? []),
      canary: (update.canary as number | undefined) ?? 0,
      autoPromote: (update.autoPromote as boolean | undefined) ?? true,
    },
    stopGracePeriod: ctx.parsed(['spec', 'stopGracePeriod'], s.stopGracePeriod, parseDuration) !== undefined ? parseSeconds(s.stopGracePeriod) : DEFAULTS.stopGracePeriodSeconds,
  };
  if (placement.spread !== undefined) spec.placement = { ...spec.placement, spread: placement.spread as string };
  if (placement.maxPerNode !== undefined) spec.placement = { ...spec.placement, maxPerNode: placement.maxPerNode as number };
  if (s.command !== undefined) spec.command = typeof s.command === 'string' ? ['/bin/sh', '-c', s.command] : [...(s.command as string[])];
  if (s.healthcheck !== undefined) spec.healthcheck = healthcheck(ctx, s.healthcheck as Raw);
  if (s.security !== undefined) spec.security = serviceSecurity(ctx, s.security as Raw);
  return spec;
}

/** Maintenance windows, each parsed (api/window.ts); a bad one is a located error. */
function windows(ctx: Ctx, list: readonly string[]): MaintenanceWindow[] {
  const out: MaintenanceWindow[] = [];
  list.forEach((text, i) => {
    const path = ['spec', 'update', 'windows', i];
    const r = parseWindow(text);
    if (r.ok) out.push(r.window);
    else ctx.errors.push(loadError(ctx.doc.posIn(path, r.column ?? 0), 'invalid-value', `${showPath(path)} "${text}" is not a maintenance window: ${r.message}`, ctx.object));
  });
  return out;
}

function parseSeconds(v: unknown): number {
  const r = parseDuration(v);
  return r.ok ? r.value / 1000 : DEFAULTS.stopGracePeriodSeconds;
}

function envVars(ctx: Ctx, env: Raw): EnvVar[] {
  return Object.entries(env).map(([name, v]) => {
    const long = typeof v === 'object' && v !== null;
    const value = long ? (v as Raw).value : v;
    const path = long ? ['spec', 'env', name, 'value'] : ['spec', 'env', name];
    // A number keeps its text as written: VERSION: 1.10 is "1.10", not "1.1".
    const text = typeof value === 'string' ? value : (ctx.doc.rawText(path) ?? String(value));
    return { name, value: text, secret: (long && (v as Raw).secret === true) || SECRET_NAME.test(name) };
  });
}

function ports(ctx: Ctx, items: unknown[], network: ServiceSpec['network']): PortMapping[] {
  const out: PortMapping[] = [];
  const used = new Map<string, number>();
  items.forEach((item, i) => {
    const path = ['spec', 'ports', i];
    let p: PortMapping;
    if (typeof item === 'number') p = { container: item, protocol: 'tcp' };
    else if (typeof item === 'string') {
      const m = /^([0-9]+)(?::([0-9]+))?(?:\/(tcp|udp))?$/.exec(item)!;
      const [first, second] = [Number(m[1]), m[2] === undefined ? undefined : Number(m[2])];
      p = second === undefined ? { container: first, protocol: 'tcp' } : { container: second, host: first, protocol: 'tcp' };
      if (m[3] === 'udp') p.protocol = 'udp';
      const bad = [first, second].find((n) => n !== undefined && (n < 1 || n > 65535));
      if (bad !== undefined) return ctx.fail(path, `${showPath(path)} has port ${bad}: ports must be 1-65535`);
    } else {
      const o = item as Raw;
      p = { container: o.container as number, protocol: (o.protocol as PortMapping['protocol'] | undefined) ?? DEFAULTS.protocol };
      if (o.host !== undefined) p.host = o.host as number;
    }
    if (network === 'host' && p.host !== undefined && p.host !== p.container) {
      return ctx.fail(path, `${showPath(path)} maps host port ${p.host} to ${p.container}, but with network: host the container port is the host port`);
    }
    const host = p.host ?? (network === 'host' ? p.container : undefined);
    if (host !== undefined) {
      const id = `${host}/${p.protocol}`;
      const first = used.get(id);
      if (first !== undefined) {
        return ctx.fail(path, `${showPath(path)}: host port ${id} is already used by spec.ports[${first}]`, 'duplicate-port');
      }
      used.set(id, i);
    }
    out.push(p);
  });
  return out;
}

function volumes(ctx: Ctx, items: unknown[]): VolumeMount[] {
  const out: VolumeMount[] = [];
  items.forEach((item, i) => {
    let source: string;
    let target: string;
    let readOnly: boolean;
    if (typeof item === 'string') {
      const parts = item.split(':');
      [source, target, readOnly] = [parts[0]!, parts[1]!, parts[2] === 'ro'];
    } else {
      const o = item as Raw;
      [source, target, readOnly] = [o.source as string, o.target as string, o.readOnly === true];
    }
    const bind = source.startsWith('/');
    const path = typeof item === 'string' ? ['spec', 'volumes', i] : ['spec', 'volumes', i, 'source'];
    if (bind && UNNORMALISED_PATH.test(source)) {
      return ctx.fail(path, `${showPath(path)} has source ${show(source)}: write the host path without . or .. segments and // (it is checked against the node's allowed host paths)`);
    }
    if (!bind && !VOLUME_NAME.test(source)) {
      return ctx.fail(path, `${showPath(path)} has source ${show(source)}: must be an absolute host path (/data) or a volume name (letters, digits, _ . -)`);
    }
    out.push({ source, target, readOnly, type: bind ? 'bind' : 'volume' });
  });
  return out;
}

function constraints(ctx: Ctx, texts: string[]): Constraint[] {
  const out: Constraint[] = [];
  texts.forEach((text, i) => {
    const path = ['spec', 'placement', 'constraints', i];
    const r = parseConstraint(text);
    if (r.ok) out.push(r.constraint);
    else {
      ctx.errors.push(loadError(ctx.doc.posIn(path, r.offset), 'invalid-value', `${showPath(path)} is not a valid constraint: ${r.error}`, ctx.object));
    }
  });
  return out;
}

function restart(v: unknown): RestartPolicy {
  if (v === undefined) return { policy: DEFAULTS.restartPolicy, maxRetries: DEFAULTS.maxRetries };
  if (typeof v === 'string') return { policy: v as RestartPolicy['policy'], maxRetries: DEFAULTS.maxRetries };
  const o = v as Raw;
  return { policy: o.policy as RestartPolicy['policy'], maxRetries: (o.maxRetries as number | undefined) ?? DEFAULTS.maxRetries };
}

function healthcheck(ctx: Ctx, h: Raw): Healthcheck {
  const at = (field: string) => ['spec', 'healthcheck', field];
  return {
    test: typeof h.test === 'string' ? ['CMD-SHELL', h.test] : [...(h.test as string[])],
    interval: ctx.parsed(at('interval'), h.interval, parseDuration) ?? DEFAULTS.healthInterval,
    timeout: ctx.parsed(at('timeout'), h.timeout, parseDuration) ?? DEFAULTS.healthTimeout,
    retries: (h.retries as number | undefined) ?? DEFAULTS.healthRetries,
    startPeriod: ctx.parsed(at('startPeriod'), h.startPeriod, parseDuration) ?? DEFAULTS.healthStartPeriod,
  };
}
