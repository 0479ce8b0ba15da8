// One fog node as the controller sees it: facts, containers and images read
// from its engine, in the controller's monotonic time. An engine that does
// not answer is observed state (reachable: false), never an exception.

import type { Logger } from 'pino';
import type { FogNode, ObservedContainer, ObservedNode } from '../api/types.js';
import { Engine, EngineError, type EngineContainer } from '../docker/engine.js';
import { isManaged, parseEngineTime, toFacts, toForeignContainer, toFootprint, toImages, toManagedContainer, type ContainerFootprint, type TimeBase } from './convert.js';
import { eachLimited } from '../docker/limit.js';
import { DEFAULT_EVENT_WATCH, EventWatch, type EventWatchOptions } from './events.js';

export interface NodeObserverOptions {
  /** The controller's monotonic clock, ms. */
  now: () => number;
  /** Deadline of each engine call, ms (used when no engine is given). */
  callTimeoutMs: number;
  /** A client shared with the executor; made from the Node's endpoint when absent. */
  engine?: Engine;
  logger?: Logger;
  /** Managed containers inspected at once. Default 8. */
  inspectConcurrency?: number;
  events?: Partial<EventWatchOptions>;
}

export class NodeObserver {
  readonly name: string;
  /** undefined when the Node's endpoint was refused (see `configError`). */
  readonly engine?: Engine;
  private readonly configError?: string;
  private state: ObservedNode;
  private observed = false;
  private readonly footprints = new Map<string, ContainerFootprint>();
  private inflight?: Promise<ObservedNode>;
  private queued?: Promise<ObservedNode>;
  private watcher?: EventWatch;

  constructor(
    node: FogNode,
    private readonly opts: NodeObserverOptions,
  ) {
    this.name = node.metadata.name;
    try {
      this.engine = opts.engine ?? Engine.forNode(node, { callTimeoutMs: opts.callTimeoutMs });
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
    if (!this.inflight) {
      this.inflight = this.read().finally(() => (this.inflight = undefined));
      return this.inflight;
    }
    this.queued ??= this.inflight.then(() => {
      this.queued = undefined;
      return this.observe();
    });
    return this.queued;
  }

  /** Follows the engine's container events; `onChange(name)` asks for a re-observe of this node. */
  watch(onChange: (node: string) => void): void {
    if (!this.engine || this.watcher) return;
    const log = this.opts.logger;
    this.watcher = new EventWatch(
      this.engine,
      {
        change: () => onChange(this.name),
        connected: () => onChange(this.name),
        dropped: (err, lost) => {
          log?.debug({ node: this.name, err: err.message, lost }, 'event stream dropped');
          if (lost) this.setUnreachable(err.message);
          onChange(this.name);
        },
      },
      { ...DEFAULT_EVENT_WATCH, ...this.opts.events },
    );
    this.watcher.start();
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async read(): Promise<ObservedNode> {
    const engine = this.engine;
    if (!engine) return this.setUnreachable(this.configError ?? 'no client');
    try {
      const [info, list, images] = await Promise.all([engine.info(), engine.listContainers(), engine.listImages()]);
      const now = this.opts.now();
      // Without SystemTime, assume the engine's clock agrees with ours.
      const base: TimeBase = { now, engineNow: parseEngineTime(info.SystemTime) ?? Date.now() };
      const containers = await this.containers(engine, list, base);
      this.setReachable(now);
      this.state = { ...this.state, facts: toFacts(info), containers, images: toImages(images) };
      return this.state;
    } catch (err) {
      return this.setUnreachable(err instanceof Error ? err.message : String(err));
    }
  }

  private async containers(engine: Engine, list: Awaited<ReturnType<Engine['listContainers']>>, base: TimeBase): Promise<ObservedContainer[]> {
    const seen = new Set(list.map((c) => c.Id));
    for (const id of this.footprints.keys()) if (!seen.has(id)) this.footprints.delete(id);
    // Managed containers are inspected every time (state, health, restarts);
    // foreign ones once, for what they reserve and bind.
    const todo = list.filter((c) => isManaged(c.Labels) || !this.footprints.has(c.Id));
    const inspected = new Map<string, EngineContainer>();
    await eachLimited(todo, this.opts.inspectConcurrency ?? 8, async (c) => {
      const got = await engine.inspectContainer(c.Id);
      if (got) inspected.set(c.Id, got);
    });
    const out: ObservedContainer[] = [];
    for (const c of list) {
      const got = inspected.get(c.Id);
      if (isManaged(c.Labels)) {
        // gone between list and inspect: it is simply not there any more
        if (got) out.push(toManagedContainer(got, base));
        continue;
      }
      if (got) this.footprints.set(c.Id, toFootprint(got));
      out.push(toForeignContainer(c, this.footprints.get(c.Id) ?? { resources: {}, hostPorts: [] }));
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  private setReachable(now: number): void {
    const changed = !this.state.reachable;
    const { error: _gone, ...rest } = this.state;
    this.state = { ...rest, reachable: true, lastSeen: now, since: this.sinceFor(changed, now) };
    this.observed = true;
  }

  private setUnreachable(error: string): ObservedNode {
    const now = this.opts.now();
    const changed = this.state.reachable;
    this.state = { ...this.state, reachable: false, error, since: this.sinceFor(changed, now) };
    this.observed = true;
    return this.state;
  }

  /** The first observation keeps the creation time: the node's state is known since the controller started. */
  private sinceFor(changed: boolean, now: number): number {
    return this.observed && changed ? now : this.state.since;
  }
}
