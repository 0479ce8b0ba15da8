// The loop: desired (watched folder) → observed (engines) → reconcile (pure)
// → apply (executor) → status. Level-triggered: every pass looks at the
// whole world, so a missed event costs one resync interval at most.
//
// Triggers only mark work as due (a manifest change, an engine event, the
// resync timer, a requeue after actions); one pass runs at a time and picks
// up everything that became due while the previous one ran.

import type { Action, ActionHistory, DesiredState, DiskThreshold, ObservedNode, ObservedState, ReconcileSettings, RolloutBook, Status, StatusEvent } from '../api/types.js';
import { NO_HISTORY, NO_ROLLOUTS } from '../api/types.js';
import { RolloutStore } from './rollout-store.js';
import { redactActionWith, secretName } from '../api/redact.js';
import { applyCommand, pruneHistory, recordOutcomes, reconcile, type Command, type CommandResult, type ReconcileMemo } from '../reconcile/index.js';
import { noteText } from '../status/text.js';
import { showAction, showEvent, showRollouts, showStatus } from '../status/doc.js';
import { unmanagedContainers } from './ownership.js';
import type { Clock } from '../runtime/clock.js';
import { DesiredStore } from './desired-store.js';
import type { Logger } from '../runtime/logger.js';
import type { ActionFailure, CountedEvent, StatusDoc } from '../status/doc.js';
import type { FleetPort } from './fleet.js';
import { summarizeNode, summarizeService } from './summary.js';
import { watchDesired, type Watch } from './watch.js';
import type { ActVerdict } from '../ha/decide.js';
import { ImageCollector, type NodePrune, type PruneReport } from './image-gc.js';

/** One actor per cluster (src/ha/gate.ts): told every observation, asked before a plan is applied. */
export interface ControllerGate {
  observe(observed: ObservedState, now: number): StatusEvent[];
  verdict(): ActVerdict;
}
import type { PassMetrics } from './metrics.js';
import type { ImagePins } from './image-pins.js';
import type { EventList } from './events-api.js';

export interface ControllerOptions {
  desiredDir: string;
  settings: ReconcileSettings;
  fleet: FleetPort;
  clock: Clock;
  logger: Logger;
  /** Full re-observation of every node. Default: 10 s, or 300 ms per node beyond 33 nodes, at most 10 min. */
  resyncMs?: number;
  /** Next pass after a pass that acted or is waiting on something. Default 1 s. */
  requeueMs?: number;
  /** Debounce for bursts of file writes (a git checkout). Default 20 ms; removals are confirmed separately. */
  debounceMs?: number;
  /** An object gone from the files is deleted only after it stayed gone this long (a half-saved file is not a deletion). Default 500 ms. */
  removalConfirmMs?: number;
  /** Compute and report, never apply. */
  dryRun?: boolean;
  /** Where the rollout book (revisions, pins, pauses) is kept across restarts. Absent: kept in memory only. */
  stateDir?: string;
  /** The GitOps commit now applied, recorded with each new revision. */
  commit?: () => string | undefined;
  /** A rollout book to start from without a state directory (`fogctl plan` reads a controller's, read-only). */
  rollouts?: RolloutBook;
  /** Whether this controller may act now (leader election, conflicts); absent: always. */
  gate?: ControllerGate;
  /** Told about every pass and every action's result (Prometheus metrics). */
  metrics?: PassMetrics;
  /** Image GC: collect by itself on a node whose data root's free space is below this (`fogctl run --image-gc`). Absent: only on `fogctl images prune`. */
  imageGc?: { threshold?: DiskThreshold };
  /** Resolves the tags of revisions about to roll out (pinned digests); absent: replicas run the tag as written. */
  imagePins?: ImagePins;
}

const EVENT_RING = 200;
/**
 * The spread resync looks at its next share of the nodes once per 1/60 of its
 * interval, but at most once a second and at least every 10 s (or once per
 * interval when that is shorter). Every tick that marks a node costs a pass
 * (observed state assembled, the HA watch, the skip test: a few ms at 1,000
 * nodes), so a long interval takes bigger, rarer shares: at 1,000 nodes and
 * 5 min, 17 nodes every 5 s rather than 3 every second.
 */
const RESYNC_TICK_MS = { min: 1_000, max: 10_000, slices: 60 } as const;

export class Controller {
  private readonly store: DesiredStore;
  private readonly log: Logger;
  private watch?: Watch;
  private timer?: NodeJS.Timeout;
  private wake?: () => void;
  private stopped = false;
  private running?: Promise<void>;
  private desiredDue = true;
  private resyncDue = true;
  private readonly nodesDue = new Set<string>();
  private requeueTimerAt = 0;
  private resyncTimer?: NodeJS.Timeout;
  private requeueDue = false;
  private resyncs = 0;
  /** Where the spread resync is in the list of nodes (fractional: a tick covers nodes × tick / interval of them). */
  private resyncCursor = 0;
  /** The desired generation whose nodes the fleet was last synced to. */
  private syncedGeneration?: number;
  private skipped = 0;
  private lastInputs?: { generation: number; nodes: ObservedState['nodes']; requeueAt?: number; acted: boolean; busy: boolean };
  private passes = 0;
  private lastPassAt?: number;
  /** Controller time of the last pass that reconciled (was not skipped). */
  private lastRunAt?: number;
  private readonly startedAt: number;
  private lastActions: Action[] = [];
  private lastStatus: Status = { services: [], nodes: [], events: [] };
  /** The newest observation of every node, also from passes that found nothing else changed. */
  private latestNodes: readonly ObservedNode[] = [];
  private events: CountedEvent[] = [];
  /** What became of each slot's recent actions: the reconcile's input for back-off. */
  private history: ActionHistory = NO_HISTORY;
  /** Steady services of the last pass, reused while their inputs are the same objects. */
  private memo?: ReconcileMemo;
  /** Each service's revisions and rollout state: the reconcile's input and output, saved in the state directory. */
  private rollouts: RolloutBook = NO_ROLLOUTS;
  private readonly rolloutStore?: RolloutStore;
  /** Extra fields merged into the status document (e.g. GitOps sync). */
  extraStatus: () => Record<string, unknown> = () => ({});
  private readonly statusListeners = new Set<() => void>();
  private readonly images: ImageCollector;

  constructor(private readonly opts: ControllerOptions) {
    this.store = new DesiredStore(opts.desiredDir, () => opts.clock.now(), opts.removalConfirmMs ?? 500);
    this.log = opts.logger.child({ component: 'controller' });
    this.images = new ImageCollector({
      logger: opts.logger,
      now: () => opts.clock.now(),
      ...(opts.imageGc?.threshold !== undefined ? { threshold: opts.imageGc.threshold } : {}),
      record: (events) => this.recordEvents(events),
    });
    this.startedAt = opts.clock.now();
    if (opts.stateDir !== undefined) {
      this.rolloutStore = new RolloutStore(opts.stateDir, this.log);
      this.rollouts = this.rolloutStore.load();
    } else if (opts.rollouts !== undefined) this.rollouts = opts.rollouts;
  }

  /**
   * A user's rollout command (the control endpoint): applied to the book and
   * saved at once (a controller stopped right after still has it), recorded
   * as an event. A pass reads the book and replaces it with the reconcile's
   * result with no await in between, so no command can fall between the two.
   */
  command(service: string, cmd: Command): CommandResult {
    // Only the controller that acts keeps the book that counts: a standby (or one in conflict) says where to go.
    const verdict = this.opts.gate?.verdict();
    if (verdict !== undefined && !verdict.act)
      return { ok: false, message: `this controller does not act now (${verdict.why}); send the command to the controller that leads (fogctl get nodes names it)` };
    const stamped: Command = cmd.kind === 'restart' ? { kind: 'restart', at: this.opts.clock.wall() } : cmd;
    const result = applyCommand(this.rollouts.get(service), service, stamped, this.opts.clock.now());
    if (!result.ok) return result;
    this.rollouts = new Map(this.rollouts).set(service, result.entry);
    this.saveRollouts();
    this.log.info({ service, command: cmd.kind, ...(cmd.kind === 'undo' && cmd.toRevision !== undefined ? { toRevision: cmd.toRevision } : {}) }, 'rollout command accepted');
    this.recordEvents([{ time: this.opts.clock.now(), type: 'Normal', reason: result.note.code, object: `service/${service}`, note: result.note }]);
    this.requeueDue = true;
    this.lastInputs = undefined;
    this.wake?.();
    return result;
  }

  /**
   * `fogctl images prune`: collect unused images of ours on one node or all
   * (src/controller/image-gc.ts), now; with `dryRun`, only say what would go.
   * Only the controller that acts removes anything.
   */
  async pruneImages(req: { node?: string; dryRun: boolean }): Promise<{ ok: true; report: PruneReport } | { ok: false; message: string }> {
    const verdict = req.dryRun ? undefined : this.opts.gate?.verdict();
    if (verdict !== undefined && !verdict.act) return { ok: false, message: `this controller does not act now (${verdict.why}); send the command to the controller that leads` };
    const names = this.store.current().nodes.map((n) => n.metadata.name);
    if (req.node !== undefined && !names.includes(req.node)) return { ok: false, message: `no node "${req.node}" in the desired state (fogctl get nodes lists them)` };
    const inputs = () => ({ book: this.rollouts, services: this.store.current().services });
    const nodes = await Promise.all(
      (req.node !== undefined ? [req.node] : names).map((node): Promise<NodePrune> => {
        const engine = this.opts.fleet.engine?.(node);
        if (engine === undefined) return Promise.resolve({ node, removed: [], failed: [], kept: [], error: 'no engine client for this node (its endpoint is refused, or it was just added)' });
        return this.images.collect(node, engine, inputs, 'prune', req.dryRun);
      }),
    );
    const reclaimed = nodes.reduce((sum, n) => sum + n.removed.reduce((s, r) => s + r.size, 0), 0);
    for (const cb of this.statusListeners) cb();
    return { ok: true, report: { dryRun: req.dryRun, nodes, reclaimed } };
  }

  /** Nothing changed for `ms`: a pass has reconciled, and every pass since then was skipped. Not before the first pass (starting is a burst). */
  quietFor(ms: number): boolean {
    return this.lastRunAt !== undefined && this.opts.clock.now() - this.lastRunAt >= ms;
  }

  /**
   * Full re-observation interval: as given, or 10 s growing by 300 ms per
   * node beyond 33 nodes (30 s at 100, 5 min at 1,000), at most 10 min. It is
   * the net under the event stream, not how changes are seen: engine events
   * carry the reactions, a stream that reconnects makes its node read afresh,
   * and the heartbeat notices silence. At 1,000 nodes a 30 s resync (33 list
   * calls a second, each on a pooled connection the engine then kept) was
   * 2.2 % of a core and ~18 MB of RSS at idle, for a net that catches only
   * an event the engine itself lost.
   */
  get resyncMs() {
    return this.opts.resyncMs ?? Math.min(600_000, Math.max(10_000, 300 * this.store.current().nodes.length));
  }

  start(): void {
    this.watch = watchDesired(this.opts.desiredDir, this.opts.debounceMs ?? 20, () => this.markDesired('watch'));
    this.opts.fleet.onChange((node) => this.markNode(node));
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    if (this.timer) clearTimeout(this.timer);
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    await this.watch?.close();
    await this.running;
    await this.opts.fleet.close();
  }

  /** One pass now, outside the loop (for `plan` and direct `get`): returns the status it produced. */
  async passOnce(): Promise<StatusDoc> {
    this.resyncDue = true;
    await this.pass();
    if (this.timer) clearTimeout(this.timer);
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.timer = this.resyncTimer = undefined;
    return this.statusDoc();
  }

  /** Called after every pass (the status may have changed); returns the unsubscribe. */
  onStatus(cb: () => void): () => void {
    this.statusListeners.add(cb);
    return () => this.statusListeners.delete(cb);
  }

  markDesired(why: string): void {
    this.log.debug({ why }, 'desired state may have changed');
    this.desiredDue = true;
    this.wake?.();
  }

  /** Something outside the inputs changed whether this controller may act (leadership won or lost): look at the whole world again now. */
  reconsider(why: string): void {
    this.log.info({ why }, 'looking again');
    this.lastInputs = undefined;
    this.resyncDue = true;
    this.wake?.();
  }

  markNode(node: string): void {
    this.nodesDue.add(node);
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      await this.waitForWork();
      if (this.stopped) break;
      const t0 = this.opts.clock.now();
      try {
        const outcome = await this.pass();
        this.opts.metrics?.pass((this.opts.clock.now() - t0) / 1000, outcome);
      } catch (err) {
        // A pass must never kill the controller; the next trigger retries.
        this.log.error({ err }, 'reconcile pass failed; retrying on the next trigger');
        this.opts.metrics?.pass((this.opts.clock.now() - t0) / 1000, 'failed');
        this.requeue(this.opts.requeueMs ?? 1_000);
      }
      for (const cb of this.statusListeners) cb();
    }
  }

  private hasWork(): boolean {
    return this.desiredDue || this.resyncDue || this.requeueDue || this.nodesDue.size > 0;
  }

  private waitForWork(): Promise<void> {
    if (this.hasWork() || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** A timer that marks work as due and wakes the loop when it did (a resync tick may mark none); unref'd, so it never holds the process. */
  private after(ms: number, due: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      due();
      if (this.hasWork()) this.wake?.();
    }, ms);
    t.unref?.();
    return t;
  }

  /**
   * The resync, spread evenly over its interval: every tick marks the next
   * share of the nodes due, so each node is re-observed once per interval and
   * neither the engines nor this process get all the list calls at once (a
   * burst of 1,000 list calls at 1,000 nodes made garbage that cost more CPU
   * than the calls). A whole round also
   * reloads the desired folder every 6th time, the safety net under the file
   * watcher.
   */
  private scheduleResync(): void {
    if (this.resyncTimer || this.stopped) return;
    const interval = this.resyncMs;
    const tickMs = Math.min(interval, Math.max(RESYNC_TICK_MS.min, Math.min(RESYNC_TICK_MS.max, interval / RESYNC_TICK_MS.slices)));
    this.resyncTimer = this.after(tickMs, () => {
      this.resyncTimer = undefined;
      const nodes = this.store.current().nodes;
      const { due, cursor, rounds } = resyncSlice(nodes.length, this.resyncCursor, tickMs / interval);
      for (const i of due) this.nodesDue.add(nodes[i]!.metadata.name);
      this.resyncCursor = cursor;
      for (let r = 0; r < rounds; r++) if (++this.resyncs % 6 === 1) this.desiredDue = true;
      this.scheduleResync();
    });
  }

  /** A pass (without a full re-observation) `ms` from now; the earliest request wins. */
  private requeue(ms: number): void {
    const at = this.opts.clock.now() + ms;
    if (this.timer && this.requeueTimerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.requeueTimerAt = at;
    this.timer = this.after(ms, () => {
      this.timer = undefined;
      this.requeueDue = true;
    });
  }

  /** Same desired generation, same observation of every node, no time-based decision due: the plan would be the same. */
  private unchangedSince(generation: number, observed: ObservedState, now: number): boolean {
    const prev = this.lastInputs;
    if (!prev || prev.acted || prev.generation !== generation || prev.nodes.length !== observed.nodes.length) return false;
    if (prev.requeueAt !== undefined && now >= prev.requeueAt) return false;
    return observed.nodes.every((n, i) => {
      const p = prev.nodes[i]!;
      return p.name === n.name && p.containers === n.containers && p.reachable === n.reachable && p.since === n.since && p.facts === n.facts && p.disk === n.disk && p.images === n.images;
    });
  }

  private async pass(): Promise<'run' | 'skipped'> {
    const clock = this.opts.clock;
    const full = this.resyncDue;
    if (full) this.scheduleResync();
    // The watcher reports file changes; a timed reload (cheap: stat only when
    // nothing changed) every 6th resync round is the safety net under it.
    const reloadDesired = this.desiredDue;
    this.resyncDue = false;
    this.requeueDue = false;
    this.desiredDue = false;
    const due = [...this.nodesDue];
    this.nodesDue.clear();

    if (reloadDesired) {
      const { changed, recheckAfterMs } = await this.store.reload();
      if (recheckAfterMs !== undefined) this.after(recheckAfterMs, () => (this.desiredDue = true));
      const snap = this.store.current();
      if (snap.folderError) this.log.warn({ folder: this.opts.desiredDir }, snap.folderError);
      if (changed) {
        this.log.info({ generation: snap.generation, nodes: snap.nodes.length, services: snap.services.length, errors: snap.errors.length }, 'desired state loaded');
      }
      for (const e of snap.errors) this.log.warn({ file: e.file, line: e.line, col: e.col, code: e.code }, e.message);
    }
    const snap = this.store.current();
    if (snap.generation !== this.syncedGeneration) {
      this.opts.fleet.sync(snap.nodes);
      this.syncedGeneration = snap.generation;
    }

    const observed: ObservedState = await this.opts.fleet.observe(full ? undefined : due);
    const desired: DesiredState = { nodes: snap.nodes, services: snap.services, settings: this.opts.settings };
    const now = clock.now();
    if (this.opts.gate) this.recordEvents(this.opts.gate.observe(observed, now));
    this.latestNodes = observed.nodes;
    this.collectImages(observed);
    if (this.unchangedSince(snap.generation, observed, now)) {
      this.skipped++;
      this.passes++;
      this.lastPassAt = now;
      this.scheduleNext(now, this.lastInputs?.requeueAt, this.lastInputs?.busy ?? false);
      return 'skipped';
    }
    if (reloadDesired) {
      const wanted = new Map(snap.services.map((s) => [s.metadata.name, s.spec.mode === 'global' ? 1 : s.spec.replicas]));
      this.history = pruneHistory(this.history, (service, slot) => slot < (wanted.get(service) ?? 0));
    }
    const commit = this.opts.commit?.();
    // Before the book is read for the pass (a command may come in during the lookup: the pass still sees it).
    const images = await this.opts.imagePins?.prepare(snap.services, this.rollouts);
    const { actions, status, requeueAt, memo, rollouts } = reconcile(desired, observed, this.history, now, this.memo, {
      book: this.rollouts,
      wall: clock.wall(),
      ...(commit !== undefined ? { commit } : {}),
      ...(images !== undefined ? { images } : {}),
    });
    this.memo = memo;
    if (rollouts !== undefined) {
      this.rollouts = rollouts;
      this.saveRollouts();
    }
    this.passes++;
    this.lastPassAt = this.lastRunAt = now;
    this.lastStatus = { ...status, unmanaged: unmanagedContainers(observed, this.opts.settings.cluster) };
    this.lastActions = actions.map(redactActionWith(secretName(this.opts.settings.policy?.secretPattern)));
    this.recordEvents(status.events);

    for (const a of this.lastActions) {
      this.log.info({ action: a.type, service: a.service, node: a.node, slot: a.slot, reason: a.reason }, noteText(a.note, now));
    }
    let failed = false;
    const verdict = actions.length > 0 && !this.opts.dryRun ? this.opts.gate?.verdict() : undefined;
    const blocked = verdict !== undefined && !verdict.act;
    if (blocked) this.log.info({ actions: actions.length }, `not acting: ${verdict.why}`);
    if (actions.length > 0 && !this.opts.dryRun && !blocked) {
      // An action the gate refused mid-way (fenced) is no failure of the action: it is planned again when this controller may act.
      const results = (await this.opts.fleet.execute(actions)).filter((r) => r.ok || r.code !== 'fenced');
      this.opts.metrics?.actions(results);
      this.history = recordOutcomes(this.history, results, clock.now());
      for (const r of results) {
        if (r.ok) continue;
        failed = true;
        const a = r.action;
        this.log.warn({ action: a.type, service: a.service, node: a.node, slot: a.slot, code: r.code, retryable: r.retryable }, r.message ?? 'failed');
      }
      // Look at the nodes acted on again: their engines changed.
      for (const n of new Set(actions.map((a) => a.node))) this.nodesDue.add(n);
    }
    // Keep looking while something is in motion (rollouts, lost nodes);
    // back-off and delays are the reconcile's requeueAt; otherwise only the
    // resync interval.
    const busy = actions.length > 0 || status.nodes.some((n) => !n.reachable) || status.services.some((s) => s.ready < s.desired || s.upToDate < s.desired);
    // A blocked plan is looked at again every pass (never skipped as unchanged): acting may become allowed.
    this.lastInputs = { generation: snap.generation, nodes: observed.nodes, requeueAt, acted: actions.length > 0 || failed || blocked, busy };
    this.scheduleNext(now, requeueAt, busy);
    return 'run';
  }

  /** Image GC on nodes whose data root ran low (also on passes that find nothing else to do); only by the controller that acts. */
  private collectImages(observed: ObservedState): void {
    const fleet = this.opts.fleet;
    if (this.opts.dryRun || fleet.engine === undefined || this.opts.gate?.verdict().act === false) return;
    this.images.auto(
      observed.nodes,
      (n) => fleet.engine?.(n),
      () => ({ book: this.rollouts, services: this.store.current().services }),
    );
  }

  /** Writes the book when it is not the one written last (a pass's change, or a command's). */
  private saveRollouts(): void {
    try {
      this.rolloutStore?.save(this.rollouts);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'cannot save the rollout book; revisions and pins are kept in memory only until it can');
    }
  }

  /** Pulls and copies in flight now (not as of the last pass): `Pulling 45%` in describe. */
  private imageStatus(): Pick<StatusDoc, 'images'> {
    const transfers = this.opts.fleet.transfers?.() ?? [];
    if (transfers.length === 0) return {};
    const wall = this.opts.clock.wall();
    return { images: { transfers: transfers.map((t) => ({ ...t, age: Math.max(0, wall - t.startedAt) })) } };
  }

  private heartbeatStatus(): Pick<StatusDoc, 'heartbeat'> {
    const intervalMs = this.opts.fleet.heartbeatIntervalMs?.();
    return intervalMs === undefined ? {} : { heartbeat: { intervalMs } };
  }

  /** The latest failure of each slot's actions, for describe. */
  private failures(): ActionFailure[] {
    const out: ActionFailure[] = [];
    for (const h of this.history.values()) {
      for (const f of h.failures ?? [])
        out.push({ time: f.time, type: f.type, node: f.node, service: h.service, slot: h.slot, code: f.code, message: f.message, retryable: f.retryable, attempts: f.attempts });
    }
    return out;
  }

  /**
   * Node reachability and last-seen as of the newest observation, even when
   * that pass was skipped; a reachable node was last seen at its newest
   * heartbeat answer when that is later (the resync reads a node only every
   * few minutes in a large fleet; its heartbeat answers every 2 s).
   */
  private freshNodes(nodes: Status['nodes']): Status['nodes'] {
    const latest = new Map(this.latestNodes.map((n) => [n.name, n]));
    return nodes.map((n) => {
      const o = latest.get(n.name);
      const answer = o?.reachable ? this.opts.fleet.lastAnswer?.(n.name) : undefined;
      const lastSeen = answer !== undefined && answer > (o?.lastSeen ?? -Infinity) ? answer : o?.lastSeen;
      if (o === undefined || (lastSeen === n.lastSeen && o.reachable === n.reachable)) return n;
      const fresh = { ...n, reachable: o.reachable, since: o.since };
      if (lastSeen !== undefined) fresh.lastSeen = lastSeen;
      return fresh;
    });
  }

  private scheduleNext(now: number, requeueAt: number | undefined, busy: boolean): void {
    // The reconcile says when the same world would lead to a new decision (a
    // back-off or rollout delay ending, a grace period running out); while
    // things are in motion, look again soon; otherwise the resync timer rules.
    let wait = busy ? (this.opts.requeueMs ?? 1_000) : Number.POSITIVE_INFINITY;
    if (requeueAt !== undefined) wait = Math.min(wait, Math.max(20, Math.ceil(requeueAt - now)));
    if (Number.isFinite(wait)) this.requeue(wait);
  }

  /** Like Kubernetes, a repeat of the latest identical event bumps its count instead of flooding the ring. */
  private recordEvents(events: readonly StatusEvent[]): void {
    if (events.length === 0) return;
    const next = [...this.events];
    for (const e of events) {
      const key = eventKey(e);
      const same = next.findLastIndex((x) => x.reason === e.reason && x.object === e.object && x.type === e.type && eventKey(x) === key);
      if (same >= 0 && next.length - same <= 20) {
        const prev = next[same]!;
        next.splice(same, 1);
        next.push({ ...e, count: (prev.count ?? 1) + 1, firstTime: prev.firstTime ?? prev.time });
      } else next.push(e);
    }
    this.events = next.slice(-EVENT_RING);
  }

  /** The events alone (`fogctl events`), without building the whole status document. */
  eventList(): EventList {
    const now = this.opts.clock.now();
    return { apiVersion: 'fog/v1', kind: 'EventList', clock: { now, wall: this.opts.clock.wall() }, events: this.events.map((e) => showEvent(e, now)) };
  }

  statusDoc(): StatusDoc {
    const snap = this.store.current();
    const now = this.opts.clock.now();
    return {
      apiVersion: 'fog/v1',
      kind: 'ControllerStatus',
      cluster: this.opts.settings.cluster,
      clock: { now, wall: this.opts.clock.wall() },
      startedAt: this.startedAt,
      passes: this.passes,
      unchangedPasses: this.skipped,
      lastPassAt: this.lastPassAt,
      desired: { dir: this.opts.desiredDir, generation: snap.generation, errors: snap.errors, held: snap.held, folderError: snap.folderError },
      status: showStatus({ ...this.lastStatus, nodes: this.freshNodes(this.lastStatus.nodes) }, now),
      lastActions: this.lastActions.map((a) => showAction(a, now)),
      failures: this.failures(),
      events: this.events.map((e) => showEvent(e, now)),
      specs: Object.fromEntries(
        snap.services.map((s) => [s.metadata.name, summarizeService(s, snap.held.includes(`Service/${s.metadata.name}`), secretName(this.opts.settings.policy?.secretPattern))]),
      ),
      nodeSpecs: Object.fromEntries(snap.nodes.map((n) => [n.metadata.name, summarizeNode(n, snap.held.includes(`Node/${n.metadata.name}`))])),
      rollouts: showRollouts(this.rollouts),
      ...this.imageStatus(),
      ...this.heartbeatStatus(),
      ...this.extraStatus(),
    };
  }
}

/** Two events are the same when their notes are, apart from times (a back-off's `until` moves on every pass). */
function eventKey(e: StatusEvent): string {
  return JSON.stringify(e.note, (k, v: unknown) => (k === 'until' || k === 'since' || k === 'lastSeen' ? undefined : v));
}

/**
 * One tick of the spread resync over `count` nodes: a tick covers `share` of
 * a round (tick / interval), starting at the fractional `cursor`. The nodes it
 * marks due, where the next tick starts, and how many rounds it completed.
 */
export function resyncSlice(count: number, cursor: number, share: number): { due: number[]; cursor: number; rounds: number } {
  if (count === 0) return { due: [], cursor: 0, rounds: 1 };
  const from = cursor % count;
  const to = from + count * share;
  const due: number[] = [];
  for (let i = Math.floor(from); i < Math.floor(to); i++) due.push(i % count);
  return to >= count ? { due, cursor: to - count * Math.floor(to / count), rounds: Math.floor(to / count) } : { due, cursor: to, rounds: 0 };
}
