// Small builders shared by the security tests.

import { expect } from 'vitest';
import type { FogNode, Service } from '../../src/api/types.js';
import { formatError, loadText } from '../../src/manifest/index.js';

/** One Service from the spec lines under `spec:` (indented two spaces). */
export function service(name: string, spec: string): Service {
  const r = loadText('svc.yaml', `apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  image: fog/busybox:latest\n${spec}`);
  expect(r.errors.map(formatError)).toEqual([]);
  return r.objects[0] as Service;
}

export function node(name: string, spec: Partial<FogNode['spec']> = {}): FogNode {
  return {
    kind: 'Node',
    metadata: { name, labels: {}, annotations: {} },
    spec: { endpoint: `unix:///tmp/${name}.sock`, insecure: false, address: '127.0.0.1', devices: [], capacity: {}, unschedulable: false, ...spec },
    source: { file: 'nodes.yaml', line: 1, col: 1 },
  };
}

export const LOOP = `  command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]\n  network: none\n`;
