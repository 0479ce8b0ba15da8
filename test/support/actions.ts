// Plan data for executor and observer tests: actions as the reconciler would
// write them, with our ownership labels.

import { LABEL, type Action, type ContainerSpec } from '../../src/api/types.js';
import { TEST_IMAGE } from './fleet.js';

/** The cluster name of every test plan's labels. */
export const TEST_CLUSTER = 'test';

export function containerSpec(service: string, slot: number, over: Partial<ContainerSpec> = {}): ContainerSpec {
  const name = `fog-test-${service}-${slot}`;
  return {
    name,
    image: TEST_IMAGE,
    command: ['sleep', '1000'],
    env: [],
    labels: { [LABEL.cluster]: TEST_CLUSTER, [LABEL.service]: service, [LABEL.slot]: String(slot), [LABEL.hash]: 'h1', ...over.labels },
    ports: [],
    network: 'none',
    volumes: [],
    devices: [],
    resources: {},
    restart: { policy: 'never', maxRetries: 0 },
    // sleep as PID 1 ignores SIGTERM: keep stops short
    stopGracePeriod: 1,
    ...over,
  };
}

const base = (node: string, service: string, slot: number) => ({
  node,
  service,
  slot,
  reason: 'Scheduled' as const,
  note: { code: 'Scheduled' as const, slot, container: `${service}-${slot}`, node },
});

export function createAction(node: string, spec: ContainerSpec, start = true): Action {
  const slot = Number(spec.labels[LABEL.slot] ?? 0);
  return { ...base(node, spec.labels[LABEL.service] ?? 'x', slot), type: 'create', container: spec, start };
}

type Target = { id: string; name: string; service?: string; slot?: number };

export function startAction(node: string, t: Target): Action {
  return { ...base(node, t.service ?? 'x', t.slot ?? 0), type: 'start', containerId: t.id, containerName: t.name };
}

export function removeAction(node: string, t: Target, stopTimeout = 1): Action {
  return { ...base(node, t.service ?? 'x', t.slot ?? 0), type: 'remove', containerId: t.id, containerName: t.name, stopTimeout };
}
