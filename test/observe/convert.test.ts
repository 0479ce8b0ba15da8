// The pure engine → observed conversions: clocks, architectures, ports.

import { describe, expect, it } from 'vitest';
import type { EngineContainer } from '../../src/docker/engine.js';
import { hostPorts, normaliseArch, parseEngineTime, toControllerTime, toFacts } from '../../src/observe/convert.js';

function container(over: { labels?: Record<string, string>; network?: string; exposed?: string[]; bindings?: Record<string, string[]> }): EngineContainer {
  return {
    Id: 'x',
    Name: '/x',
    State: { Status: 'running', Running: true, ExitCode: 0, StartedAt: '', FinishedAt: '' },
    RestartCount: 0,
    Config: { Image: 'i', Labels: over.labels ?? {}, ExposedPorts: Object.fromEntries((over.exposed ?? []).map((p) => [p, {}])) },
    HostConfig: {
      NetworkMode: over.network ?? 'bridge',
      PortBindings: Object.fromEntries(Object.entries(over.bindings ?? {}).map(([k, ports]) => [k, ports.map((HostPort) => ({ HostIp: '', HostPort }))])),
    },
  };
}

describe('engine times', () => {
  it.each([
    ['2026-11-27T23:44:07.357949512Z', Date.UTC(2026, 10, 27, 23, 44, 7, 357)],
    ['2026-11-27T23:44:07Z', Date.UTC(2026, 10, 27, 23, 44, 7)],
    ['2026-11-28T00:44:07.5+01:00', Date.UTC(2026, 10, 27, 23, 44, 7, 500)],
    ['0001-01-01T00:00:00Z', undefined],
    ['', undefined],
    ['yesterday', undefined],
  ])('%s', (text, want) => {
    expect(parseEngineTime(text)).toBe(want);
  });

  it('goes through the age on the engine clock, so an engine an hour off gives the same answer', () => {
    const started = '2026-01-01T10:00:00Z';
    const right = toControllerTime(started, { engineNow: Date.UTC(2026, 0, 1, 10, 0, 30), now: 5_000_000 });
    // the same container on an engine whose clock runs an hour ahead: its timestamps are an hour ahead too
    const ahead = toControllerTime('2026-01-01T11:00:00Z', { engineNow: Date.UTC(2026, 0, 1, 11, 0, 30), now: 5_000_000 });
    expect(right).toBe(5_000_000 - 30_000);
    expect(ahead).toBe(right);
    expect(toControllerTime('0001-01-01T00:00:00Z', { engineNow: 0, now: 1 })).toBeUndefined();
  });
});

describe('facts', () => {
  it.each([
    ['x86_64', 'amd64'],
    ['aarch64', 'arm64'],
    ['armv7l', 'arm'],
    ['riscv64', 'riscv64'],
  ])('arch %s → %s', (m, want) => expect(normaliseArch(m)).toBe(want));

  it('parses engine labels k=v, values may hold =', () => {
    const f = toFacts({ Name: 'n', Architecture: 'aarch64', OSType: 'linux', NCPU: 4, MemTotal: 8, Labels: ['zone=a', 'expr=x=y'], ServerVersion: '28.0.1', SystemTime: '' });
    expect(f).toEqual({ engineName: 'n', arch: 'arm64', os: 'linux', cpu: 4000, memory: 8, labels: { zone: 'a', expr: 'x=y' }, version: '28.0.1' });
  });
});

describe('host ports', () => {
  it('reads published bindings, skipping unpublished ones', () => {
    expect(hostPorts(container({ bindings: { '80/tcp': ['8080'], '5683/udp': ['5683'], '9000/tcp': [''] } }))).toEqual(['tcp/8080', 'udp/5683']);
  });
  it('takes the exposed ports for network host', () => {
    expect(hostPorts(container({ network: 'host', exposed: ['1883/tcp'] }))).toEqual(['tcp/1883']);
  });
  it('prefers the fog.ports label', () => {
    expect(hostPorts(container({ network: 'host', exposed: ['1/tcp'], labels: { 'fog.ports': 'tcp/1883,udp/5683' } }))).toEqual(['tcp/1883', 'udp/5683']);
  });
});
