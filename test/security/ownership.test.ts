// Ownership by labels, on one real dockerd shared by two controllers (clusters
// a and b, each with a service of the same name) and by a person's own
// containers: each cluster sees, acts on and removes only its own.

import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, LABEL, NO_HISTORY, type Action, type FogNode, type ObservedNode, type Service } from '../../src/api/types.js';
import { Executor, type ActionResult } from '../../src/apply/executor.js';
import { NodeObserver } from '../../src/observe/observer.js';
import { unmanagedContainers } from '../../src/controller/ownership.js';
import { reconcile } from '../../src/reconcile/index.js';
import { startFleet, TEST_IMAGE, type Fleet } from '../support/fleet.js';
import { LOOP, service } from './support.js';

let fleet: Fleet;
let docker: Docker;
let nodeManifest: FogNode;
const now = () => performance.now();

beforeAll(async () => {
  fleet = await startFleet([{ name: 'shared' }]);
  docker = new Docker({ socketPath: fleet.node('shared').socket });
  nodeManifest = fleet.manifest('shared');
  // A person's own container, and one that looks like fog's but names no cluster.
  for (const [name, labels] of [
    ['operators-own', {}],
    ['hand-made', { [LABEL.service]: 'collector', [LABEL.slot]: '0' }],
  ] as const) {
    const c = await docker.createContainer({ Image: TEST_IMAGE, name, Cmd: ['sleep', '3600'], Labels: labels, HostConfig: { NetworkMode: 'none' } });
    await c.start();
  }
});

afterAll(async () => {
  await fleet?.stop();
});

async function observe(): Promise<ObservedNode> {
  return new NodeObserver(nodeManifest, { now, callTimeoutMs: 5_000 }).observe();
}

/** One controller pass for `cluster`: observe, reconcile, execute. */
async function pass(cluster: string, services: Service[]): Promise<{ observed: ObservedNode; actions: readonly Action[]; results: ActionResult[] }> {
  const observed = await observe();
  const obs = new NodeObserver(nodeManifest, { now, callTimeoutMs: 5_000 });
  const { actions } = reconcile({ nodes: [nodeManifest], services, settings: { ...DEFAULT_SETTINGS, cluster } }, { nodes: [observed] }, NO_HISTORY, now());
  const results = await new Executor(new Map([['shared', obs.engine!]]), { cluster, perNodeConcurrency: 2, callTimeoutMs: 10_000, retries: 1 }).execute(actions);
  return { observed, actions, results };
}

async function converge(cluster: string, services: Service[]): Promise<void> {
  for (let i = 0; i < 5; i++) if ((await pass(cluster, services)).actions.length === 0) return;
  throw new Error(`cluster ${cluster} did not converge in 5 passes`);
}

const onEngine = async () =>
  (await docker.listContainers({ all: true })).map((c) => ({ name: c.Names[0]!.slice(1), id: c.Id, cluster: c.Labels[LABEL.cluster], service: c.Labels[LABEL.service], state: c.State }));

describe('two clusters and a person on one node', () => {
  const collector = service('collector', `  replicas: 2\n${LOOP}`);

  it('each cluster runs its own replicas of a same-named service and sees only those', async () => {
    await converge('a', [collector]);
    await converge('b', [collector]);
    const all = await onEngine();
    for (const cluster of ['a', 'b']) {
      expect(all.filter((c) => c.cluster === cluster && c.service === 'collector' && c.state === 'running')).toHaveLength(2);
    }
    expect(all.find((c) => c.name === 'operators-own')?.state).toBe('running');
    expect(all.find((c) => c.name === 'hand-made')?.state).toBe('running');

    const observed = await observe();
    for (const cluster of ['a', 'b']) {
      const { status, actions } = reconcile({ nodes: [nodeManifest], services: [collector], settings: { ...DEFAULT_SETTINGS, cluster } }, { nodes: [observed] }, NO_HISTORY, now());
      expect(actions).toEqual([]);
      const names = status.services[0]!.replicas.map((r) => r.containerName);
      expect(names).toHaveLength(2);
      for (const n of names) expect(all.find((c) => c.name === n)?.cluster).toBe(cluster);
      expect(status.nodes[0]!.replicas).toBe(2);
    }
  });

  it('lists what is not ours, with the other cluster as owner (fogctl get replicas --all)', async () => {
    const u = unmanagedContainers({ nodes: [await observe()] }, 'a');
    expect(u.map((c) => [c.name.replace(/-[0-9a-f]{8}$/, ''), c.owner ?? '-'])).toEqual([
      ['b_collector-0', 'b'],
      ['b_collector-1', 'b'],
      ['hand-made', '-'],
      ['operators-own', '-'],
    ]);
    expect(u.every((c) => c.node === 'shared' && c.image === TEST_IMAGE && c.state === 'running')).toBe(true);
  });

  it("never acts on another cluster's or a person's containers: scale-down and deletion in a touch only a's", async () => {
    const before = await onEngine();
    const foreign = new Set(before.filter((c) => c.cluster !== 'a').map((c) => c.id));
    const scaled = await pass('a', [service('collector', `  replicas: 1\n${LOOP}`)]);
    expect(scaled.actions.map((x) => x.type)).toEqual(['remove']);
    const deleted = await pass('a', []);
    expect(deleted.actions.map((x) => x.type)).toEqual(['remove']);
    for (const x of [...scaled.actions, ...deleted.actions]) {
      expect(x.type === 'start' || x.type === 'remove' ? foreign.has(x.containerId) : false).toBe(false);
    }
    expect([...scaled.results, ...deleted.results].every((r) => r.ok)).toBe(true);
    const after = await onEngine();
    expect(after.filter((c) => c.cluster === 'a')).toEqual([]);
    expect(after.filter((c) => foreign.has(c.id)).map((c) => c.state)).toEqual(before.filter((c) => foreign.has(c.id)).map(() => 'running'));
  });

  it("gives cluster x + service y-svc and cluster x-y + service svc different names, and adopts neither's", async () => {
    // Cluster and service names cannot contain "_", the separator after the cluster.
    const spec = `  replicas: 1\n${LOOP}`;
    await converge('x', [service('y-svc', spec)]);
    const first = await pass('x-y', [service('svc', spec)]);
    expect(first.actions.map((a) => a.type)).toEqual(['create']);
    expect(first.results[0]).toMatchObject({ ok: true });
    const xs = (await onEngine()).filter((c) => c.cluster === 'x' || c.cluster === 'x-y');
    expect(xs.map((c) => [c.cluster, c.service, c.state]).sort()).toEqual([
      ['x', 'y-svc', 'running'],
      ['x-y', 'svc', 'running'],
    ]);
    expect(new Set(xs.map((c) => c.name)).size).toBe(2);
  });
});
