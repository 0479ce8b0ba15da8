// fogctl logs SERVICE[/SLOT] [-f] [--since 10m] [--tail N] [--timestamps]:
// the logs of every replica of a service on every node, each line prefixed
// with replica@node, like `docker service logs` and `kubectl logs -l`.
//
// The replicas are found by their labels on each Node of the desired state
// (this cluster's fog.cluster and fog.service), so it works with or without a
// running controller. Docker's multiplexed log stream is split into stdout
// and stderr by docker-modem's demuxStream (dockerode's own helper); the
// engine is always asked for timestamps, so that lines of all replicas can be
// merged in time order, and they are shown only with --timestamps. fogctl adds
// nothing but the replica, node and time: never an env value.

import type { Command } from 'commander';
import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { DEFAULT_SETTINGS, type FogNode } from '../api/types.js';
import { fetchStatus, resolveServer } from '../controller/status-client.js';
import { Engine, EngineError, type EngineContainerSummary } from '../docker/engine.js';
import { loadDesired } from '../manifest/index.js';
import { ExitError } from './errors.js';
import { durationFlag } from './flags.js';

interface Flags {
  follow?: boolean;
  since?: string;
  tail?: string;
  timestamps?: boolean;
  desired?: string;
  cluster?: string;
  server?: string;
  callTimeout: string;
}

/** Lines are held this long when following, so that lines of several replicas arriving close together come out in time order. */
const MERGE_WINDOW_MS = 200;

interface Line {
  /** The engine's timestamp, normalised so that strings sort in time order. */
  key: string;
  stamp: string;
  prefix: string;
  text: string;
  err: boolean;
  at: number;
}

/** `web` or `web/2`. */
export function parseTarget(value: string): { service: string; slot?: number } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(?:\/(\d+))?$/.exec(value);
  if (!m) throw new ExitError(`${value}: name a service (fogctl logs opcua-collector) or one replica of it by slot (fogctl logs opcua-collector/0)`, 1);
  return m[3] === undefined ? { service: m[1]! } : { service: m[1]!, slot: Number(m[3]) };
}

/** --since: a duration back from now (10m, 1h30m) or an RFC 3339 time → Unix seconds for the engine. */
export function parseSince(value: string, nowMs: number): number {
  if (/^\d{4}-\d\d-\d\dT/.test(value)) {
    const t = Date.parse(value);
    if (Number.isNaN(t)) throw new ExitError(`--since ${value}: not a valid RFC 3339 time (2026-11-30T14:00:00Z) or duration (10m)`, 1);
    return t / 1000;
  }
  return (nowMs - durationFlag('--since', value)) / 1000;
}

/** RFC 3339 with up to 9 fraction digits (Docker trims trailing zeros) → a string that sorts in time order. */
export function sortKey(stamp: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(stamp);
  if (!m) return stamp;
  if (m[3] === 'Z') return `${m[1]!}.${(m[2] ?? '').padEnd(9, '0')}`;
  const ms = Date.parse(`${m[1]!}${m[3]!}`);
  return `${new Date(ms).toISOString().slice(0, 19)}.${(m[2] ?? '').padEnd(9, '0')}`;
}

/** A writable that cuts what the demuxer writes into lines (the last one may come in several chunks). */
function lineSink(onLine: (line: string) => void): Writable & { end(): void } {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      rest += chunk.toString('utf8');
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        onLine(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
      done();
    },
    final(done) {
      if (rest !== '') onLine(rest);
      rest = '';
      done();
    },
  });
}

function replicaName(c: EngineContainerSummary, service: string): string {
  const slot = c.Labels?.['fog.slot'];
  return slot === undefined ? service : `${service}-${slot}`;
}

export function registerLogs(program: Command, setCode: (c: number) => void): void {
  program
    .command('logs')
    .description('The logs of every replica of a service across the nodes, each line prefixed with replica@node (SERVICE/SLOT: one replica)')
    .argument('<service>', 'SERVICE, or SERVICE/SLOT for one replica')
    .option('-f, --follow', 'keep following (new lines of all replicas merged in time order) until interrupted or every replica stops')
    .option('--since <time>', 'only lines newer than a duration back (10m, 1h) or an RFC 3339 time')
    .option('--tail <n>', 'only the last N lines of each replica')
    .option('-t, --timestamps', "show the engine's timestamp of each line")
    .option('--desired <dir>', "folder of the Node manifests (default: the running controller's, else desired/)")
    .option('--cluster <name>', "this controller's cluster name (default: the running controller's, else default)")
    .option('--server <socket|127.0.0.1:port>', 'the controller to ask for the desired folder and cluster (default ./.fog/fogctl.sock, or FOG_SERVER)')
    .option('--call-timeout <duration>', 'deadline of each engine call until its logs start', '5s')
    .addHelpText('after', '\nExamples:\n  fogctl logs opcua-collector --tail 20\n  fogctl logs opcua-collector -f --since 10m\n  fogctl logs opcua-collector/1 --timestamps\n')
    .action(async (target: string, flags: Flags) => {
      const { service, slot } = parseTarget(target);
      const tail = flags.tail === undefined ? undefined : Number(flags.tail);
      if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0)) throw new ExitError(`--tail ${flags.tail}: must be a whole number of lines (0 or more)`, 1);
      const since = flags.since === undefined ? undefined : parseSince(flags.since, Date.now());
      const callTimeoutMs = durationFlag('--call-timeout', flags.callTimeout);

      // The controller (when one answers) says where its Node manifests are and which cluster it is.
      let desired = flags.desired;
      let cluster = flags.cluster;
      if (desired === undefined || cluster === undefined) {
        const got = await fetchStatus(resolveServer(flags.server), 2_000);
        if (got.ok) {
          desired ??= got.doc.desired.dir;
          cluster ??= got.doc.cluster;
        }
      }
      desired ??= 'desired';
      cluster ??= DEFAULT_SETTINGS.cluster;
      const loaded = await loadDesired([desired]);
      if (loaded.nodes.length === 0) throw new ExitError(`no Node manifests in ${desired}: point --desired at the folder fogctl run watches`, 1);

      const labels = [`fog.cluster=${cluster}`, `fog.service=${service}`, ...(slot === undefined ? [] : [`fog.slot=${slot}`])];
      const warn = (m: string) => process.stderr.write(`warning: ${m}\n`);
      const found = await Promise.all(loaded.nodes.map((n) => replicasOn(n, labels, callTimeoutMs, warn)));
      const replicas = found.flat().sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
      if (replicas.length === 0) {
        throw new ExitError(`no replica of ${target} (cluster ${cluster}) on the ${loaded.nodes.length} node(s) of ${desired}: check the name with fogctl get services, or --cluster`, 1);
      }
      const width = Math.max(...replicas.map((r) => r.prefix.length));
      const { default: Modem } = await import('docker-modem');

      const held: Line[] = [];
      const print = (l: Line) => {
        const text = `${flags.timestamps ? `${l.stamp} ` : ''}${l.prefix.padEnd(width)} | ${l.text}\n`;
        (l.err ? process.stderr : process.stdout).write(text);
      };
      const flush = (all: boolean) => {
        const now = performance.now();
        const ready = all ? held.splice(0) : held.filter((l) => now - l.at >= MERGE_WINDOW_MS);
        if (!all) for (const l of ready) held.splice(held.indexOf(l), 1);
        ready.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).forEach(print);
      };
      const ticker = flags.follow ? setInterval(() => flush(false), MERGE_WINDOW_MS / 2) : undefined;

      const streams: IncomingMessage[] = [];
      const stop = () => streams.forEach((s) => s.destroy());
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let failed = 0;
      await Promise.all(
        replicas.map(async (r) => {
          let res: IncomingMessage;
          try {
            res = await r.engine.containerLogs(r.id, { follow: flags.follow === true, ...(since !== undefined ? { since } : {}), ...(tail !== undefined ? { tail } : {}) });
          } catch (err) {
            failed++;
            warn(`${r.prefix}: cannot read its logs: ${(err as Error).message}`);
            return;
          }
          streams.push(res);
          const sink = (err: boolean) =>
            lineSink((raw) => {
              const sp = raw.indexOf(' ');
              const stamp = sp > 0 ? raw.slice(0, sp) : '';
              held.push({ key: sortKey(stamp), stamp, prefix: r.prefix, text: sp > 0 ? raw.slice(sp + 1) : raw, err, at: performance.now() });
            });
          const out = sink(false);
          const errOut = sink(true);
          // A TTY container's logs are one raw stream; any other is multiplexed (8-byte frame headers).
          if (r.tty) res.pipe(out);
          else Modem.prototype.demuxStream(res, out, errOut);
          await new Promise<void>((resolve) => {
            res.once('close', resolve);
            res.once('end', resolve);
          });
          out.end();
          errOut.end();
          await new Promise((r2) => setImmediate(r2));
        }),
      );
      if (ticker) clearInterval(ticker);
      flush(true);
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      for (const r of replicas) r.engine.close();
      setCode(failed === replicas.length ? 1 : 0);
    });
}

interface Replica {
  prefix: string;
  id: string;
  tty: boolean;
  engine: Engine;
}

/** This service's containers on one node; a node that cannot be asked is a warning, not the end. */
async function replicasOn(node: FogNode, labels: readonly string[], callTimeoutMs: number, warn: (m: string) => void): Promise<Replica[]> {
  const name = node.metadata.name;
  let engine: Engine;
  try {
    engine = Engine.forNode(node, { callTimeoutMs });
  } catch (err) {
    warn(`node ${name}: ${(err as Error).message}`);
    return [];
  }
  try {
    const list = await engine.listContainersLabelled(labels);
    const service = labels.find((l) => l.startsWith('fog.service='))!.slice('fog.service='.length);
    const out: Replica[] = [];
    for (const c of list) {
      const inspected = await engine.inspectContainer(c.Id);
      out.push({ prefix: `${replicaName(c, service)}@${name}`, id: c.Id, tty: inspected?.Config.Tty === true, engine });
    }
    return out;
  } catch (err) {
    warn(`node ${name}: cannot list its containers: ${err instanceof EngineError ? err.message : String(err)} (its replicas' logs are left out)`);
    return [];
  }
}
