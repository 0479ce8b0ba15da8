// Spec summaries for `describe`: what was asked for, in the manifest's words.

import { formatCpu, formatDuration, formatMemory } from '../api/quantity.js';
import { redactEnv } from '../api/redact.js';
import type { FogNode, Service, ServiceSpec } from '../api/types.js';
import type { NodeSummary, ServiceSummary } from '../status/doc.js';

export function summarizeService(s: Service, held: boolean, isSecretName?: (name: string) => boolean): ServiceSummary {
  const sp = s.spec;
  return {
    image: sp.image,
    mode: sp.mode,
    replicas: sp.replicas,
    command: sp.command,
    network: sp.network,
    ports: sp.ports.map((p) => `${p.host !== undefined ? `${p.host}:` : ''}${p.container}/${p.protocol}`),
    env: redactEnv(sp.env, isSecretName).map((e) => `${e.name}=${e.value}`),
    devices: sp.devices,
    resources: {
      cpu: sp.resources.cpu === undefined ? undefined : formatCpu(sp.resources.cpu),
      memory: sp.resources.memory === undefined ? undefined : formatMemory(sp.resources.memory),
      disk: sp.resources.disk === undefined ? undefined : formatMemory(sp.resources.disk),
    },
    constraints: sp.placement.constraints.map((c) => c.text),
    spread: sp.placement.spread,
    dependsOn: sp.dependsOn,
    restart: sp.restart.policy === 'on-failure' ? `on-failure (max ${sp.restart.maxRetries})` : sp.restart.policy,
    update: updateText(sp.update),
    source: `${s.source.file}:${s.source.line}:${s.source.col}`,
    held,
  };
}

export function summarizeNode(n: FogNode, held: boolean): NodeSummary {
  return {
    endpoint: n.spec.endpoint,
    address: n.spec.address,
    devices: n.spec.devices,
    labels: n.metadata.labels,
    source: `${n.source.file}:${n.source.line}:${n.source.col}`,
    held,
  };
}

function updateText(u: ServiceSpec['update']): string {
  const parts = [`parallelism ${u.parallelism}`, u.order, `delay ${formatDuration(u.delay)}`, `monitor ${formatDuration(u.monitor)}`, `on failure ${u.failureAction}`];
  if (u.maxFailureRatio > 0) parts.push(`maxFailureRatio ${u.maxFailureRatio}`);
  parts.push(`progressDeadline ${formatDuration(u.progressDeadline)}`);
  if (u.canary > 0) parts.push(`canary ${u.canary}${u.autoPromote ? '' : ' (promote by hand)'}`);
  if (u.windows.length > 0) parts.push(`windows ${u.windows.map((w) => w.text).join('; ')}`);
  return parts.join(', ');
}
