// dependsOn: processing order, cycles, and the endpoints handed to dependents.

import type { Note } from '../api/notes.js';
import type { EnvVar, Service } from '../api/types.js';
import { isReady } from './context.js';
import { envPrefix } from './names.js';
import { compareReplicas, type Replica } from './pair.js';
import { rankKeepers } from './slots.js';

/**
 * The order services are planned in: what a service depends on or has
 * affinity to comes first (so this pass's placements of it count), global
 * services before replicated ones, then by name. Cycles are cut deterministically.
 */
export function planningOrder(services: ReadonlyMap<string, Service>): Service[] {
  const roots = [...services.values()].sort(
    (a, b) => (a.spec.mode === 'global' ? 0 : 1) - (b.spec.mode === 'global' ? 0 : 1) || (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0),
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

/**
 * The port others use: the first port's host port; with host networking its
 * container port (which is the node's). None when nothing is published at a
 * known port: network none, or a bridge port Docker would publish at random.
 */
export function servicePort(s: Service): number | undefined {
  const p = s.spec.ports[0];
  if (p === undefined || s.spec.network === 'none') return undefined;
  return s.spec.network === 'host' ? p.container : p.host;
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
 * replica; when that slot has two copies (a lost node came back), the one the
 * slot will keep (onNodeReturn), so dependents are not pointed at a copy about
 * to be removed. Within the grace period a replica on an unreachable node
 * still counts with its last known state, so a blip does not re-point dependents.
 */
export function resolveDependencies(svc: Service, services: ReadonlyMap<string, Service>, replicas: ReadonlyMap<string, readonly Replica[]>, cycle: readonly string[] | undefined): Dependencies {
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
    let lowest: Replica[] = [];
    for (const x of replicas.get(dep) ?? []) {
      if (x.where === 'lost' || !(x.slot < maxSlot) || !isReady(x.c, ds)) continue;
      if (lowest.length === 0 || x.slot < lowest[0]!.slot) lowest = [x];
      else if (x.slot === lowest[0]!.slot) lowest.push(x);
    }
    // A global service's replicas are all slot 0, one per node: the first node by name, not a keeper among copies.
    lowest.sort(compareReplicas);
    const r = lowest.length <= 1 || ds.spec.mode === 'global' ? lowest[0] : rankKeepers(lowest, ds.spec.placement.onNodeReturn, () => true)[0];
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
