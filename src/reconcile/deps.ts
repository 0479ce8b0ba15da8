// dependsOn: processing order, cycles, and the endpoints handed to dependents.

import type { EnvVar, Service } from '../api/types.js';
import { envPrefix } from './names.js';

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
