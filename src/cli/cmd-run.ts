// fogctl run: the controller.

import type { Command } from 'commander';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoDigest } from '../api/image-ref.js';
import { DEFAULT_SETTINGS } from '../api/types.js';
import { systemClock } from '../runtime/clock.js';
import { Controller } from '../controller/controller.js';
import { createEngineFleet } from '../controller/engine-fleet.js';
import { checkLogFlags, rootLogger } from '../runtime/logger.js';
import { DEFAULT_STATE_DIR, SOCKET_NAME } from '../controller/status-client.js';
import { parseListen, serveStatus } from '../controller/status-server.js';
import { ControllerMetrics, metricsRoute } from '../controller/metrics.js';
import { EventStreams } from '../controller/events-api.js';
import { buildInfo } from './cmd-version.js';
import { startHeapTrim } from '../runtime/heap.js';
import { addPolicyOptions, parsePolicyFlags, type PolicyFlags } from './policy-flags.js';
import { addRunSyncFlags, startSyncForRun } from './cmd-sync.js';
import { ExitError } from './errors.js';
import { diskThresholdFlag, durationFlag, rateFlag } from './flags.js';
import { addHaFlags, parseHaFlags, type HaFlags } from './ha-flags.js';
import { acquireHostLock } from '../ha/host-lock.js';
import { identityOf } from '../ha/identity.js';
import { Elector } from '../ha/elector.js';
import { ActGate } from '../ha/gate.js';
import { ImagePins } from '../controller/image-pins.js';
import { RegistryAuth, RegistryAuthError } from '../docker/registry-auth.js';

export const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

interface RunFlags {
  desired: string;
  cluster: string;
  stateDir: string;
  listen?: string;
  grace: string;
  resync: string;
  callTimeout: string;
  heartbeat: string;
  heartbeatTimeout: string;
  heartbeatMaxRate: string;
  actionBackoffMax: string;
  imageSource: string;
  logLevel?: string;
  logFormat?: string;
  diskPressure: string;
  imageGc: string;
  registryAuth?: string;
}

export function registerRun(program: Command, setCode: (c: number) => void): void {
  const run = program
    .command('run')
    .description('Run the controller: watch the desired folder, observe every fog node, reconcile and apply, serve status')
    .option('--desired <dir>', 'folder of fog/v1 manifests to watch', 'desired')
    .option('--cluster <name>', "this controller's name, carried by every container it owns", 'default')
    .option('--state-dir <dir>', 'where the status socket and the rollout book (revisions, pins, pauses) live', process.env.FOG_STATE_DIR ?? DEFAULT_STATE_DIR)
    .option('--listen <socket|127.0.0.1:port>', 'status endpoint (default <state-dir>/fogctl.sock, mode 0600)')
    .option('--grace <duration>', 'how long a node may be unreachable before its replicas move', '10s')
    .option('--resync <duration>', 'full re-observation interval, the safety net under engine events (default: 10s, or 300ms per node beyond 33 nodes, at most 10m)', 'auto')
    .option('--call-timeout <duration>', 'timeout of every Docker API call', '5s')
    .option(
      '--heartbeat <duration>',
      "each node's engine is asked once per this interval (spread over it), with a long poll of its events that it ends just before the node's next turn; 2 turns in a row without an answer make the node NotReady (the second, a plain ping, is sent at once after the first miss). 0: no heartbeat (events on a stream of their own)",
      '2s',
    )
    .option(
      '--heartbeat-max-rate <turns/s>',
      "at most this many heartbeat turns a second across the fleet (as Nomad's max_heartbeats_per_second): a fleet larger than rate × --heartbeat gets a longer interval, in steps of 500ms (250: 2s up to 500 nodes, 4s at 1,000); 0: no cap",
      '250',
    )
    .option('--heartbeat-timeout <duration>', 'deadline of one heartbeat ping (for a long poll: after the end it was asked for)', '500ms')
    .option('--action-backoff-max <duration>', 'longest wait before a failed action is tried again (from 1s, doubling)', '5m')
    .option(
      '--disk-pressure <threshold>',
      'a node whose engine data root has less free space than this takes no new replicas (DiskPressure): a percentage of the data root, a size, or both (the smaller counts); none: never',
      '5%,500Mi',
    )
    .option('--image-gc <threshold>', 'unused images of ours are removed from a node whose data root has less free space than this (as --disk-pressure); none: only on fogctl images prune', '15%,2Gi')
    .option(
      '--image-source <registry|peers>',
      'where a node missing an image gets it first: its registry (peers only when that fails or the Node says images.pull: never), or peers: a copy from a node that has it, so the uplink carries each image once',
      'registry',
    )
    .option('--registry-auth <file>', 'Docker config.json with credentials per registry ("auths"), sent with pulls and tag lookups; read again when it changes')
    .option('--log-level <level>', 'trace | debug | info | warn | error (default info, or FOG_LOG_LEVEL)')
    .option('--log-format <format>', 'auto (one readable line per event on a terminal, JSON otherwise) | json | pretty (default auto, or FOG_LOG_FORMAT)')
    .addHelpText(
      'after',
      '\nExamples:\n  fogctl run --desired desired/\n  fogctl run --desired /srv/fog/desired --sync-repo file:///srv/git/plant.git --sync-ref main --sync-path fleet\n  fogctl run --desired /srv/fog/current --cluster plant-a --listen 127.0.0.1:7420\n\nStops cleanly on SIGTERM/SIGINT; running containers are left as they are.\n',
    );
  addHaFlags(addPolicyOptions(addRunSyncFlags(run))).action(async (flags: RunFlags & PolicyFlags & HaFlags) => {
    if (!CLUSTER_NAME.test(flags.cluster)) throw new ExitError(`--cluster ${flags.cluster}: must be 1-32 lowercase letters, digits or '-', starting and ending with a letter or digit`, 1);
    const policy = parsePolicyFlags(flags);
    if (!policy.ok) throw new ExitError(policy.error, 1);
    const actionBackoffMax = durationFlag('--action-backoff-max', flags.actionBackoffMax);
    if (actionBackoffMax < DEFAULT_SETTINGS.actionBackoffBase) throw new ExitError(`--action-backoff-max ${flags.actionBackoffMax}: must be at least 1s (the first wait)`, 1);
    const diskPressure = diskThresholdFlag('--disk-pressure', flags.diskPressure);
    const imageGc = diskThresholdFlag('--image-gc', flags.imageGc);
    if (flags.imageSource !== 'registry' && flags.imageSource !== 'peers') throw new ExitError(`--image-source ${flags.imageSource}: must be registry or peers`, 1);
    const settings = {
      ...DEFAULT_SETTINGS,
      cluster: flags.cluster,
      nodeGracePeriod: durationFlag('--grace', flags.grace),
      actionBackoffMax,
      policy: policy.policy,
      ...(diskPressure !== undefined ? { diskPressure } : {}),
      ...(flags.imageSource === 'peers' ? { imageSource: 'peers' as const } : {}),
    };
    const ha = parseHaFlags(flags);
    const logFlags = checkLogFlags(flags.logLevel, flags.logFormat);
    if (logFlags) throw new ExitError(logFlags, 1);
    const logger = rootLogger({ level: flags.logLevel, format: flags.logFormat });
    const listen = parseListen(flags.listen ?? join(flags.stateDir, SOCKET_NAME));
    mkdirSync(flags.stateDir, { recursive: true, mode: 0o700 });
    // One controller per state directory on this host: refuse to start next to another (it would take over the socket, and both would act).
    const me = identityOf(flags.desired, Date.now());
    const lock = await acquireHostLock(flags.stateDir, { pid: me.pid, start: me.start, desired: flags.desired, cluster: flags.cluster });
    if (!lock.ok) throw new ExitError(lock.message, 1);
    const heartbeatMs = durationFlag('--heartbeat', flags.heartbeat);
    const maxRate = rateFlag('--heartbeat-max-rate', flags.heartbeatMaxRate, 'no cap');
    const heartbeat = heartbeatMs > 0 && { intervalMs: heartbeatMs, timeoutMs: durationFlag('--heartbeat-timeout', flags.heartbeatTimeout), maxRate };
    if (heartbeat && heartbeat.timeoutMs <= 0) throw new ExitError(`--heartbeat-timeout ${flags.heartbeatTimeout}: must be more than 0`, 1);
    let onLeadership = () => {};
    const elector = ha.etcd && new Elector({ etcd: ha.etcd.options, cluster: flags.cluster, me, timing: ha.etcd.timing, clock: systemClock, logger, onChange: () => onLeadership() });
    const gate = new ActGate({ cluster: flags.cluster, me, clock: systemClock, logger, conflictGraceMs: ha.conflictGraceMs, ...(elector ? { elector } : {}) });
    const actor = {
      refusal: () => {
        const v = gate.verdict();
        return v.act ? undefined : v.why;
      },
      labels: () => gate.labels(),
    };
    const registryAuth = loadRegistryAuth(flags.registryAuth);
    const metrics = new ControllerMetrics(buildInfo());
    const fleet = createEngineFleet({
      clock: systemClock,
      logger,
      callTimeoutMs: durationFlag('--call-timeout', flags.callTimeout),
      cluster: flags.cluster,
      watchEvents: true,
      heartbeat,
      actor,
      onEngineCall: metrics.engineCall,
      ...(registryAuth ? { registryAuth } : {}),
    });
    const controller = new Controller({
      gate,
      desiredDir: flags.desired,
      settings,
      fleet,
      clock: systemClock,
      logger,
      resyncMs: flags.resync === 'auto' ? undefined : durationFlag('--resync', flags.resync),
      stateDir: flags.stateDir,
      commit: () => sync?.status().current?.sha,
      metrics,
      imageGc: imageGc !== undefined ? { threshold: imageGc } : {},
      imagePins: new ImagePins({
        ...(registryAuth ? { auth: registryAuth } : {}),
        nodeDigest: async (image) => repoDigest(fleet.nodeImage?.(image), image),
        onNodes: (image) => fleet.nodeImage?.(image) !== undefined,
        now: systemClock.now,
        logger,
        onResolved: () => controller.reconsider('image tag resolved'),
      }),
    });
    // GitOps: --desired is then the symlink that the sync swaps atomically.
    const sync = await startSyncForRun(flags, flags.desired, { clock: systemClock, logger, onSwap: () => controller.markDesired('sync') });
    controller.extraStatus = () => ({ ...(sync ? { sync: sync.status() } : {}), control: gate.view() });
    onLeadership = () => controller.reconsider('leadership changed');
    // Beside the status document: GET /metrics (Prometheus) and /v1/events (fogctl events).
    const events = new EventStreams({ events: () => controller.eventList(), onStatus: (cb) => controller.onStatus(cb) });
    const server = await serveStatus(
      listen,
      () => controller.statusDoc(),
      (cb) => controller.onStatus(cb),
      [metricsRoute(metrics, () => controller.statusDoc()), (req, res, url) => events.handle(req, res, url)],
      (service, cmd) => controller.command(service, cmd),
      (req) => controller.pruneImages(req),
    );
    const dashboard = 'socket' in listen ? 'fogctl dashboard' : `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}/`;
    // Only the socket this process made is removed when it stops (compared by inode).
    const socketIno = 'socket' in listen ? statSync(listen.socket).ino : undefined;
    logger.info(
      {
        desired: flags.desired,
        cluster: flags.cluster,
        identity: gate.identity,
        status: 'socket' in listen ? listen.socket : `${listen.host}:${listen.port}`,
        dashboard,
        etcd: ha.etcd?.options.endpoints,
      },
      'controller started',
    );
    controller.start();
    elector?.start();
    const stopHeapTrim = startHeapTrim((ms) => controller.quietFor(ms));
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.info({ signal }, 'stopping; containers are left running');
        resolve();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    stopHeapTrim();
    await sync?.stop();
    await controller.stop();
    await elector?.stop();
    events.close();
    await new Promise<void>((r) => server.close(() => r()));
    if ('socket' in listen && socketIno !== undefined && statSync(listen.socket, { throwIfNoEntry: false })?.ino === socketIno) rmSync(listen.socket, { force: true });
    await lock.release();
    logger.flush?.();
    setCode(0);
  });
}

function loadRegistryAuth(file: string | undefined): RegistryAuth | undefined {
  if (file === undefined) return undefined;
  try {
    return new RegistryAuth(file);
  } catch (err) {
    if (err instanceof RegistryAuthError) throw new ExitError(`--registry-auth ${err.message}`, 1);
    throw err;
  }
}
