// Prometheus metrics of the controller, served at /metrics on the status
// listener (text exposition format, prom-client's own registry). Counters
// and histograms are fed as things happen (passes, actions, engine calls);
// gauges are read from the status document at each scrape, so a scrape shows
// exactly what `fogctl get` shows. Labels are bounded by the fleet and the
// manifests (node, service, action type, failure code, filter name): never a
// container id, an image, an env value or an error message.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActionResult } from '../api/types.js';
import type { EngineErrorKind } from '../docker/engine.js';
import type { StatusDoc } from '../status/doc.js';
import { asSyncStatus, type SyncState } from '../sync/status.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const SYNC_STATES: readonly SyncState[] = ['Pending', 'Synced', 'Held', 'Error'];

/** What the controller tells the metrics about (kept to two calls, so the loop stays the loop). */
export interface PassMetrics {
  /** A pass ended: `run` reconciled, `skipped` found nothing changed, `failed` threw. */
  pass(seconds: number, outcome: 'run' | 'skipped' | 'failed'): void;
  actions(results: readonly ActionResult[]): void;
}

export class ControllerMetrics implements PassMetrics {
  readonly registry = new Registry();
  private readonly passDuration: Histogram<string>;
  private readonly passes: Counter<'result'>;
  private readonly actionsTotal: Counter<'action' | 'result'>;
  private readonly engineDuration: Histogram<'node'>;
  private readonly engineErrors: Counter<'node' | 'kind'>;
  private readonly nodes: Gauge<'state'>;
  private readonly nodeReady: Gauge<'node'>;
  private readonly desired: Gauge<'service'>;
  private readonly ready: Gauge<'service'>;
  private readonly upToDate: Gauge<'service'>;
  private readonly available: Gauge<'service'>;
  private readonly unschedulable: Gauge<'service' | 'reason'>;
  private readonly restarts: Counter<'service'>;
  private readonly manifestErrors: Gauge<string>;
  private readonly heartbeatInterval: Gauge<string>;
  /** Made at the first sync status seen: a controller without GitOps has no fog_gitops_* series. */
  private sync?: { state: Gauge<'state'>; commit: Gauge<'commit'>; appliedAt: Gauge<string>; failures: Gauge<string> };
  /** The restart count last seen per container, to turn counts into increments (not a label). */
  private seenRestarts = new Map<string, number>();

  constructor(info: { version: string; commit: string }, opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    // The event-loop delay is sampled every 200 ms, not prom-client's default 10 ms: 100 timer wake-ups a second were measurable idle CPU.
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 200 });
    new Gauge({ name: 'fog_build_info', help: 'The fogctl version and commit running (always 1)', labelNames: ['version', 'commit'], registers }).set(
      { version: info.version, commit: info.commit.slice(0, 12) },
      1,
    );
    this.passDuration = new Histogram({
      name: 'fog_reconcile_duration_seconds',
      help: 'Duration of controller passes that reconciled: observe, reconcile and apply',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.passes = new Counter({ name: 'fog_reconcile_passes_total', help: 'Controller passes by result: run (reconciled), skipped (nothing changed), failed', labelNames: ['result'], registers });
    for (const result of ['run', 'skipped', 'failed']) this.passes.inc({ result }, 0);
    this.actionsTotal = new Counter({
      name: 'fog_actions_total',
      help: 'Actions carried out, by type (create, start, remove) and result (ok, or the failure code)',
      labelNames: ['action', 'result'],
      registers,
    });
    this.engineDuration = new Histogram({
      name: 'fog_engine_request_duration_seconds',
      help: 'Duration of Docker Engine API calls (not the heartbeat or the event stream), per node',
      labelNames: ['node'],
      buckets: [0.005, 0.025, 0.1, 0.5, 2.5, 10],
      registers,
    });
    this.engineErrors = new Counter({
      name: 'fog_engine_request_errors_total',
      help: 'Docker Engine API calls that failed, per node and kind (timeout, connection, http, config)',
      labelNames: ['node', 'kind'],
      registers,
    });
    this.nodes = new Gauge({ name: 'fog_nodes', help: 'Nodes in the desired state by readiness (ready, not_ready)', labelNames: ['state'], registers });
    this.nodeReady = new Gauge({ name: 'fog_node_ready', help: "1 when the node's engine answers (Ready), 0 when not (NotReady)", labelNames: ['node'], registers });
    this.desired = new Gauge({ name: 'fog_service_replicas_desired', help: 'Replicas wanted (for a global service: eligible nodes)', labelNames: ['service'], registers });
    this.ready = new Gauge({ name: 'fog_service_replicas_ready', help: 'Replicas running (and healthy when a healthcheck is declared)', labelNames: ['service'], registers });
    this.upToDate = new Gauge({ name: 'fog_service_replicas_up_to_date', help: 'Replicas with the current spec hash', labelNames: ['service'], registers });
    this.available = new Gauge({ name: 'fog_service_replicas_available', help: 'Replicas ready and up to date', labelNames: ['service'], registers });
    this.unschedulable = new Gauge({
      name: 'fog_unschedulable_replicas',
      help: 'Replicas that fit on no node, by service and reason (the placement filter that rejected a node: NodeDevices, NodeResources, ...; a replica counts under every filter that rejected one, as the kube-scheduler counts)',
      labelNames: ['service', 'reason'],
      registers,
    });
    this.restarts = new Counter({
      name: 'fog_replica_restarts_total',
      help: 'Restarts of replicas seen by this controller since it started (the engine restart policy and the controller)',
      labelNames: ['service'],
      registers,
    });
    this.heartbeatInterval = new Gauge({
      name: 'fog_heartbeat_interval_seconds',
      help: "Each node's heartbeat turn comes once per this interval (--heartbeat, longer for a fleet above --heartbeat-max-rate); 0 without a heartbeat",
      registers,
    });
    this.manifestErrors = new Gauge({ name: 'fog_desired_errors', help: 'Manifest errors in the desired folder now (the last good version of each object stays in force)', registers });
  }

  pass(seconds: number, outcome: 'run' | 'skipped' | 'failed'): void {
    this.passes.inc({ result: outcome });
    if (outcome === 'run') this.passDuration.observe(seconds);
  }

  actions(results: readonly ActionResult[]): void {
    for (const r of results) this.actionsTotal.inc({ action: r.action.type, result: r.ok ? 'ok' : r.code });
  }

  /** An engine call ended (the hook engines call). */
  engineCall = (node: string, seconds: number, error?: EngineErrorKind): void => {
    this.engineDuration.observe({ node }, seconds);
    if (error !== undefined) this.engineErrors.inc({ node, kind: error });
  };

  /** Gauges from the status document, then the exposition text. */
  async scrape(doc: StatusDoc): Promise<string> {
    this.fromStatus(doc);
    return this.registry.metrics();
  }

  fromStatus(doc: StatusDoc): void {
    const { nodes, services } = doc.status;
    this.nodeReady.reset();
    let ready = 0;
    for (const n of nodes) {
      this.nodeReady.set({ node: n.name }, n.reachable ? 1 : 0);
      if (n.reachable) ready++;
    }
    this.nodes.set({ state: 'ready' }, ready);
    this.nodes.set({ state: 'not_ready' }, nodes.length - ready);

    for (const g of [this.desired, this.ready, this.upToDate, this.available, this.unschedulable]) g.reset();
    const seen = new Map<string, number>();
    for (const s of services) {
      const service = s.name;
      this.desired.set({ service }, s.desired);
      this.ready.set({ service }, s.ready);
      this.upToDate.set({ service }, s.upToDate);
      this.available.set({ service }, s.available);
      this.restarts.inc({ service }, 0);
      if (s.unschedulable) {
        const waiting = Math.max(1, s.desired - s.replicas.length);
        for (const reason of new Set(s.unschedulable.perNode.map((p) => p.filter))) this.unschedulable.set({ service, reason }, waiting);
      }
      for (const r of s.replicas) {
        if (r.containerId === undefined) continue;
        const before = this.seenRestarts.get(r.containerId);
        if (before !== undefined && r.restarts > before) this.restarts.inc({ service }, r.restarts - before);
        seen.set(r.containerId, before === undefined ? r.restarts : Math.max(before, r.restarts));
      }
    }
    this.seenRestarts = seen;
    this.manifestErrors.set(doc.desired.errors.length);
    this.heartbeatInterval.set((doc.heartbeat?.intervalMs ?? 0) / 1000);

    const sync = asSyncStatus(doc.sync);
    if (sync) {
      const g = (this.sync ??= this.syncGauges());
      for (const state of SYNC_STATES) g.state.set({ state }, sync.state === state ? 1 : 0);
      g.commit.reset();
      if (sync.current) {
        g.commit.set({ commit: sync.current.sha }, 1);
        g.appliedAt.set(Date.parse(sync.current.syncedAt) / 1000);
      }
      g.failures.set(sync.consecutiveFailures);
    }
  }

  private syncGauges(): NonNullable<ControllerMetrics['sync']> {
    const registers = [this.registry];
    return {
      state: new Gauge({ name: 'fog_gitops_sync_state', help: 'GitOps sync state: 1 for the current state (Pending, Synced, Held, Error), 0 for the others', labelNames: ['state'], registers }),
      commit: new Gauge({ name: 'fog_gitops_last_applied_commit_info', help: 'The commit last applied to the desired folder (always 1)', labelNames: ['commit'], registers }),
      appliedAt: new Gauge({ name: 'fog_gitops_last_applied_timestamp_seconds', help: 'When the current commit was applied (Unix time)', registers }),
      failures: new Gauge({ name: 'fog_gitops_consecutive_failures', help: 'Failed sync attempts in a row', registers }),
    };
  }
}

/** GET /metrics on the status listener: the gauges refreshed from `doc()`, then the text format. */
export function metricsRoute(metrics: ControllerMetrics, doc: () => StatusDoc) {
  return (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    if (url.pathname !== '/metrics') return false;
    metrics.scrape(doc()).then(
      (text) => {
        res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`metrics could not be collected: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
    return true;
  };
}
