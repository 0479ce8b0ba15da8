// How fast the controller notices a silent node on real engines: a LAN of two
// dockerd in network namespaces (hack/lan.sh through test/support/lan.ts),
// reached over TCP with mutual TLS, and a `fogctl run` child with its default
// heartbeat (2 s interval, 500 ms deadline, 2 misses):
//
//   real.partition_to_notready_ms  `hack/lan.sh partition` (every packet dropped, no RST) → the controller marks the node NotReady, median of ≥ 5
//   real.hung_to_notready_ms       `hack/lan.sh freeze` (dockerd and containerd SIGSTOPped: TCP accepted, nothing answered) → NotReady, median of ≥ 5
//   real.partition_to_replaced_ms  `hack/lan.sh partition` of the node running a 1-replica service → that replica running on the
//                                  other node (its engine's own event stream), with --grace 5s; median of ≥ 5; goal ≤ grace + 3 s
//
// "NotReady" is the controller's own record: its `node lost` log line (the
// moment the observer marks the node unreachable and asks for a pass),
// confirmed by the status API. Timed from just before the fault verb runs
// (conservative: the script's own start-up counts). After each sample the
// fault is lifted and the node must be Ready again (status API) first.

import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import Docker from 'dockerode';
import { join } from 'node:path';
import { startLan } from '../../test/support/lan.js';
import { Cleanup, median, round, sleep, startController, tempDir, type ControllerProc } from '../hollow/bench-kit.js';

const GRACE_MS = 30_000;
const MOVE_GRACE_MS = 5_000;

async function waitUntil<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (performance.now() > end) throw new Error(`bench liveness: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The controller's `node lost` lines (JSON logs on stderr), as they come. */
export function watchLost(ctl: ControllerProc): { next(node: string, timeoutMs: number): Promise<number>; close(): void } {
  const waiters = new Map<string, (at: number) => void>();
  let buf = '';
  const onData = (d: Buffer) => {
    const at = performance.now();
    buf += d.toString();
    for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) {
      const line = buf.slice(0, nl);
      if (!line.includes('node lost')) continue;
      try {
        const node = (JSON.parse(line) as { node?: string }).node;
        if (node && waiters.has(node)) {
          waiters.get(node)!(at);
          waiters.delete(node);
        }
      } catch {
        // not a JSON log line
      }
    }
  };
  ctl.proc.stderr?.on('data', onData);
  return {
    next: (node, timeoutMs) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => (waiters.delete(node), reject(new Error(`the controller did not report ${node} lost within ${timeoutMs} ms`))), timeoutMs);
        waiters.set(node, (at) => (clearTimeout(t), resolve(at)));
      }),
    close: () => ctl.proc.stderr?.off('data', onData),
  };
}

/** Polls the status API until `node` is reachable (or not), as wanted. */
export async function untilReachable(ctl: ControllerProc, node: string, reachable: boolean, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    const doc = await ctl.status(2_000).catch(() => undefined);
    if (doc?.status.nodes.find((n) => n.name === node)?.reachable === reachable) return;
    await sleep(100);
  }
  throw new Error(`${node} not ${reachable ? 'Ready' : 'NotReady'} in the status within ${timeoutMs} ms:\n${ctl.logs().slice(-2000)}`);
}

export async function benchLiveness({ quick }: { quick: boolean }): Promise<Record<string, number>> {
  const samples = quick ? 5 : 7;
  const cleanup = new Cleanup();
  const out: Record<string, number> = {};
  const log = (m: string) => process.stderr.write(`bench liveness: ${m}\n`);
  try {
    const lan = await startLan([{ name: 'lv1' }, { name: 'lv2' }]);
    cleanup.add(() => lan.stop());
    const dir = tempDir('fv-', cleanup);
    const desired = join(dir, 'd');
    mkdirSync(join(desired, 'nodes'), { recursive: true });
    for (const f of readdirSync(join(lan.dir, 'nodes'))) copyFileSync(join(lan.dir, 'nodes', f), join(desired, 'nodes', f));
    const ctl = startController({ desired, stateDir: join(dir, 's'), grace: `${GRACE_MS / 1000}s`, resync: '10s', callTimeout: '5s' }, cleanup);
    const lost = watchLost(ctl);
    cleanup.add(() => lost.close());
    for (const n of lan.nodes) await untilReachable(ctl, n.name, true, 30_000);

    const run = async (what: string, fault: (n: (typeof lan.nodes)[number]) => Promise<void>, lift: (n: (typeof lan.nodes)[number]) => Promise<void>) => {
      const ms: number[] = [];
      for (let k = 0; k < samples; k++) {
        const n = lan.nodes[k % lan.nodes.length]!;
        // A random phase against the heartbeat's turn, as a real cable would be pulled.
        await sleep(1_000 + Math.random() * 1_000);
        const seen = lost.next(n.name, 30_000);
        const t0 = performance.now();
        await fault(n);
        try {
          ms.push((await seen) - t0);
          await untilReachable(ctl, n.name, false, 5_000);
        } finally {
          await lift(n);
        }
        await untilReachable(ctl, n.name, true, 30_000);
      }
      log(`${what} → NotReady: ${ms.map(Math.round).join(', ')} ms`);
      return round(median(ms));
    };
    out['real.partition_to_notready_ms'] = await run(
      'partition',
      (n) => n.partition(),
      (n) => n.heal(),
    );
    out['real.hung_to_notready_ms'] = await run(
      'freeze (hung engine)',
      (n) => n.freeze(),
      (n) => n.thaw(),
    );
    await ctl.stop();

    // Partition → replaced: a second controller with a short grace and one replica to move.
    writeFileSync(
      join(desired, 'mover.yaml'),
      `apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: mover\nspec:\n  image: fog/busybox:latest\n  network: none\n  command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]\n  stopGracePeriod: 1\n`,
    );
    const ctl2 = startController({ desired, stateDir: join(dir, 's2'), grace: `${MOVE_GRACE_MS / 1000}s`, resync: '10s', callTimeout: '5s' }, cleanup);
    const engines = new Map(lan.nodes.map((n) => [n.name, new Docker({ socketPath: n.socket, timeout: 5_000 })]));
    const runningOn = async (node: string) => (await engines.get(node)!.listContainers({ filters: { label: ['fog.service=mover'], status: ['running'] } })).length > 0;
    const where = async () => {
      for (const n of lan.nodes) if (await runningOn(n.name)) return n;
      return undefined;
    };
    const moves: number[] = [];
    for (let k = 0; k < 5; k++) {
      const from = await waitUntil('mover running on exactly one node', async () => {
        const on = await Promise.all(lan.nodes.map((n) => runningOn(n.name)));
        return on.filter(Boolean).length === 1 ? where() : undefined;
      });
      await untilReachable(ctl2, from.name, true, 30_000);
      await sleep(1_000 + Math.random() * 1_000);
      const to = lan.nodes.find((n) => n !== from)!;
      const t0 = performance.now();
      await from.partition();
      try {
        await waitUntil(`mover running on ${to.name}`, () => runningOn(to.name), 60_000, 50);
        moves.push(performance.now() - t0);
      } finally {
        await from.heal();
      }
      await untilReachable(ctl2, from.name, true, 30_000);
    }
    log(`partition → replaced (grace ${MOVE_GRACE_MS} ms): ${moves.map(Math.round).join(', ')} ms`);
    out['real.partition_to_replaced_ms'] = round(median(moves));
    out['real.partition_to_replaced_grace_ms'] = MOVE_GRACE_MS;
    return out;
  } finally {
    await cleanup.run();
  }
}
