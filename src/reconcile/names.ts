// Deterministic names and labels: a create is idempotent (same slot, same
// spec → same name), and two versions of one slot can coexist (start-first).

import type { ContainerSpec, Service } from '../api/types.js';
import type { ContainerShape } from './hash.js';
import { LABEL } from '../api/types.js';

/**
 * `${cluster}_${service}-${slot}-${hash8}`, squeezed into Docker's name charset
 * `[a-zA-Z0-9][a-zA-Z0-9_.-]*`. The `_` cannot occur in a cluster or service
 * name, so cluster `x` + service `y-svc` never collides with `x-y` + `svc`.
 */
export function containerName(cluster: string, service: string, slot: number, hash: string): string {
  const raw = `${cluster}_${service}-${slot}-${hash.slice(0, 8)}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
  return /^[a-zA-Z0-9]/.test(raw) ? raw : `x${raw}`;
}

/** `mqtt-broker` → `MQTT_BROKER`: the prefix of the dependency's HOST/PORT variables. */
export function envPrefix(service: string): string {
  const p = service.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return /^[0-9]/.test(p) ? `_${p}` : p;
}

export function containerLabels(cluster: string, service: Service, slot: number, hash: string, node: string): Record<string, string> {
  const labels: Record<string, string> = {
    [LABEL.cluster]: cluster,
    [LABEL.service]: service.metadata.name,
    [LABEL.slot]: String(slot),
    [LABEL.hash]: hash,
    [LABEL.node]: node,
  };
  const r = service.spec.resources;
  if (r.cpu !== undefined) labels[LABEL.cpu] = String(r.cpu);
  if (r.memory !== undefined) labels[LABEL.memory] = String(r.memory);
  if (r.disk !== undefined) labels[LABEL.disk] = String(r.disk);
  return labels;
}

/** The full create spec: the service's container shape plus the replica's name and labels. */
export function containerSpec(cluster: string, service: Service, slot: number, hash: string, node: string, shape: ContainerShape): ContainerSpec {
  return { name: containerName(cluster, service.metadata.name, slot, hash), labels: containerLabels(cluster, service, slot, hash, node), ...shape };
}
