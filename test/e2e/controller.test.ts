// The controller end to end, on three real dockerd nodes started by this
// test: placement by constraints and devices, a global service, a killed
// container coming back, a rolling update within its bounds, scale-down,
// deletion, a broken manifest, node loss and return, a SIGKILLed controller,
// and somebody else's containers left alone.
//
// The scenarios share one fleet and run in order; each leaves the world as
// the next expects, and each asserts on what the engines really hold.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HEARTBEAT } from '../../src/observe/heartbeat.js';
import Docker from 'dockerode';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startFleet, type Fleet } from '../support/fleet.js';
import { stopAndWatch } from '../support/outage.js';
import { containersOn, nodeManifest, recordEngineEvents, runFogctl, startController, tempDir, waitFor, writeManifest, type RunningController } from './harness.js';

const DEVICE = '/dev/fog-e2e-tty0';
/** The controller's --grace, in ms. */
const GRACE = '4s';
const GRACE_MS = 4_000;
/** The controller's heartbeat interval (the default). */
const HEARTBEAT_MS = DEFAULT_HEARTBEAT.intervalMs;

let fleet: Fleet;
let desired: string;
let state: string;
let ctl: RunningController;

const nodes = () => fleet.nodes.map((n) => ({ name: n.name, socket: n.socket }));
const running = async (service?: string) => (await containersOn(nodes())).filter((c) => c.state === 'running' && (service === undefined || c.service === service));

function service(name: string, spec: string): string {
  return `apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  image: fog/busybox:latest\n  network: none\n${spec}`;
}

const LOOP = `  command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]\n`;

async function serviceReady(name: string, ready: number) {
  return waitFor(
    `${name} to have ${ready} ready replicas`,
    async () => {
      const doc = await ctl.status();
      const s = doc?.status.services.find((x) => x.name === name);
      return s && s.ready === ready && s.upToDate === ready && s.desired === ready ? s : undefined;
    },
    40_000,
  );
}

beforeAll(async () => {
  fleet = await startFleet([
    { name: 'gw-1', labels: { zone: 'line1', role: 'gateway' }, devices: [DEVICE] },
    { name: 'press-1', labels: { zone: 'line1', role: 'edge' } },
    { name: 'press-2', labels: { zone: 'line2', role: 'edge' } },
  ]);
  desired = tempDir('fog-e2e-desired-');
  state = tempDir('fog-e2e-state-');
  for (const n of fleet.nodes) {
    const labels = n.name === 'gw-1' ? { zone: 'line1', role: 'gateway' } : n.name === 'press-1' ? { zone: 'line1', role: 'edge' } : { zone: 'line2', role: 'edge' };
    writeManifest(desired, `nodes/${n.name}.yaml`, nodeManifest(n.name, n.socket, labels, n.name === 'gw-1' ? [DEVICE] : []));
  }
  ctl = startController({ desired, stateDir: state, grace: GRACE, resync: '2s' });
});

afterAll(async () => {
  await ctl?.stop();
  await fleet?.stop();
  for (const d of [desired, state]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('controller on real engines', () => {
  it('places replicas where constraints and devices allow, and a global service on every eligible node', async () => {
    const foreign = new Docker({ socketPath: fleet.nodes[1]!.socket });
    const mine = await foreign.createContainer({ Image: 'fog/busybox:latest', name: 'operators-own', Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } });
    await mine.start();

    writeManifest(desired, 'services/line1.yaml', service('line1-collector', `  replicas: 2\n${LOOP}  placement:\n    constraints: ["node.labels.zone == line1"]\n`));
    writeManifest(desired, 'services/serial.yaml', service('serial-reader', `  replicas: 1\n${LOOP}  devices: [${DEVICE}]\n`));
    writeManifest(desired, 'services/agent.yaml', service('metrics-agent', `  mode: global\n${LOOP}  placement:\n    constraints: ["node.labels.role == edge"]\n`));

    await serviceReady('line1-collector', 2);
    await serviceReady('serial-reader', 1);
    await serviceReady('metrics-agent', 2);
    const c = await running();
    expect(c.filter((x) => x.service === 'line1-collector').every((x) => x.node === 'gw-1' || x.node === 'press-1')).toBe(true);
    expect(c.filter((x) => x.service === 'serial-reader').map((x) => x.node)).toEqual(['gw-1']);
    expect(
      c
        .filter((x) => x.service === 'metrics-agent')
        .map((x) => x.node)
        .sort(),
    ).toEqual(['press-1', 'press-2']);
    // The operator's own container is there, untouched, and is not ours.
    const info = await foreign.getContainer(mine.id).inspect();
    expect(info.State.Running).toBe(true);
    expect(c.some((x) => x.id === mine.id)).toBe(false);

    const get = await runFogctl(['get', 'services', '--server', ctl.socket]);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/line1-collector\s+replicated\s+2\/2/);
    expect(get.stdout).toMatch(/metrics-agent\s+global\s+2\/2/);
  });

  it('explains a service that cannot be placed, per node', async () => {
    writeManifest(desired, 'services/nowhere.yaml', service('nowhere', `  replicas: 1\n${LOOP}  placement:\n    constraints: ["node.labels.zone == line9"]\n`));
    const doc = await waitFor('nowhere to be reported unschedulable', async () => {
      const d = await ctl.status();
      return d?.status.services.find((s) => s.name === 'nowhere')?.unschedulable ? d : undefined;
    });
    const s = doc.status.services.find((x) => x.name === 'nowhere')!;
    expect(s.unschedulable!.message).toMatch(/^0\/3 nodes eligible/);
    expect(s.unschedulable!.perNode.map((p) => p.node).sort()).toEqual(['gw-1', 'press-1', 'press-2']);
    const d = await runFogctl(['describe', 'service', 'nowhere', '--server', ctl.socket]);
    expect(d.stdout).toMatch(/press-2: .*node\.labels\.zone == line9 \(zone is line2\)/);
    rmSync(join(desired, 'services/nowhere.yaml'));
  });

  it('brings a killed container back', async () => {
    const [victim] = await running('line1-collector');
    const d = new Docker({ socketPath: fleet.nodes.find((n) => n.name === victim!.node)!.socket });
    await d.getContainer(victim!.id).kill();
    await waitFor(
      'the killed replica to run again',
      async () => {
        const again = await running('line1-collector');
        return again.length === 2 && again.some((x) => x.slot === victim!.slot);
      },
      30_000,
    );
    await serviceReady('line1-collector', 2);
  });

  it('rolls out a changed env one replica at a time (stop-first, parallelism 1)', async () => {
    const before = await running('line1-collector');
    const oldHash = before[0]!.hash;
    writeManifest(desired, 'services/line1.yaml', service('line1-collector', `  replicas: 2\n${LOOP}  env:\n    LINE: "1"\n  placement:\n    constraints: ["node.labels.zone == line1"]\n`));
    let minRunning = Infinity;
    let maxTotal = 0;
    await waitFor(
      'the rollout to finish',
      async () => {
        const all = (await containersOn(nodes())).filter((x) => x.service === 'line1-collector');
        const run = all.filter((x) => x.state === 'running');
        minRunning = Math.min(minRunning, run.length);
        maxTotal = Math.max(maxTotal, all.length);
        return run.length === 2 && run.every((x) => x.hash !== oldHash) && all.length === 2;
      },
      60_000,
      100,
    );
    expect(minRunning).toBeGreaterThanOrEqual(1); // replicas - parallelism
    expect(maxTotal).toBeLessThanOrEqual(3);
  });

  it('scales down by removing the highest slots', async () => {
    writeManifest(desired, 'services/line1.yaml', service('line1-collector', `  replicas: 1\n${LOOP}  env:\n    LINE: "1"\n  placement:\n    constraints: ["node.labels.zone == line1"]\n`));
    await waitFor('scale-down to 1', async () => {
      const all = (await containersOn(nodes())).filter((x) => x.service === 'line1-collector');
      return all.length === 1 && all[0]!.slot === 0 && all[0]!.state === 'running';
    });
  });

  it('keeps running services when a manifest breaks, and says so', async () => {
    const before = await running('serial-reader');
    writeManifest(desired, 'services/serial.yaml', service('serial-reader', `  replicas: two\n${LOOP}  devices: [${DEVICE}]\n`));
    const doc = await waitFor('the error to show', async () => {
      const d = await ctl.status();
      return d && d.desired.errors.some((e) => e.file.endsWith('serial.yaml')) ? d : undefined;
    });
    expect(doc.desired.errors.find((e) => e.file.endsWith('serial.yaml'))!.message).toMatch(/replicas/);
    await new Promise((r) => setTimeout(r, 3_000));
    const after = await running('serial-reader');
    expect(after.map((x) => x.id)).toEqual(before.map((x) => x.id));
    const get = await runFogctl(['get', 'services', '--server', ctl.socket]);
    expect(get.stderr).toMatch(/serial\.yaml:\d+:\d+: .*replicas/);
    writeManifest(desired, 'services/serial.yaml', service('serial-reader', `  replicas: 1\n${LOOP}  devices: [${DEVICE}]\n`));
  });

  it('removes the containers of a deleted manifest', async () => {
    rmSync(join(desired, 'services/serial.yaml'));
    await waitFor('serial-reader to be gone', async () => (await containersOn(nodes())).every((x) => x.service !== 'serial-reader'));
  });

  it('re-places replicas of a lost node after the grace period, and removes the surplus on return', async () => {
    writeManifest(desired, 'services/line1.yaml', service('line1-collector', `  replicas: 1\n${LOOP}  env:\n    LINE: "1"\n`));
    await serviceReady('line1-collector', 1);
    const [orig] = await running('line1-collector');
    const others = nodes().filter((n) => n.name !== orig!.node);
    // What the other engines do, from their own event streams, with the time the test heard it.
    const rec = await recordEngineEvents(others);
    // The grace period counts from when the engine stops answering (pinged
    // directly), not from the stop command: hack/fleet.sh kills the node's
    // containers first and waits for dockerd to exit, which takes seconds.
    const outage = await stopAndWatch(fleet.node(orig!.node).socket, () => fleet.stopNode(orig!.node));
    try {
      // Liveness: re-placed in the end (40 s: grace, resync and a container start, many times over).
      const moved = await waitFor(
        'the replica to run on another node',
        async () => {
          const c = (await containersOn(others)).filter((x) => x.service === 'line1-collector' && x.state === 'running');
          return c.length === 1 ? c[0] : undefined;
        },
        40_000,
      );
      expect(moved.node).not.toBe(orig!.node);
      // Safety: nothing of the service touched on another node within the grace
      // period. The controller counts it from its own last answered heartbeat,
      // which can be one heartbeat interval before the last ping this test
      // saw answered; it cannot have seen the engine gone sooner than that.
      const graceEnds = outage.lastAnsweredAt - HEARTBEAT_MS + GRACE_MS;
      const early = rec.events().filter((e) => e.service === 'line1-collector' && e.at < graceEnds);
      const first = rec.events().find((e) => e.service === 'line1-collector' && e.action === 'create');
      expect(
        early.map((e) => `${e.action} ${e.name}@${e.node} +${e.at - outage.stoppedAnsweringAt}ms`),
        'touched within the grace period',
      ).toEqual([]);
      expect(first, 'the re-placement was heard on the event stream').toBeDefined();
      expect(first!.at).toBeGreaterThanOrEqual(graceEnds);
      const doc = await ctl.status();
      expect(doc!.status.nodes.find((n) => n.name === orig!.node)!.reachable).toBe(false);
    } finally {
      rec.close();
      await fleet.startNode(orig!.node);
    }
    await waitFor(
      'exactly one replica again',
      async () => {
        const all = (await containersOn(nodes())).filter((x) => x.service === 'line1-collector');
        return all.length === 1 && all[0]!.state === 'running';
      },
      40_000,
    );
  });

  it('converges without duplicates after a SIGKILL in the middle of a rollout', async () => {
    writeManifest(desired, 'services/line1.yaml', service('line1-collector', `  replicas: 3\n${LOOP}  env:\n    LINE: "1"\n`));
    await serviceReady('line1-collector', 3);
    writeManifest(desired, 'services/line1.yaml', service('line1-collector', `  replicas: 3\n${LOOP}  env:\n    LINE: "2"\n`));
    await waitFor(
      'the rollout to start',
      async () => {
        const d = await ctl.status();
        const s = d?.status.services.find((x) => x.name === 'line1-collector');
        return s && s.upToDate >= 1 && s.upToDate < 3;
      },
      30_000,
      50,
    );
    await ctl.kill();
    ctl = startController({ desired, stateDir: state, grace: GRACE, resync: '2s' });
    await serviceReady('line1-collector', 3);
    const all = (await containersOn(nodes())).filter((x) => x.service === 'line1-collector');
    expect(all).toHaveLength(3);
    expect(new Set(all.map((x) => x.slot)).size).toBe(3);
    expect(new Set(all.map((x) => x.hash)).size).toBe(1);
  });

  it("never touched the operator's own container", async () => {
    const all = await containersOn(nodes(), true);
    const own = all.find((c) => c.name === 'operators-own');
    expect(own?.state).toBe('running');
    const listed = await runFogctl(['get', 'replicas', '--all', '--server', ctl.socket]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/Not managed by this controller/);
    expect(listed.stdout).toMatch(/press-1\s+operators-own\s+fog\/busybox:latest\s+running\s+<none>/);
  });
});
