// fog/v1 Node manifests for hollow nodes, so a controller can be pointed at a fleet.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HollowNodeHandle } from './fleet.js';

const yamlMap = (m: Readonly<Record<string, string>>, indent: string) =>
  Object.entries(m)
    .map(([k, v]) => `${indent}${k}: "${v}"`)
    .join('\n') || `${indent}{}`;

export function nodeManifest(n: Pick<HollowNodeHandle, 'name' | 'endpoint' | 'labels' | 'devices'>): string {
  return `apiVersion: fog/v1
kind: Node
metadata:
  name: ${n.name}
  labels:
${yamlMap(n.labels, '    ')}
spec:
  endpoint: ${n.endpoint}
${n.devices.length ? `  devices: [${n.devices.join(', ')}]\n` : ''}`;
}

/** One file per node under DIR/nodes/ (a multi-document file would be one watch event, but one parse error would hold every node). */
export function writeNodeManifests(dir: string, nodes: ReadonlyArray<Parameters<typeof nodeManifest>[0]>): void {
  mkdirSync(join(dir, 'nodes'), { recursive: true });
  for (const n of nodes) writeFileSync(join(dir, 'nodes', `${n.name}.yaml`), nodeManifest(n));
}
