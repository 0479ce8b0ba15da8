// The executor against two real Docker engines (hack/fleet.sh): what it
// creates, that every action is idempotent, and that failures are values.

import { mkdtempSync } from 'node:fs';
import Docker from 'dockerode';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL } from '../../src/api/types.js';
import { createBody } from '../../src/apply/container-config.js';
import { Executor } from '../../src/apply/executor.js';
import { Engine } from '../../src/docker/engine.js';
import { containerSpec, createAction, removeAction, startAction, TEST_CLUSTER } from '../support/actions.js';
import { startFleet, type Fleet } from '../support/fleet.js';

const dir = mkdtempSync('/tmp/fog-');
const DEVICE = `${dir}/dev/ttyUSB0`;

let fleet: Fleet;
let executor: Executor;
const engines = new Map<string, Engine>();

const raw = (node: string) => new Docker({ socketPath: fleet.node(node).socket });
const inspect = (node: string, id: string) => raw(node).getContainer(id).inspect();

async function namedOn(node: string, name: string): Promise<string[]> {
  const list = await raw(node).listContainers({ all: true, filters: { name: [`^/${name}$`] } });
  return list.map((c) => c.Id);
}

beforeAll(async () => {
  fleet = await startFleet(
    [
      { name: 'a', labels: { zone: 'hall-1' }, devices: [DEVICE] },
      { name: 'b', labels: { zone: 'hall-2' } },
    ],
    { dir },
  );
  for (const n of ['a', 'b']) engines.set(n, Engine.forNode(fleet.manifest(n), { callTimeoutMs: 2_000 }));
  // a node whose engine is not there: its actions fail as values
  engines.set('ghost', Engine.forNode({ ...fleet.manifest('a'), spec: { ...fleet.manifest('a').spec, endpoint: `unix://${dir}/ghost.sock` } }, { callTimeoutMs: 2_000 }));
  executor = new Executor(engines, { cluster: TEST_CLUSTER, perNodeConcurrency: 4, callTimeoutMs: 5_000, retries: 1, retryDelayMs: 50 });
});

afterAll(async () => {
  await fleet?.stop();
});

describe('Executor', () => {
  it('creates and starts with labels, env, resources, device, restart policy and network none', async () => {
    const spec = containerSpec('reader', 0, {
      env: [
        { name: 'MODE', value: 'poll', secret: false },
        { name: 'API_TOKEN', value: 's3cret', secret: true },
      ],
      resources: { cpu: 500, memory: 64 << 20 },
      devices: [DEVICE],
      restart: { policy: 'on-failure', maxRetries: 3 },
      command: ['sh', '-c', `test -c ${DEVICE} && exec sleep 1000`],
      stopGracePeriod: 2,
    });
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
    const logged = new Executor(engines, { cluster: TEST_CLUSTER, perNodeConcurrency: 4, callTimeoutMs: 5_000, retries: 1, logger });
    const [res] = await logged.execute([createAction('a', spec)]);
    expect(res).toMatchObject({ ok: true });
    expect(lines.join('')).toContain(spec.name);
    expect(lines.join('')).not.toContain('s3cret');
    const c = await inspect('a', res?.containerId ?? '');
    expect(c.Name).toBe(`/${spec.name}`);
    expect(c.State.Running).toBe(true);
    expect(c.Config.Labels).toMatchObject({ ...spec.labels, [LABEL.cpu]: '500', [LABEL.memory]: String(64 << 20) });
    expect(c.Config.Env).toEqual(expect.arrayContaining(['MODE=poll', 'API_TOKEN=s3cret']));
    expect((c.Config as { StopTimeout?: number }).StopTimeout).toBe(2);
    expect(c.HostConfig).toMatchObject({
      NanoCpus: 500e6,
      Memory: 64 << 20,
      NetworkMode: 'none',
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
      Devices: [{ PathOnHost: DEVICE, PathInContainer: DEVICE, CgroupPermissions: 'rwm' }],
    });
  });

  it('runs with network host and records the ports it binds', async () => {
    const spec = containerSpec('broker', 0, {
      network: 'host',
      ports: [
        { container: 18830, protocol: 'tcp' },
        { container: 15683, protocol: 'udp' },
      ],
    });
    const [res] = await executor.execute([createAction('b', spec)]);
    expect(res).toMatchObject({ ok: true });
    const c = await inspect('b', res?.containerId ?? '');
    expect(c.HostConfig.NetworkMode).toBe('host');
    expect(c.Config.Labels?.[LABEL.ports]).toBe('tcp/18830,udp/15683');
  });

  it('builds healthchecks in nanoseconds and port bindings for bridge', () => {
    const body = createBody(
      containerSpec('web', 0, {
        network: 'bridge',
        ports: [{ container: 80, host: 8080, protocol: 'tcp' }],
        healthcheck: { test: ['CMD', 'true'], interval: 10_000, timeout: 5_000, retries: 3, startPeriod: 0 },
        volumes: [{ source: '/srv/data', target: '/data', readOnly: true, type: 'bind' }],
        restart: { policy: 'never', maxRetries: 0 },
      }),
    );
    expect(body).toMatchObject({
      Healthcheck: { Test: ['CMD', 'true'], Interval: 10e9, Timeout: 5e9, Retries: 3, StartPeriod: 0 },
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '8080' }] }, Binds: ['/srv/data:/data:ro'], RestartPolicy: { Name: 'no' } },
    });
  });

  it('treats a name that exists as done: no duplicate, even when two creates race', async () => {
    const spec = containerSpec('dup', 0);
    const first = await executor.execute([createAction('a', spec, false)]);
    const [again, raced] = await Promise.all([executor.execute([createAction('a', spec)]), executor.execute([createAction('a', spec)])]);
    const ids = [first[0], again[0], raced[0]].map((r) => r?.containerId);
    expect([first[0]?.ok, again[0]?.ok, raced[0]?.ok]).toEqual([true, true, true]);
    expect(new Set(ids).size).toBe(1);
    expect(await namedOn('a', spec.name)).toEqual([ids[0]]);
    // the second create was asked to start it
    expect((await inspect('a', ids[0] ?? '')).State.Running).toBe(true);
  });

  it('refuses to adopt a container of the same name that is not ours, or has another spec', async () => {
    await raw('b').createContainer({ name: 'fog-test-taken-0', Image: 'fog/busybox:latest', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
    const [foreign] = await executor.execute([createAction('b', containerSpec('taken', 0))]);
    expect(foreign).toMatchObject({ ok: false, code: 'name-conflict', retryable: false });

    await executor.execute([createAction('b', containerSpec('rolled', 0), false)]);
    const [other] = await executor.execute([createAction('b', containerSpec('rolled', 0, { labels: { [LABEL.hash]: 'h2' } }))]);
    expect(other).toMatchObject({ ok: false, code: 'name-conflict' });
    expect(other?.message).toMatch(/another spec/);
  });

  it('start and remove are idempotent; remove of a gone container succeeds', async () => {
    const spec = containerSpec('cycle', 0);
    const [made] = await executor.execute([createAction('b', spec)]);
    const target = { id: made?.containerId ?? '', name: spec.name, service: 'cycle', slot: 0 };
    const again = await executor.execute([startAction('b', target), startAction('b', target)]);
    expect(again.map((r) => r.ok)).toEqual([true, true]);
    await raw('b').getContainer(target.id).stop({ t: 1 });
    const steps = await executor.execute([startAction('b', target)]);
    expect(steps.map((r) => r.ok)).toEqual([true]);
    expect((await inspect('b', target.id)).State.Running).toBe(true);
    const removed = await executor.execute([removeAction('b', target), removeAction('b', target)]);
    expect(removed.map((r) => r.ok)).toEqual([true, true]);
    expect(await namedOn('b', spec.name)).toEqual([]);
  });

  it('never touches a container without our labels', async () => {
    const docker = raw('a');
    const foreign = await docker.createContainer({ name: 'scada', Image: 'fog/busybox:latest', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'none' } });
    await foreign.start();
    const target = { id: foreign.id, name: 'scada' };
    const results = await executor.execute([startAction('a', target), removeAction('a', target)]);
    expect(results.map((r) => r.code)).toEqual(['not-managed', 'not-managed']);
    expect((await foreign.inspect()).State.Running).toBe(true);
  });

  it('reports failures as values and carries on with other actions and nodes', async () => {
    const missingImage = containerSpec('noimage', 0, { image: '127.0.0.1:5999/fog/missing:1' });
    const missingDevice = containerSpec('nodevice', 0, { devices: [`${dir}/dev/absent`] });
    const fine = containerSpec('fine', 0);
    const t = Date.now();
    const results = await executor.execute([createAction('a', missingImage), createAction('a', missingDevice), createAction('ghost', fine), createAction('b', fine)]);
    expect(results[0]).toMatchObject({ ok: false, code: 'image-pull-failed', retryable: true });
    expect(results[1]).toMatchObject({ ok: false, code: 'device-not-found', retryable: false });
    expect(results[2]).toMatchObject({ ok: false, code: 'unreachable', retryable: true });
    expect(results[3]).toMatchObject({ ok: true });
    expect(Date.now() - t).toBeLessThan(10_000);
    expect(await namedOn('a', missingImage.name)).toEqual([]);
  });

  it('fails a hung engine within the deadline instead of waiting', async () => {
    const quick = new Executor(engines, { cluster: TEST_CLUSTER, perNodeConcurrency: 4, callTimeoutMs: 2_000, retries: 0 });
    await fleet.freezeNode('b');
    try {
      const t = Date.now();
      const [res, other] = await quick.execute([createAction('b', containerSpec('frozen', 0)), createAction('a', containerSpec('thawed', 0))]);
      // The deadline (2 s) plus slack for a loaded machine; without a deadline the call would wait for the thaw.
      expect(Date.now() - t).toBeLessThan(6_000);
      expect(res).toMatchObject({ ok: false, code: 'timeout', retryable: true });
      expect(other).toMatchObject({ ok: true });
    } finally {
      await fleet.thawNode('b');
    }
  });
});
