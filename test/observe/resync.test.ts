// What an observation costs and what it still sees, on one hollow node (calls
// are counted by the simulator): a look is one container list; inspects only
// for what changed, what an event named, and, as the net under missed events,
// for what was last inspected longer ago than inspectMaxAgeMs.

import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FogNode, ObservedContainer } from '../../src/api/types.js';
import { Executor } from '../../src/apply/executor.js';
import { Engine } from '../../src/docker/engine.js';
import { NodeObserver } from '../../src/observe/observer.js';
import { startHollowFleet, type HollowFleet } from '../../hack/hollow/fleet.js';
import { containerSpec, createAction, TEST_CLUSTER } from '../support/actions.js';

const NODE = 'h0';
const MAX_AGE = 60_000;
const FACTS_EVERY = 300_000;
const dir = mkdtempSync('/tmp/fogr-');
let fleet: HollowFleet;
let manifest: FogNode;
let clock = 1_000_000;
const now = () => clock;

beforeAll(async () => {
  fleet = await startHollowFleet({ count: 1, dir, latencyMs: 0, name: () => NODE });
  const socket = fleet.nodes[0]!.socket;
  manifest = {
    kind: 'Node',
    metadata: { name: NODE, labels: {}, annotations: {} },
    spec: { endpoint: `unix://${socket}`, insecure: false, address: '127.0.0.1', devices: [], capacity: {}, unschedulable: false },
    source: { file: 'resync', line: 1, col: 1 },
  };
});

afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Calls answered by the node since the last `delta()`, by route. */
function counter() {
  let last = new Map(fleet.calls());
  return () => {
    const cur = fleet.calls();
    const d: Record<string, number> = {};
    for (const [k, n] of cur) if (n - (last.get(k) ?? 0) > 0) d[k] = n - (last.get(k) ?? 0);
    last = new Map(cur);
    return d;
  };
}

const byName = (cs: readonly ObservedContainer[], name: string) => cs.find((c) => c.name === name)!;

async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a resync', () => {
  it('reads facts, images and every container first, then only the list; a restart no event named is seen within inspectMaxAgeMs', async () => {
    const engine = Engine.forNode(manifest, { callTimeoutMs: 2_000 });
    const executor = new Executor(new Map([[NODE, engine]]), { cluster: TEST_CLUSTER, perNodeConcurrency: 4, callTimeoutMs: 2_000, retries: 0 });
    const always = containerSpec('web', 0, { restart: { policy: 'always', maxRetries: 0 } });
    const once = containerSpec('job', 0);
    expect((await executor.execute([createAction(NODE, always), createAction(NODE, once)])).every((r) => r.ok)).toBe(true);
    const o = new NodeObserver(manifest, { now, callTimeoutMs: 2_000, engine, inspectMaxAgeMs: MAX_AGE, factsEveryMs: FACTS_EVERY });
    const delta = counter();

    const first = await o.observe();
    expect(delta()).toEqual({ 'GET /info': 1, 'GET /images/json': 1, 'GET /containers/json': 1, 'GET /containers/{id}/json': 2 });
    expect(byName(first.containers, always.name)).toMatchObject({ state: 'running', restartCount: 0 });

    clock += 10_000;
    const second = await o.observe();
    expect(delta()).toEqual({ 'GET /containers/json': 1 });
    expect(second.containers).toEqual(first.containers);
    expect(second.lastSeen).toBe(clock);

    // The process dies and the restart policy brings it back: `Up …` in both lists, and no one listens to events.
    const id = byName(first.containers, always.name).id;
    fleet.killContainer(NODE, id, 137);
    await until('the restart', () => fleet.containers(NODE).find((c) => c.id === id)?.restartCount === 1);
    clock += 10_000;
    expect(byName((await o.observe()).containers, always.name).restartCount).toBe(0);
    expect(delta()).toEqual({ 'GET /containers/json': 1 });
    clock += MAX_AGE;
    expect(byName((await o.observe()).containers, always.name).restartCount).toBe(1);
    expect(delta()).toEqual({ 'GET /containers/json': 1, 'GET /containers/{id}/json': 2 });

    // A state the list shows (exited) is inspected at once, without events.
    fleet.killContainer(NODE, byName(first.containers, once.name).id, 3);
    clock += 1_000;
    expect(byName((await o.observe()).containers, once.name)).toMatchObject({ state: 'exited', exitCode: 3 });
    expect(delta()).toEqual({ 'GET /containers/json': 1, 'GET /containers/{id}/json': 1 });

    // A refresh by age that finds nothing new hands back the very same containers: the controller sees no change and skips its pass.
    const steady = (await o.observe()).containers;
    clock += MAX_AGE;
    expect((await o.observe()).containers).toBe(steady);
    expect(delta()).toEqual({ 'GET /containers/json': 2, 'GET /containers/{id}/json': 2 });

    clock += FACTS_EVERY;
    await o.observe();
    expect(delta()).toMatchObject({ 'GET /info': 1, 'GET /images/json': 1, 'GET /containers/json': 1 });
  });

  it('re-inspects a container an event named, and everything after the engine was unreachable', async () => {
    const engine = Engine.forNode(manifest, { callTimeoutMs: 1_000 });
    const executor = new Executor(new Map([[NODE, engine]]), { cluster: TEST_CLUSTER, perNodeConcurrency: 4, callTimeoutMs: 2_000, retries: 0 });
    const spec = containerSpec('api', 0, { restart: { policy: 'always', maxRetries: 0 } });
    expect((await executor.execute([createAction(NODE, spec)])).every((r) => r.ok)).toBe(true);
    const o = new NodeObserver(manifest, { now, callTimeoutMs: 1_000, engine, inspectMaxAgeMs: MAX_AGE, events: { backoffBaseMs: 50, backoffMaxMs: 200, stallMs: 500 } });
    const changes: string[] = [];
    o.watch((n) => changes.push(n));
    await until('the event stream to connect', () => changes.length > 0);
    await o.observe();
    const delta = counter();
    const id = byName(o.last.containers, spec.name).id;

    changes.length = 0;
    fleet.killContainer(NODE, id, 137);
    await until('the restart', () => fleet.containers(NODE).find((c) => c.id === id)?.restartCount === 1);
    await until('its events', () => changes.length >= 2);
    clock += 1_000;
    expect(byName((await o.observe()).containers, spec.name)).toMatchObject({ state: 'running', restartCount: 1 });
    expect(delta()).toMatchObject({ 'GET /containers/json': 1, 'GET /containers/{id}/json': 1 });

    await fleet.setFault(NODE, 'down');
    clock += 1_000;
    expect((await o.observe()).reachable).toBe(false);
    await fleet.setFault(NODE, 'up');
    delta();
    clock += 1_000;
    const back = await o.observe();
    expect(back.error).toBeUndefined();
    expect(back.reachable).toBe(true);
    const calls = delta();
    expect(calls).toMatchObject({ 'GET /info': 1, 'GET /images/json': 1, 'GET /containers/json': 1 });
    expect(calls['GET /containers/{id}/json']).toBe(back.containers.length);
    o.close();
  });
});
