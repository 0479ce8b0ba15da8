// FogObject → YAML text that loads back to an equal object: every field
// written out in its long, explicit form (defaults included), so the text is
// also a readable "this is what the loader understood".

import { stringify } from 'yaml';
import { API_VERSION, type FogObject, type NodeSpec, type ServiceSpec } from '../api/types.js';

const ms = (n: number) => `${Math.round(n)}ms`;
const cpu = (m: number) => (Number.isInteger(m) ? `${m}m` : m / 1000);

function nodeSpec(s: NodeSpec): Record<string, unknown> {
  return {
    endpoint: s.endpoint,
    ...(s.tls ? { tls: { ...s.tls } } : {}),
    insecure: s.insecure,
    address: s.address,
    devices: [...s.devices],
    capacity: quantities(s.capacity),
    unschedulable: s.unschedulable,
  };
}

function quantities(q: { cpu?: number; memory?: number }): Record<string, unknown> {
  return { ...(q.cpu !== undefined ? { cpu: cpu(q.cpu) } : {}), ...(q.memory !== undefined ? { memory: q.memory } : {}) };
}

function serviceSpec(s: ServiceSpec): Record<string, unknown> {
  const { placement: p, healthcheck: h } = s;
  return {
    image: s.image,
    ...(s.command ? { command: [...s.command] } : {}),
    env: Object.fromEntries(s.env.map((e) => [e.name, e.secret ? { value: e.value, secret: true } : e.value])),
    ports: s.ports.map((port) => ({ ...port })),
    network: s.network,
    volumes: s.volumes.map((v) => ({ source: v.source, target: v.target, readOnly: v.readOnly })),
    mode: s.mode,
    ...(s.mode === 'replicated' ? { replicas: s.replicas } : {}),
    resources: quantities(s.resources),
    devices: [...s.devices],
    placement: {
      constraints: p.constraints.map((c) => c.text),
      ...(p.spread !== undefined ? { spread: p.spread } : {}),
      ...(p.maxPerNode !== undefined ? { maxPerNode: p.maxPerNode } : {}),
      affinity: [...p.affinity],
      antiAffinity: [...p.antiAffinity],
      onNodeReturn: p.onNodeReturn,
    },
    dependsOn: [...s.dependsOn],
    restart: { ...s.restart },
    update: { parallelism: s.update.parallelism, order: s.update.order, delay: ms(s.update.delay) },
    ...(h
      ? {
          healthcheck: {
            test: [...h.test],
            interval: ms(h.interval),
            timeout: ms(h.timeout),
            retries: h.retries,
            startPeriod: ms(h.startPeriod),
          },
        }
      : {}),
    stopGracePeriod: ms(s.stopGracePeriod * 1000),
  };
}

export function serializeObject(o: FogObject): string {
  const doc = {
    apiVersion: API_VERSION,
    kind: o.kind,
    metadata: { name: o.metadata.name, labels: { ...o.metadata.labels }, annotations: { ...o.metadata.annotations } },
    spec: o.kind === 'Node' ? nodeSpec(o.spec) : serviceSpec(o.spec),
  };
  return stringify(doc, { version: '1.2', aliasDuplicateObjects: false, lineWidth: 0 });
}
