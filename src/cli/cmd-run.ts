// fogctl run: the controller.

import type { Command } from 'commander';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
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
import { durationFlag } from './flags.js';

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
  actionBackoffMax: string;
  logLevel?: string;
  logFormat?: string;
}

export function registerRun(program: Command, setCode: (c: number) => void): void {
  const run = program
    .command('run')
    .description('Run the controller: watch the desired folder, observe every fog node, reconcile and apply, serve status')
    .option('--desired <dir>', 'folder of fog/v1 manifests to watch', 'desired')
    .option('--cluster <name>', "this controller's name, carried by every container it owns", 'default')
    .option('--state-dir <dir>', 'where the status socket lives', process.env.FOG_STATE_DIR ?? DEFAULT_STATE_DIR)
    .option('--listen <socket|127.0.0.1:port>', 'status endpoint (default <state-dir>/fogctl.sock, mode 0600)')
    .option('--grace <duration>', 'how long a node may be unreachable before its replicas move', '10s')
    .option('--resync <duration>', 'full re-observation interval, the safety net under engine events (default: 10s, or 30ms per node beyond 333 nodes)', 'auto')
    .option('--call-timeout <duration>', 'timeout of every Docker API call', '5s')
    .option('--heartbeat <duration>', "each node's engine is pinged once per this interval (spread over it); 2 pings in a row without an answer make the node NotReady. 0: no heartbeat", '1s')
    .option('--heartbeat-timeout <duration>', 'deadline of one heartbeat ping', '750ms')
    .option('--action-backoff-max <duration>', 'longest wait before a failed action is tried again (from 1s, doubling)', '5m')
    .option('--log-level <level>', 'trace | debug | info | warn | error (default info, or FOG_LOG_LEVEL)')
    .option('--log-format <format>', 'auto (one readable line per event on a terminal, JSON otherwise) | json | pretty (default auto, or FOG_LOG_FORMAT)')
    .addHelpText(
      'after',
      '\nExamples:\n  fogctl run --desired desired/\n  fogctl run --desired /srv/fog/desired --sync-repo file:///srv/git/plant.git --sync-ref main --sync-path fleet\n  fogctl run --desired /srv/fog/current --cluster plant-a --listen 127.0.0.1:7420\n\nStops cleanly on SIGTERM/SIGINT; running containers are left as they are.\n',
    );
  addPolicyOptions(addRunSyncFlags(run)).action(async (flags: RunFlags & PolicyFlags) => {
    if (!CLUSTER_NAME.test(flags.cluster)) throw new ExitError(`--cluster ${flags.cluster}: must be 1-32 lowercase letters, digits or '-', starting and ending with a letter or digit`, 1);
    const policy = parsePolicyFlags(flags);
    if (!policy.ok) throw new ExitError(policy.error, 1);
    const actionBackoffMax = durationFlag('--action-backoff-max', flags.actionBackoffMax);
    if (actionBackoffMax < DEFAULT_SETTINGS.actionBackoffBase) throw new ExitError(`--action-backoff-max ${flags.actionBackoffMax}: must be at least 1s (the first wait)`, 1);
    const settings = { ...DEFAULT_SETTINGS, cluster: flags.cluster, nodeGracePeriod: durationFlag('--grace', flags.grace), actionBackoffMax, policy: policy.policy };
    const logFlags = checkLogFlags(flags.logLevel, flags.logFormat);
    if (logFlags) throw new ExitError(logFlags, 1);
    const logger = rootLogger({ level: flags.logLevel, format: flags.logFormat });
    const listen = parseListen(flags.listen ?? join(flags.stateDir, SOCKET_NAME));
    if ('socket' in listen) mkdirSync(flags.stateDir, { recursive: true, mode: 0o700 });
    const heartbeatMs = durationFlag('--heartbeat', flags.heartbeat);
    const heartbeat = heartbeatMs > 0 && { intervalMs: heartbeatMs, timeoutMs: durationFlag('--heartbeat-timeout', flags.heartbeatTimeout) };
    if (heartbeat && heartbeat.timeoutMs <= 0) throw new ExitError(`--heartbeat-timeout ${flags.heartbeatTimeout}: must be more than 0`, 1);
    const metrics = new ControllerMetrics(buildInfo());
    const fleet = createEngineFleet({
      clock: systemClock,
      logger,
      callTimeoutMs: durationFlag('--call-timeout', flags.callTimeout),
      cluster: flags.cluster,
      watchEvents: true,
      heartbeat,
      onEngineCall: metrics.engineCall,
    });
    const controller = new Controller({
      desiredDir: flags.desired,
      settings,
      fleet,
      clock: systemClock,
      logger,
      resyncMs: flags.resync === 'auto' ? undefined : durationFlag('--resync', flags.resync),
      metrics,
    });
    // GitOps: --desired is then the symlink that the sync swaps atomically.
    const sync = await startSyncForRun(flags, flags.desired, { clock: systemClock, logger, onSwap: () => controller.markDesired('sync') });
    if (sync) controller.extraStatus = () => ({ sync: sync.status() });
    // Beside the status document: GET /metrics (Prometheus) and /v1/events (fogctl events).
    const events = new EventStreams({ events: () => controller.eventList(), onStatus: (cb) => controller.onStatus(cb) });
    const server = await serveStatus(
      listen,
      () => controller.statusDoc(),
      (cb) => controller.onStatus(cb),
      [metricsRoute(metrics, () => controller.statusDoc()), (req, res, url) => events.handle(req, res, url)],
    );
    const dashboard = 'socket' in listen ? 'fogctl dashboard' : `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}/`;
    logger.info({ desired: flags.desired, cluster: flags.cluster, status: 'socket' in listen ? listen.socket : `${listen.host}:${listen.port}`, dashboard }, 'controller started');
    controller.start();
    const stopHeapTrim = startHeapTrim();
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
    events.close();
    await new Promise<void>((r) => server.close(() => r()));
    if ('socket' in listen) rmSync(listen.socket, { force: true });
    logger.flush?.();
    setCode(0);
  });
}
