// One fog node as the controller sees it: facts, containers and images read
// from its engine, in the controller's monotonic time. An engine that does
// not answer is observed state (reachable: false), never an exception.
//
// An observation is one list of the engine's containers. A managed container
// is inspected again only when it is new, its list entry's state changed
// (listKey), an engine event or the controller's own action named it since
// the last look (two exits in a row list alike), the event stream
// (re)connected or the engine was unreachable (events may have been missed),
// or its last inspect is older than inspectMaxAgeMs. That last rule is the
// net under a missed event: a change that neither an event nor the list shows
// (a restart between two lists reads `Up …` both times) is seen within
// inspectMaxAgeMs plus one observation. A refresh that finds a container as
// it was keeps the object of before (and the node its containers array), so
// the controller sees no change and skips its pass: before, once refreshes
// fell due (at 1,000 nodes: ~2,000 inspects in 90 s of idle), nearly every
// resync ran a full reconcile for nothing. Facts (/info) are read on first
// contact, after the engine was unreachable, and every factsEveryMs; images
// then too, and also after an image event (pull, load, delete, tag), after
// `imagesChanged()` (the executor brought one) and every imagesEveryMs. The
// image list keeps its identity while nothing in it changed.
//
// The heartbeat (heartbeat.ts, run by the fleet) has the last word on a
// silent engine: once it says the node is lost, the node is unreachable at
// once, reads in flight are not waited for (a hung engine holds them until
// their deadline) and their answers are dropped, no new read is started, and
// the event stream is closed. When a ping is answered again, the stream is
// reopened and the node stays unreachable until a full read (list, inspect
// of every managed container, facts) has succeeded: nothing cached from
// before the silence is trusted.

import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { FogNode, ObservedContainer, ObservedNode } from '../api/types.js';
import { Engine, EngineError, type EngineContainer, type EngineContainerSummary, type EngineEvent, type EngineOptions } from '../docker/engine.js';
import { madeByFog, listKey, listPrint, parseEngineTime, toFacts, toForeignContainer, toFootprint, toImages, toManagedContainer, type ContainerFootprint, type TimeBase } from './convert.js';
import { eachLimited } from '../docker/limit.js';
import { DEFAULT_EVENT_WATCH, EventWatch, routeEvent, type EventWatchOptions } from './events.js';
import { dataRootSpace, settledSpace } from './disk.js';

export interface NodeObserverOptions {
  /** The controller's monotonic clock, ms. */
  now: () => number;
  /** Deadline of each engine call, ms (used when no engine is given). */
  callTimeoutMs: number;
  /** A client shared with the executor; made from the Node's endpoint when absent. */
  engine?: Engine;
  logger?: Logger;
  /** Managed containers inspected at once. Default 4 (the engine's pooled connections). */
  inspectConcurrency?: number;
  /** A managed container is inspected again at least this often, ms (the net under a missed event; at 1,000 nodes × 10 containers, 5 minutes was ~44 inspects a second at idle). Default 30 minutes. */
  inspectMaxAgeMs?: number;
  /** Facts and images are read again at least this often, ms (a restarted engine is read afresh anyway: its event stream reconnects). Default 15 minutes: with the 5 min resync of 1,000 nodes, 5 minutes made every resync read three calls instead of one. */
  factsEveryMs?: number;
  /** The data root's free space is measured at most this often, ms. Default 10 s. */
  diskEveryMs?: number;
  /** Images are read again at least this often, ms (image events carry the changes). Default: factsEveryMs. */
  imagesEveryMs?: number;
  events?: Partial<EventWatchOptions>;
  /** Told when each engine call ends (metrics); only for an engine made here. */
  onEngineCall?: EngineOptions['onCall'];
}

/** Defaults of `inspectMaxAgeMs` and `factsEveryMs` (see there). */
const INSPECT_MAX_AGE_MS = 1_800_000;
const FACTS_EVERY_MS = 900_000;

/** A managed container as last inspected. */
interface Known {
  /** listKey of the list entry it was inspected for. */
  key: string;
  container: ObservedContainer;
  /** Inspect again after this (controller time); jittered so that nodes observed together do not re-inspect together. */
  staleAt: number;
}

export class NodeObserver {
  readonly name: string;
  /** undefined when the Node's endpoint was refused (see `configError`). */
  readonly engine?: Engine;
  private readonly configError?: string;
  private state: ObservedNode;
  private observed = false;
  private readonly footprints = new Map<string, ContainerFootprint>();
  private readonly known = new Map<string, Known>();
  /** Container ids an engine event named since the last observation began. */
  private named = new Set<string>();
  /** Events may have been missed (stream reconnected): inspect everything on the next look. */
  private missed = true;
  /** Facts were read at (controller time); undefined: never. */
  private factsAt?: number;
  /** The endpoint (unix sockets only have a data root this host can measure), the data root, and when it was measured. */
  private readonly endpoint: string;
  private dataRoot?: string;
  private diskAt?: number;
  /** Images were read at; `imagesDue`: an image event (or the executor) said they changed since. */
  private imagesAt?: number;
  private imagesDue = true;
  /** Engine wall clock minus controller clock, from the last /info. */
  private clockOffset = 0;
  /** listPrint of the last container list fully taken in. */
  private listPrint?: string;
  private inflight?: Promise<ObservedNode>;
  private queued?: Promise<ObservedNode>;
  private watcher?: EventWatch;
  /** The events come with the heartbeat's long polls, not on a stream of their own. */
  private viaHeartbeat = false;
  private onChange?: (node: string) => void;
  /** The heartbeat says the engine is silent: no reads until it answers a ping again. */
  private lost = false;
  /** Bumped on every loss: a read begun before it is not taken in. */
  private epoch = 0;
  /** Callers of observe() waiting on a read that a loss overtook. */
  private waiters: Array<(s: ObservedNode) => void> = [];

  constructor(
    node: FogNode,
    private readonly opts: NodeObserverOptions,
  ) {
    this.name = node.metadata.name;
    this.endpoint = node.spec.endpoint;
    try {
      this.engine = opts.engine ?? Engine.forNode(node, { callTimeoutMs: opts.callTimeoutMs, ...(opts.onEngineCall ? { onCall: opts.onEngineCall } : {}) });
    } catch (err) {
      if (!(err instanceof EngineError)) throw err;
      this.configError = err.message;
    }
    this.state = { name: this.name, reachable: false, since: opts.now(), containers: [] };
  }

  /** The last observation, without asking the engine. */
  get last(): ObservedNode {
    return this.state;
  }

  /** Reads the engine now. Calls made while one runs share one follow-up read. */
  observe(): Promise<ObservedNode> {
    if (this.lost) return Promise.resolve(this.state);
    if (!this.inflight) {
      this.inflight = this.read().finally(() => (this.inflight = undefined));
      return this.orLoss(this.inflight);
    }
    this.queued ??= this.inflight.then(() => {
      this.queued = undefined;
      return this.observe();
    });
    return this.orLoss(this.queued);
  }

  /** The executor pulled or loaded an image here: read the list again on the next look (its event may come later). */
  imagesChanged(): void {
    this.imagesDue = true;
  }

  /** Whether the heartbeat holds the node lost. */
  get silent(): boolean {
    return this.lost;
  }

  /**
   * The heartbeat lost the node: unreachable now, readers released, events
   * stopped until it answers again. Unreachable since it went silent (its
   * last answer), not since we noticed: the grace period counts from there,
   * as Kubernetes counts from the last heartbeat.
   */
  /**
   * The controller acted on these containers: what was last inspected is out
   * of date, whatever the next list shows. Two exits in a row list alike
   * (`Exited (137)`), and the engine's event for the second may come after the
   * next list: without this, a container killed again right after its restart
   * would be judged by its previous run.
   */
  actedOn(ids: Iterable<string>): void {
    for (const id of ids) this.named.add(id);
  }

  heartbeatLost(error: string, silentSince?: number): void {
    if (this.lost) return;
    this.lost = true;
    this.epoch++;
    this.missed = true;
    this.listPrint = undefined;
    const state = this.setUnreachable(error, silentSince);
    this.opts.logger?.warn({ node: this.name, err: error }, 'node lost: no answer to its heartbeat');
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(state);
    this.watcher?.close();
    this.watcher = undefined;
    this.onChange?.(this.name);
  }

  /** A ping was answered: a lost node is read afresh (and its events followed again); an unreachable one is read again. */
  heartbeatAnswered(): void {
    if (this.lost) {
      this.lost = false;
      this.missed = true;
      this.opts.logger?.info({ node: this.name }, 'node answers its heartbeat again; reading it afresh');
      this.startWatch();
      this.onChange?.(this.name);
      return;
    }
    // Unreachable by a failed read while pings are answered: ask for another look (at most once per ping).
    if (!this.state.reachable && !this.inflight) this.onChange?.(this.name);
  }

  /** `read` unless the heartbeat loses the node first. */
  private orLoss(read: Promise<ObservedNode>): Promise<ObservedNode> {
    return new Promise((resolve, reject) => {
      this.waiters.push(resolve);
      read.then(
        (s) => {
          this.waiters = this.waiters.filter((w) => w !== resolve);
          resolve(s);
        },
        (err: Error) => {
          this.waiters = this.waiters.filter((w) => w !== resolve);
          reject(err);
        },
      );
    });
  }

  /**
   * Follows the engine's container events; `onChange(name)` asks for a
   * re-observe of this node. `viaHeartbeat`: the events come with the
   * heartbeat's long polls (one connection per engine), not on a stream of
   * their own.
   */
  watch(onChange: (node: string) => void, viaHeartbeat = false): void {
    this.onChange = onChange;
    this.viaHeartbeat = viaHeartbeat;
    this.startWatch();
  }

  private startWatch(): void {
    const onChange = this.onChange;
    if (!this.engine || this.watcher || !onChange) return;
    const log = this.opts.logger;
    const on = {
      change: (e: EngineEvent) => {
        if (e.Actor?.ID) this.named.add(e.Actor.ID);
        onChange(this.name);
      },
      images: () => {
        this.imagesDue = true;
        onChange(this.name);
      },
    };
    if (this.viaHeartbeat) {
      this.engine.followEvents((e) => routeEvent(e, on));
      return;
    }
    this.watcher = new EventWatch(
      this.engine,
      {
        ...on,
        connected: () => {
          this.missed = true;
          onChange(this.name);
        },
        dropped: (err, lost) => {
          log?.debug({ node: this.name, err: err.message, lost }, 'event stream dropped');
          this.missed = true;
          if (lost) this.setUnreachable(err.message);
          onChange(this.name);
        },
      },
      { ...DEFAULT_EVENT_WATCH, ...this.opts.events },
    );
    this.watcher.start();
  }

  close(): void {
    this.onChange = undefined;
    this.engine?.followEvents(undefined);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async read(): Promise<ObservedNode> {
    const engine = this.engine;
    if (!engine) return this.setUnreachable(this.configError ?? 'no client');
    const started = this.opts.now();
    // After a gap nothing cached can be trusted: events were not heard.
    const fresh = this.missed || !this.state.reachable;
    const readFacts = fresh || this.factsAt === undefined || started - this.factsAt >= (this.opts.factsEveryMs ?? FACTS_EVERY_MS);
    const readImages = readFacts || this.imagesDue || this.imagesAt === undefined || started - this.imagesAt >= (this.opts.imagesEveryMs ?? this.opts.factsEveryMs ?? FACTS_EVERY_MS);
    this.imagesDue = false;
    const named = this.named;
    this.named = new Set();
    this.missed = false;
    const epoch = this.epoch;
    /** The heartbeat lost the node while this read was out: what it brings is from before the silence. */
    const overtaken = () => {
      for (const id of named) this.named.add(id);
      if (readImages) this.imagesDue = true;
      this.missed = true;
      this.listPrint = undefined;
      return this.state;
    };
    try {
      const [list, info, images] = await Promise.all([engine.listContainersText(), readFacts ? engine.info() : undefined, readImages ? engine.listImages() : undefined]);
      const now = this.opts.now();
      // Without SystemTime, assume the engine's clock agrees with ours.
      if (info) this.clockOffset = (parseEngineTime(info.SystemTime) ?? Date.now()) - now;
      const base: TimeBase = { now, engineNow: now + this.clockOffset };
      const print = listPrint(list);
      if (epoch !== this.epoch) return overtaken();
      const containers =
        !fresh && print === this.listPrint
          ? await this.recheck(engine, base, named)
          : await this.containers(engine, JSON.parse(list) as EngineContainerSummary[], base, (id) => fresh || named.has(id));
      if (epoch !== this.epoch) return overtaken();
      this.listPrint = print;
      this.setReachable(now);
      if (info) {
        this.factsAt = now;
        this.dataRoot = info.DockerRootDir;
        this.state = { ...this.state, facts: toFacts(info) };
      }
      if (images) {
        this.imagesAt = now;
        const list = toImages(images, this.state.images);
        if (list !== this.state.images) this.state = { ...this.state, images: list };
      }
      this.state = { ...this.state, containers };
      await this.measureDisk(now);
      return this.state;
    } catch (err) {
      if (epoch !== this.epoch) return overtaken();
      for (const id of named) this.named.add(id);
      if (readImages) this.imagesDue = true;
      if (fresh) this.missed = true;
      this.listPrint = undefined;
      return this.setUnreachable(err instanceof Error ? err.message : String(err));
    }
  }

  /** The data root's free space, at most every diskEveryMs; absent when it cannot be known. */
  private async measureDisk(now: number): Promise<void> {
    if (this.diskAt !== undefined && now - this.diskAt < (this.opts.diskEveryMs ?? 10_000)) return;
    this.diskAt = now;
    const disk = settledSpace(this.state.disk, await dataRootSpace(this.endpoint, this.dataRoot));
    if (disk === this.state.disk) return;
    const { disk: _old, ...rest } = this.state;
    this.state = disk === undefined ? rest : { ...rest, disk };
  }

  /** The list shows nothing new: inspect only what events named and what is due for the net; the rest is as last seen. */
  private async recheck(engine: Engine, base: TimeBase, named: ReadonlySet<string>): Promise<readonly ObservedContainer[]> {
    const todo = [...this.known].flatMap(([id, k]) => (named.has(id) || k.staleAt <= base.now ? [id] : []));
    if (todo.length === 0) return this.state.containers;
    const inspected = await this.inspect(engine, todo);
    let changed = false;
    for (const id of todo) {
      const before = this.known.get(id)!.container;
      this.remember(id, this.known.get(id)!.key, inspected.get(id), base);
      if (this.known.get(id)?.container !== before) changed = true;
    }
    // Nothing new (the usual refresh by age): the same array, so the controller sees an unchanged node and skips the pass.
    if (!changed) return this.state.containers;
    return this.state.containers.flatMap((c) => (madeByFog(c.labels) ? (this.known.get(c.id)?.container ?? []) : [c]));
  }

  private async containers(engine: Engine, list: readonly EngineContainerSummary[], base: TimeBase, mustInspect: (id: string) => boolean): Promise<ObservedContainer[]> {
    const seen = new Set(list.map((c) => c.Id));
    for (const id of this.footprints.keys()) if (!seen.has(id)) this.footprints.delete(id);
    for (const id of this.known.keys()) if (!seen.has(id)) this.known.delete(id);
    // Foreign containers are inspected once, for what they reserve and bind;
    // their state comes from the list.
    const todo = list.filter((c) => {
      if (!madeByFog(c.Labels)) return !this.footprints.has(c.Id);
      const k = this.known.get(c.Id);
      return k === undefined || k.key !== listKey(c) || k.staleAt <= base.now || mustInspect(c.Id);
    });
    const inspected = await this.inspect(
      engine,
      todo.map((c) => c.Id),
    );
    for (const c of todo) if (madeByFog(c.Labels)) this.remember(c.Id, listKey(c), inspected.get(c.Id), base);
    const out: ObservedContainer[] = [];
    for (const c of list) {
      if (madeByFog(c.Labels)) {
        const k = this.known.get(c.Id);
        if (k) out.push(k.container);
        continue;
      }
      const got = inspected.get(c.Id);
      if (got) this.footprints.set(c.Id, toFootprint(got));
      out.push(toForeignContainer(c, this.footprints.get(c.Id) ?? { resources: {}, hostPorts: [] }));
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  private async inspect(engine: Engine, ids: readonly string[]): Promise<Map<string, EngineContainer>> {
    const inspected = new Map<string, EngineContainer>();
    await eachLimited(ids, this.opts.inspectConcurrency ?? 4, async (id) => {
      const got = await engine.inspectContainer(id);
      if (got) inspected.set(id, got);
    });
    return inspected;
  }

  /** A managed container's inspect answer; none: it went between list and inspect, and is simply not there any more. */
  private remember(id: string, key: string, got: EngineContainer | undefined, base: TimeBase): void {
    if (!got) {
      this.known.delete(id);
      return;
    }
    const maxAge = this.opts.inspectMaxAgeMs ?? INSPECT_MAX_AGE_MS;
    const fresh = toManagedContainer(got, base);
    const prev = this.known.get(id)?.container;
    // Unchanged: the object of before, so that what depends on it (the controller's skip test, the reconcile memo) sees no change.
    const container = prev && sameContainer(prev, fresh) ? prev : fresh;
    this.known.set(id, { key, container, staleAt: base.now + maxAge * (0.5 + Math.random() / 2) });
  }

  private setReachable(now: number): void {
    const changed = !this.state.reachable;
    const { error: _gone, ...rest } = this.state;
    this.state = { ...rest, reachable: true, lastSeen: now, since: this.sinceFor(changed, now) };
    this.observed = true;
  }

  private setUnreachable(error: string, silentSince?: number): ObservedNode {
    const now = this.opts.now();
    const changed = this.state.reachable;
    // Never before the last time we saw it reachable.
    const at = silentSince !== undefined ? Math.min(now, Math.max(silentSince, this.state.since)) : now;
    this.state = { ...this.state, reachable: false, error, since: this.sinceFor(changed, at) };
    this.observed = true;
    return this.state;
  }

  /** The first observation keeps the creation time: the node's state is known since the controller started. */
  private sinceFor(changed: boolean, now: number): number {
    return this.observed && changed ? now : this.state.since;
  }
}

/** The same observation of a container; its times (engine times moved to the controller's clock) within a millisecond. */
function sameContainer(a: ObservedContainer, b: ObservedContainer): boolean {
  const near = (x: number | undefined, y: number | undefined) => x === y || (x !== undefined && y !== undefined && Math.abs(x - y) < 1);
  const { startedAt: sa, finishedAt: fa, ...ra } = a;
  const { startedAt: sb, finishedAt: fb, ...rb } = b;
  return near(sa, sb) && near(fa, fb) && isDeepStrictEqual(ra, rb);
}
