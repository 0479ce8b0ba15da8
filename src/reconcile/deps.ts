// dependsOn: processing order, cycles, and the endpoints handed to dependents.

import type { Note } from '../api/notes.js';
import type { EnvVar, Service } from '../api/types.js';
import { isReady } from './context.js';
import { envPrefix } from './names.js';
import { compareReplicas, type Replica } from './pair.js';

/**
 * The order services are planned in: what a service depends on or has
 * affinity to comes first (so this pass's placements of it count), global
 * services before replicated ones, then by name. Cycles are cut deterministically.
 */
export function planningOrder(services: ReadonlyMap<string, Service>): Service[] {
  const roots = [...services.values()].sort(
    (a, b) =>
      (a.spec.mode === 'global' ? 0 : 1) - (b.spec.mode === 'global' ? 0 : 1) ||
      (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0),
  );
  const seen = new Set<string>();
  const out: Service[] = [];
  const visit = (s: Service): void => {
    if (seen.has(s.metadata.name)) return;
    seen.add(s.metadata.name);
    const before = [...new Set([...s.spec.dependsOn, ...s.spec.placement.affinity])].sort();
    for (const d of before) {
      const ds = services.get(d);
      if (ds !== undefined) visit(ds);
    }
    out.push(s);
  };
  for (const s of roots) visit(s);
  return out;
}

export interface Endpoint {
  address: string;
  port?: number;
}

/** The port others use: the first port's host port, or its container port (host network, or bridge without a mapping). */
export function servicePort(s: Service): number | undefined {
  const p = s.spec.ports[0];
  if (p === undefined) return undefined;
  return p.host ?? p.container;
}

/** `MQTT_BROKER_HOST` / `MQTT_BROKER_PORT` for each dependency, in dependsOn order. */
export function endpointEnv(deps: readonly { service: string; endpoint: Endpoint }[]): EnvVar[] {
  const env: EnvVar[] = [];
  for (const { service, endpoint } of deps) {
    const p = envPrefix(service);
    env.push({ name: `${p}_HOST`, value: endpoint.address, secret: false });
    if (endpoint.port !== undefined) env.push({ name: `${p}_PORT`, value: String(endpoint.port), secret: false });
  }
  return env;
}

export interface Dependencies {
  /** `<DEP>_HOST` / `<DEP>_PORT` of every resolved dependency. */
  readonly env: readonly EnvVar[];
  /** Set when a dependency has no ready replica, or the service is in a cycle: nothing new is created. */
  readonly blocked?: Note;
}

/**
 * The endpoint of each service this one depends on: its lowest-slot ready
 * replica (then node name, container name). Within the grace period a replica
 * on an unreachable node still counts with its last known state, so a blip
 * does not re-point dependents.
 */
export function resolveDependencies(
  svc: Service,
  services: ReadonlyMap<string, Service>,
  replicas: ReadonlyMap<string, readonly Replica[]>,
  cycle: readonly string[] | undefined,
): Dependencies {
  if (cycle !== undefined) return { env: [], blocked: { code: 'DependencyCycle', cycle } };
  const waiting: { service: string; defined: boolean }[] = [];
  const resolved: { service: string; endpoint: Endpoint }[] = [];
  for (const dep of svc.spec.dependsOn) {
    const ds = services.get(dep);
    if (ds === undefined) {
      waiting.push({ service: dep, defined: false });
      continue;
    }
    const maxSlot = ds.spec.mode === 'global' ? Number.POSITIVE_INFINITY : ds.spec.replicas;
    let r: Replica | undefined;
    for (const x of replicas.get(dep) ?? []) {
      if (x.where === 'lost' || !(x.slot < maxSlot) || !isReady(x.c, ds)) continue;
      if (r === undefined || compareReplicas(x, r) < 0) r = x;
    }
    if (r === undefined || r.node === undefined) {
      waiting.push({ service: dep, defined: true });
      continue;
    }
    const endpoint: Endpoint = { address: r.node.address };
    const port = servicePort(ds);
    if (port !== undefined) endpoint.port = port;
    resolved.push({ service: dep, endpoint });
  }
  const env = endpointEnv(resolved);
  return waiting.length > 0 ? { env, blocked: { code: 'DependencyWait', waiting } } : { env };
}
