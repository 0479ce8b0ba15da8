// ContainerSpec → the body of POST /containers/create. Pure.

import { LABEL, type ContainerSpec, type PortMapping } from '../api/types.js';

const MS_TO_NS = 1e6;

/** `proto/port` the container binds on its host: what port-conflict checks count. */
export function boundHostPorts(spec: Pick<ContainerSpec, 'network' | 'ports'>): string[] {
  if (spec.network === 'none') return [];
  const out = new Set<string>();
  for (const p of spec.ports) {
    const host = spec.network === 'host' ? (p.host ?? p.container) : p.host;
    if (host !== undefined) out.add(`${p.protocol}/${host}`);
  }
  return [...out].sort();
}

/** Ownership labels plus what the container reserves and binds, so any observer can count them. */
function labelsFor(spec: ContainerSpec): Record<string, string> {
  const labels: Record<string, string> = { ...spec.labels };
  if (spec.resources.cpu !== undefined) labels[LABEL.cpu] ??= String(spec.resources.cpu);
  if (spec.resources.memory !== undefined) labels[LABEL.memory] ??= String(spec.resources.memory);
  if (spec.resources.disk !== undefined) labels[LABEL.disk] ??= String(spec.resources.disk);
  const ports = boundHostPorts(spec);
  if (ports.length > 0) labels[LABEL.ports] ??= ports.join(',');
  return labels;
}

const portKey = (p: PortMapping) => `${p.container}/${p.protocol}`;

/**
 * The security fields of HostConfig, from the spec only: privileged, host PID/IPC
 * and added capabilities exactly as asked (the scheduler has checked they are
 * allowed), Docker's default capability set otherwise, and no-new-privileges
 * unless privileged (docs/security.md).
 */
export function securityConfig(spec: Pick<ContainerSpec, 'security'>): Record<string, unknown> {
  const sec = spec.security;
  const privileged = sec?.privileged === true;
  return {
    Privileged: privileged,
    ...(sec?.hostPID ? { PidMode: 'host' } : {}),
    ...(sec?.hostIPC ? { IpcMode: 'host' } : {}),
    CapAdd: [...(sec?.capAdd ?? [])],
    CapDrop: [],
    SecurityOpt: privileged ? [] : ['no-new-privileges'],
  };
}

export function createBody(spec: ContainerSpec): Record<string, unknown> {
  const exposed = Object.fromEntries(spec.ports.map((p) => [portKey(p), {}]));
  const bindings: Record<string, Array<{ HostPort: string }>> = {};
  if (spec.network === 'bridge') {
    for (const p of spec.ports) (bindings[portKey(p)] ??= []).push({ HostPort: p.host === undefined ? '' : String(p.host) });
  }
  const restart = spec.restart.policy === 'always' ? { Name: 'always' } : spec.restart.policy === 'on-failure' ? { Name: 'on-failure', MaximumRetryCount: spec.restart.maxRetries } : { Name: 'no' };
  const hc = spec.healthcheck;
  return {
    Image: spec.image,
    ...(spec.command ? { Cmd: [...spec.command] } : {}),
    Env: spec.env.map((e) => `${e.name}=${e.value}`),
    Labels: labelsFor(spec),
    ...(spec.ports.length > 0 && spec.network !== 'none' ? { ExposedPorts: exposed } : {}),
    ...(hc
      ? {
          Healthcheck: {
            Test: [...hc.test],
            Interval: hc.interval * MS_TO_NS,
            Timeout: hc.timeout * MS_TO_NS,
            Retries: hc.retries,
            StartPeriod: hc.startPeriod * MS_TO_NS,
          },
        }
      : {}),
    StopTimeout: spec.stopGracePeriod,
    HostConfig: {
      NetworkMode: spec.network,
      ...(spec.resources.cpu !== undefined ? { NanoCpus: spec.resources.cpu * 1e6 } : {}),
      ...(spec.resources.memory !== undefined ? { Memory: spec.resources.memory } : {}),
      Devices: spec.devices.map((d) => ({ PathOnHost: d, PathInContainer: d, CgroupPermissions: 'rwm' })),
      PortBindings: bindings,
      Binds: spec.volumes.map((v) => `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`),
      RestartPolicy: restart,
      ...securityConfig(spec),
    },
  };
}
