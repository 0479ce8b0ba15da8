// Failover on etcd (issue 14): two controllers with --ha-etcd against one
// real local Docker daemon and one real etcd member (Debian's etcd-server),
// fogctl's default lease (10 s; renew deadline 6.67 s, retry period 2 s).
//
//   real.failover_ms  the leader SIGKILLed → the first action of the new leader
//                     on a change made right after the kill (the container's
//                     create event on the engine); median of the samples
//   real.failover_ms_min / _max  the spread of the same samples
//
// Kubernetes' controllers (client-go defaults: lease 15 s, renew deadline 10 s,
// retry 2 s) take over within lease + retry of a crash: up to ~17 s.

import { join } from 'node:path';
import Docker from 'dockerode';
import type { IncomingMessage } from 'node:http';
import { startFleet } from '../../test/support/fleet.js';
import { startEtcd } from '../../test/support/etcd.js';
import { Cleanup, median, onJsonLines, round, sleep, startController, tempDir, writeFile, type ControllerProc } from '../hollow/bench-kit.js';
import { writeNodeManifests } from '../hollow/manifests.js';
import { serviceYaml } from './real.js';

export async function benchFailover({ quick }: { quick: boolean }): Promise<Record<string, number>> {
  const samples = quick ? 5 : 7;
  const cleanup = new Cleanup();
  const log = (m: string) => process.stderr.write(`bench failover: ${m}\n`);
  try {
    const fleet = await startFleet([{ name: 'fo1' }]);
    cleanup.add(() => fleet.stop());
    const etcd = await startEtcd(1);
    cleanup.add(() => etcd.stop());
    const creates = new Map<string, number>();
    const docker = new Docker({ socketPath: fleet.node('fo1').socket });
    const stream = (await docker.getEvents({ filters: { type: ['container'], event: ['create'] } })) as IncomingMessage;
    cleanup.add(() => stream.destroy());
    onJsonLines<{ Actor?: { Attributes?: Record<string, string> } }>(stream, (e) => {
      const service = e.Actor?.Attributes?.['fog.service'];
      if (service && !creates.has(service)) creates.set(service, performance.now());
    });

    const dir = tempDir('ffo-', cleanup);
    const desired = join(dir, 'd');
    writeNodeManifests(desired, [{ name: 'fo1', endpoint: fleet.node('fo1').endpoint, labels: {}, devices: [] }]);
    const run = (which: string) =>
      startController({ desired, stateDir: join(dir, which), grace: '10s', runFlags: ['--ha-etcd', etcd.urls, '--log-level', process.env.FOG_BENCH_LOG_LEVEL ?? 'warn'] }, cleanup);
    const ctl: Record<string, ControllerProc> = { a: run('a') };
    // a first, so that it leads; then b, the standby.
    const roleOf = async (c: ControllerProc) => (await c.status(2_000).catch(() => undefined))?.control?.election?.role;
    const waitRole = async (c: ControllerProc, want: 'leader' | 'standby') => {
      for (let i = 0; (await roleOf(c)) !== want; i++) {
        if (i > 600) throw new Error(`controller did not become ${want} within 60 s:\n${c.logs().slice(-2000)}`);
        await sleep(100);
      }
    };
    await waitRole(ctl.a!, 'leader');
    ctl.b = run('b');
    await waitRole(ctl.b, 'standby');

    const got: number[] = [];
    for (let k = 0; k < samples; k++) {
      const leaderName = (await roleOf(ctl.a!)) === 'leader' ? 'a' : 'b';
      const standbyName = leaderName === 'a' ? 'b' : 'a';
      const leader = ctl[leaderName]!;
      // A renewal at a random point of its retry period, as a crash would find it.
      await sleep(Math.random() * 2_000);
      const exited = new Promise<void>((r) => leader.proc.once('exit', () => r()));
      const t0 = performance.now();
      leader.proc.kill('SIGKILL');
      await exited;
      const service = `fo-${k}`;
      writeFile(join(desired, 'services', `${service}.yaml`), serviceYaml(service));
      for (const deadline = performance.now() + 60_000; !creates.has(service);) {
        if (performance.now() > deadline) throw new Error(`no create of ${service} within 60 s of the leader's SIGKILL:\n${ctl[standbyName]!.logs().slice(-6000)}`);
        await sleep(5);
      }
      const ms = creates.get(service)! - t0;
      got.push(ms);
      log(`sample ${k + 1}: leader ${leaderName} SIGKILLed → ${standbyName} created ${service} after ${Math.round(ms)} ms`);
      ctl[leaderName] = run(leaderName);
      await waitRole(ctl[leaderName], 'standby');
    }
    log(`samples (ms): ${got.map((x) => Math.round(x)).join(', ')}`);
    return { 'real.failover_ms': round(median(got)), 'real.failover_ms_min': round(Math.min(...got)), 'real.failover_ms_max': round(Math.max(...got)) };
  } finally {
    await cleanup.run();
  }
}
