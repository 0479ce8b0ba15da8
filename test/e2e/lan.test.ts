// The controller end to end on the LAN fleet (hack/lan.sh through
// test/support/lan.ts): three fog nodes, each a network namespace on one
// bridge, whose engines the controller reaches over TCP with mutual TLS, with
// bridge networking and published ports. The faults are the ones a shop
// floor has: a pulled cable (silent partition), a power cut, a hung engine.
//
// - Discovery that follows moves: a client reaches a server on another node
//   through the LAN (SERVER_HOST/SERVER_PORT from dependsOn); the server's
//   node is partitioned; after the grace period the server runs elsewhere and
//   the client, recreated with the new SERVER_HOST, reaches it again.
// - Partition, power cut and hang: nothing moves within the grace period,
//   after it the replica runs on another node, and when the node comes back
//   the surplus copy is removed (keep-replacement) so the count is exact.
//
// What the engines hold is asked directly, on each node's unix socket (which
// the host reaches even while the node's LAN side is cut), never through fog.
// Times are printed; the bounds asserted are liveness bounds with margin,
// meant to hold whether a silent node is noticed at the next resync or by a
// heartbeat. Speed figures belong to `npm run bench`.

import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HEARTBEAT } from '../../src/observe/heartbeat.js';
import { startLan, type Lan, type LanNode } from '../support/lan.js';
import { containersOn, recordEngineEvents, startController, tempDir, waitConverged, waitFor, writeManifest, type ManagedContainer, type RunningController } from './harness.js';

/** The controller's --grace. */
const GRACE = '5s';
const GRACE_MS = 5_000;
/**
 * The grace period counts from the node's last answer to its heartbeat (as
 * Kubernetes counts from the last heartbeat), which can be up to one
 * heartbeat interval (the default's) before the fault, plus a tick of the
 * heartbeat's timer: the earliest a move may start is fault + grace − that.
 */
const EARLIEST_MS = GRACE_MS - DEFAULT_HEARTBEAT.intervalMs - 100;
/** How long after the fault a replica must run elsewhere at the latest: grace plus detection, two container starts and a loaded machine. */
const MOVED_WITHIN_MS = GRACE_MS + 25_000;
/** How long after the partition the client must reach the server again at the latest (the brief's grace + 5 s, with margin). */
const RECONNECTED_WITHIN_MS = GRACE_MS + 15_000;
const HOST_PORT = 18090;

let lan: Lan | undefined;
let ctl: RunningController | undefined;
let desired = '';
let state = '';

const the = () => lan!;
/** Every node's plain unix socket: answers during a partition (the host reaches it directly), not while frozen or powered off. */
const engines = (except?: string) =>
  the()
    .nodes.filter((n) => n.name !== except)
    .map((n) => ({ name: n.name, socket: n.socket }));
const docker = (n: { socket: string }) => new Docker({ socketPath: n.socket, timeout: 5_000 });
const ofService = async (service: string, on = engines()) => (await containersOn(on)).filter((c) => c.service === service);
const runningOf = async (service: string, on = engines()) => (await ofService(service, on)).filter((c) => c.state === 'running');
const ms = (n: number) => `${(n / 1000).toFixed(2)} s`;

beforeAll(async () => {
  // Startup failure throws: this file fails, never skips, without engines.
  lan = await startLan([
    { name: 'cell-a', labels: { zone: 'a' } },
    { name: 'cell-b', labels: { zone: 'b' } },
    { name: 'cell-c', labels: { zone: 'c' } },
  ]);
  desired = tempDir('fog-lan-desired-');
  state = tempDir('fog-lan-state-');
  mkdirSync(join(desired, 'nodes'));
  // The Node manifests lan.sh wrote: tcp://ADDR:2376, the fleet's client certificate, address.
  for (const n of lan.nodes) copyFileSync(`${lan.dir}/nodes/${n.name}.yaml`, join(desired, 'nodes', `${n.name}.yaml`));
  ctl = startController({ desired, stateDir: state, cluster: 'lan-e2e', grace: GRACE, resync: '2s' });
  await waitFor(
    'the controller to see all three nodes reachable',
    async () => {
      const doc = await ctl!.status();
      return doc !== undefined && doc.status.nodes.length === 3 && doc.status.nodes.every((n) => n.reachable);
    },
    60_000,
  );
});

afterAll(async () => {
  await ctl?.kill();
  try {
    await lan?.stop();
  } finally {
    for (const d of [desired, state]) if (d) rmSync(d, { recursive: true, force: true });
  }
});

function service(name: string, spec: string): string {
  return `apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  image: fog/busybox:latest\n${spec}`;
}

// The server answers `hello` on 8090 to every connection (busybox nc: -ll
// keeps listening with -e). busybox's wget segfaults as a static binary, so
// both sides use nc.
const SERVER = service(
  'server',
  `  network: bridge
  ports: ["${HOST_PORT}:8090"]
  command: ["nc", "-ll", "-p", "8090", "-e", "echo", "hello"]
  stopGracePeriod: 1s
  placement:
    antiAffinity: [client]
`,
);

// The client connects to what dependsOn handed it, five times a second, and
// logs each answer with the address it used.
const CLIENT = service(
  'client',
  `  network: bridge
  dependsOn: [server]
  command: |
    trap 'exit 0' TERM
    while true; do
      r=$(nc -w 1 "$SERVER_HOST" "$SERVER_PORT" </dev/null 2>&1)
      if [ "$r" = hello ]; then echo "reached $SERVER_HOST:$SERVER_PORT hello"; else echo "failed $SERVER_HOST:$SERVER_PORT [$r]"; fi
      sleep 0.2
    done
  stopGracePeriod: 1s
  placement:
    antiAffinity: [server]
`,
);

/** The client container's `reached ADDR:PORT hello` lines, each with the engine's timestamp (Date.now() scale). */
async function reached(c: ManagedContainer): Promise<{ at: number; target: string }[]> {
  const n = the().node(c.node);
  const buf = await docker(n).getContainer(c.id).logs({ stdout: true, stderr: true, timestamps: true });
  const out: { at: number; target: string }[] = [];
  for (const m of buf.toString('latin1').matchAll(/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,3})?\d*Z reached (\S+) hello/g)) {
    out.push({ at: Date.parse(`${m[1]}${m[2] ?? ''}Z`), target: m[3]! });
  }
  return out;
}

async function envOf(c: ManagedContainer): Promise<Record<string, string>> {
  const info = await docker(the().node(c.node)).getContainer(c.id).inspect();
  return Object.fromEntries((info.Config.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

/** The one running replica of `service` on a node other than `from`, asked on the other engines. */
function movedOff(service: string, from: string, timeoutMs = MOVED_WITHIN_MS): Promise<ManagedContainer> {
  return waitFor(
    `${service} to run on a node other than ${from}`,
    async () => {
      const c = await runningOf(service, engines(from));
      return c.length === 1 ? c[0] : undefined;
    },
    timeoutMs,
    100,
  );
}

describe('the controller on the LAN fleet (TCP, mutual TLS, bridge networking)', () => {
  it('hands a dependent its provider on another node, and the dependent follows when the provider moves', async () => {
    writeManifest(desired, 'services/server.yaml', SERVER);
    writeManifest(desired, 'services/client.yaml', CLIENT);
    await waitConverged(ctl!, engines(), { server: 1, client: 1 }, 60_000);
    const [server] = await runningOf('server');
    const [client] = await runningOf('client');
    const home = the().node(server!.node);
    expect(client!.node).not.toBe(home.name);
    // dependsOn hands the client the server's node address on the LAN and its published port.
    const env = await envOf(client!);
    expect(env.SERVER_HOST).toBe(home.address);
    expect(env.SERVER_PORT).toBe(String(HOST_PORT));
    // The client on its own node reaches the server's published port through the LAN.
    await waitFor('the client to reach the server on its first node', async () => (await reached(client!)).some((l) => l.target === `${home.address}:${HOST_PORT}`), 20_000, 200);

    const others = engines(home.name);
    const rec = await recordEngineEvents(others);
    let moved: ManagedContainer;
    let partitionedAt: number;
    try {
      partitionedAt = Date.now();
      await home.partition();
      moved = await movedOff('server', home.name);
      // The client is recreated (a changed env is a new spec hash: a rolling update) with the new address, and reaches it.
      const target = `${the().node(moved.node).address}:${HOST_PORT}`;
      const back = await waitFor(
        'the client to reach the server on its new node',
        async () => {
          for (const c of await runningOf('client', others)) {
            const hit = (await reached(c)).find((l) => l.target === target);
            if (hit) return { c, at: hit.at };
          }
          return undefined;
        },
        MOVED_WITHIN_MS,
        200,
      );
      const created = rec.events().find((e) => e.service === 'server' && e.action === 'create');
      const started = rec.events().find((e) => e.service === 'server' && e.action === 'start');
      const early = rec.events().filter((e) => e.service === 'server' && e.at < partitionedAt + EARLIEST_MS);
      const clientSteps = rec
        .events()
        .filter((e) => e.service === 'client' && ['die', 'destroy', 'create', 'start'].includes(e.action))
        .map((e) => `${e.action} +${ms(e.at - started!.at)}`);
      console.log(
        `[lan e2e] server partitioned on ${home.name}: created on ${moved.node} after ${ms(created!.at - partitionedAt)}, started after ${ms(started!.at - partitionedAt)}; ` +
          `client reached it again after ${ms(back.at - partitionedAt)} (${ms(back.at - started!.at)} after the new server started; client ${clientSteps.join(', ')}); grace ${GRACE}`,
      );
      expect(
        early.map((e) => `${e.action} ${e.name}@${e.node} +${e.at - partitionedAt}ms`),
        'server touched within the grace period',
      ).toEqual([]);
      expect(created!.at).toBeGreaterThanOrEqual(partitionedAt + EARLIEST_MS);
      expect(back.at - partitionedAt, 'partition → client reached the server again, ms').toBeLessThanOrEqual(RECONNECTED_WITHIN_MS);
      expect((await envOf(back.c)).SERVER_HOST).toBe(the().node(moved.node).address);
      expect(back.c.id).not.toBe(client!.id);
      // What the engines hold: the partitioned node's server still runs there (nothing could stop it),
      // one server and one client elsewhere, and the old client is gone.
      const onHome = await ofService('server', [{ name: home.name, socket: home.socket }]);
      expect(onHome.map((c) => `${c.id}:${c.state}`)).toEqual([`${server!.id}:running`]);
      expect((await runningOf('server', others)).map((c) => c.id)).toEqual([moved.id]);
      expect((await ofService('client')).map((c) => c.id)).toEqual([back.c.id]);
    } finally {
      rec.close();
      await home.heal();
    }
    // Healed: the surplus server on the returned node is removed (keep-replacement); one of each, on the replacement.
    const healedAt = Date.now();
    const heal = await recordEngineEvents(engines());
    try {
      await waitConverged(ctl!, engines(), { server: 1, client: 1 }, 60_000);
      const servers = await ofService('server');
      expect(servers.map((c) => `${c.id}@${c.node}`)).toEqual([`${moved.id}@${moved.node}`]);
      const [c] = await ofService('client');
      expect((await envOf(c!)).SERVER_HOST).toBe(the().node(moved.node).address);
      // Printed, not asserted: today a heal re-points the client at the returned copy (lowest node name) until it is removed.
      const steps = heal
        .events()
        .filter((e) => (e.service === 'client' && e.action === 'create') || (e.service === 'server' && e.action === 'destroy'))
        .map((e) => `${e.service} ${e.action}@${e.node} +${ms(e.at - healedAt)}`);
      console.log(`[lan e2e] after heal: ${steps.join(', ')}`);
    } finally {
      heal.close();
    }
    rmSync(join(desired, 'services/client.yaml'));
    rmSync(join(desired, 'services/server.yaml'));
    await waitFor('server and client to be gone', async () => (await containersOn(engines())).every((c) => c.service !== 'server' && c.service !== 'client'), 30_000);
  });

  const faults: { name: string; fault: (n: LanNode) => Promise<void>; restore: (n: LanNode) => Promise<void> }[] = [
    { name: 'partition (a pulled cable: silence)', fault: (n) => n.partition(), restore: (n) => n.heal() },
    { name: 'power cut (traffic dropped, every process killed)', fault: (n) => n.powercut(), restore: (n) => n.start() },
    { name: 'hang (the engine accepts TCP and never answers)', fault: (n) => n.freeze(), restore: (n) => n.thaw() },
  ];

  for (const [i, f] of faults.entries()) {
    it(`${f.name}: nothing moves within the grace period, the replica runs elsewhere after it, the surplus goes on return`, async () => {
      const name = `solo-${i}`;
      writeManifest(
        desired,
        `services/${name}.yaml`,
        service(name, `  network: none\n  replicas: 1\n  command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]\n  stopGracePeriod: 1s\n`),
      );
      await waitConverged(ctl!, engines(), { [name]: 1 }, 60_000);
      const [orig] = await runningOf(name);
      const node = the().node(orig!.node);
      const others = engines(node.name);
      const rec = await recordEngineEvents(others);
      let moved: ManagedContainer;
      let faultAt: number;
      try {
        faultAt = Date.now();
        await f.fault(node);
        moved = await movedOff(name, node.name);
        const created = rec.events().find((e) => e.service === name && e.action === 'create');
        const early = rec.events().filter((e) => e.service === name && e.at < faultAt + EARLIEST_MS);
        console.log(`[lan e2e] ${f.name} of ${node.name}: ${name} created on ${moved.node} after ${ms(created!.at - faultAt)} (grace ${GRACE})`);
        // Safety: the node answered until at most one heartbeat interval before the fault, so nothing of the service moves before that + grace.
        expect(
          early.map((e) => `${e.action} ${e.name}@${e.node} +${e.at - faultAt}ms`),
          'touched within the grace period',
        ).toEqual([]);
        expect(created!.at).toBeGreaterThanOrEqual(faultAt + EARLIEST_MS);
        expect(moved.node).not.toBe(node.name);
        const doc = await ctl!.status();
        expect(doc!.status.nodes.find((n) => n.name === node.name)!.reachable).toBe(false);
        // A partitioned node's engine still answers on its own socket: its copy runs on, unseen by the controller.
        if (i === 0) expect((await runningOf(name, [{ name: node.name, socket: node.socket }])).map((c) => c.id)).toEqual([orig!.id]);
      } finally {
        rec.close();
        await f.restore(node);
      }
      // Back: the original copy (still running, or started again by its restart policy after the power cut) is the surplus.
      await waitConverged(ctl!, engines(), { [name]: 1 }, 60_000);
      expect((await ofService(name)).map((c) => `${c.id}@${c.node}`)).toEqual([`${moved.id}@${moved.node}`]);
      rmSync(join(desired, `services/${name}.yaml`));
      await waitFor(`${name} to be gone`, async () => (await ofService(name)).length === 0, 30_000);
    });
  }
});
