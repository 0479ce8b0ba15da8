// The FleetPort over Docker Engines: one NodeObserver (and its Engine client)
// per Node manifest, shared by the executor. Real engines and hollow ones go
// through exactly this code. When it follows events (the controller), it also
// runs the heartbeat over every engine: a silent node is reported through
// onChange as soon as it is lost, and again when it answers.

import type { Action, FogNode, ObservedImage, ObservedNode, ObservedState } from '../api/types.js';
import { Executor, type Actor } from '../apply/executor.js';
import { ImageTransfers, type Transfer } from '../apply/images.js';
import type { RegistryAuth } from '../docker/registry-auth.js';
import type { Engine, EngineErrorKind } from '../docker/engine.js';
import { NodeObserver } from '../observe/observer.js';
import { findImage } from '../reconcile/index.js';
import { DEFAULT_HEARTBEAT, Heartbeat, type HeartbeatMember } from '../observe/heartbeat.js';
import type { Clock } from '../runtime/clock.js';
import type { FleetPort } from './fleet.js';
import type { ActionResult } from '../api/types.js';
import type { Logger } from '../runtime/logger.js';

export interface EngineFleetOptions {
  clock: Clock;
  logger: Logger;
  /** Deadline of every engine call. */
  callTimeoutMs: number;
  cluster: string;
  /** Follow each engine's event stream (the controller); off for one-shot looks. */
  watchEvents: boolean;
  perNodeConcurrency?: number;
  retries?: number;
  /** The heartbeat (only with watchEvents): each engine pinged once per intervalMs (longer above maxRate turns a second), lost after `misses` pings in a row get no answer within timeoutMs. false: none. */
  heartbeat?: Partial<{ intervalMs: number; timeoutMs: number; misses: number; maxRate: number }> | false;
  /** Who acts: asked before every engine call of an action (src/ha). */
  actor?: Actor;
  /** Told when each engine call ends (metrics). */
  onEngineCall?: (node: string, seconds: number, error?: EngineErrorKind) => void;
  /** Credentials for pulls (`--registry-auth`). */
  registryAuth?: RegistryAuth;
}

interface Member {
  /** What the client was made from; a change means a new client. */
  key: string;
  observer: NodeObserver;
  beat?: HeartbeatMember;
}

export function createEngineFleet(opts: EngineFleetOptions): FleetPort {
  return new EngineFleet(opts);
}

class EngineFleet implements FleetPort {
  private readonly members = new Map<string, Member>();
  private executor?: Executor;
  private listeners: ((node: string) => void)[] = [];
  private readonly log: Logger;
  private readonly heartbeat?: Heartbeat;
  private readonly imageTransfers: ImageTransfers;

  constructor(private readonly opts: EngineFleetOptions) {
    this.log = opts.logger.child({ component: 'fleet' });
    this.imageTransfers = new ImageTransfers(opts.clock.wall);
    if (opts.watchEvents && opts.heartbeat !== false) this.heartbeat = new Heartbeat({ ...DEFAULT_HEARTBEAT, ...opts.heartbeat, now: opts.clock.now });
  }

  sync(nodes: readonly FogNode[]): void {
    const wanted = new Map(nodes.map((n) => [n.metadata.name, n]));
    let changed = false;
    for (const [name, m] of this.members) {
      const n = wanted.get(name);
      if (!n || clientKey(n) !== m.key) {
        m.observer.close();
        m.observer.engine?.close();
        this.members.delete(name);
        changed = true;
        this.log.info({ node: name }, n ? 'node endpoint changed; reconnecting' : 'node removed from the desired state; no longer observed');
      }
    }
    for (const [name, n] of wanted) {
      if (this.members.has(name)) continue;
      const observer = new NodeObserver(n, {
        now: this.opts.clock.now,
        callTimeoutMs: this.opts.callTimeoutMs,
        logger: this.opts.logger,
        ...(this.opts.onEngineCall ? { onEngineCall: this.opts.onEngineCall } : {}),
      });
      // With the heartbeat, the events come with its long polls: one connection per idle engine.
      if (this.opts.watchEvents) observer.watch((node) => this.listeners.forEach((l) => l(node)), this.heartbeat !== undefined);
      const engine = observer.engine;
      const beat: HeartbeatMember | undefined = engine && {
        name,
        ping: (timeoutMs, done, holdMs, periodMs) => engine.heartbeat(timeoutMs, done, holdMs, periodMs),
        hedge: (timeoutMs) => engine.hedge(timeoutMs),
        lost: (error, silentSince) => observer.heartbeatLost(error, silentSince),
        answered: () => observer.heartbeatAnswered(),
        // The engine's own record, on the fleet's clock.
        heardAt: () => {
          const silent = engine.silentForMs;
          return Number.isFinite(silent) ? this.opts.clock.now() - silent : undefined;
        },
      };
      this.members.set(name, { key: clientKey(n), observer, ...(beat ? { beat } : {}) });
      changed = true;
      if (n.spec.insecure && n.spec.endpoint.startsWith('tcp://')) {
        this.log.warn({ node: name, endpoint: n.spec.endpoint }, 'node uses plain tcp:// without TLS (insecure: true): anyone on that network can run containers as root on it');
      }
    }
    if (changed && this.heartbeat) {
      const before = this.heartbeat.intervalMs;
      this.heartbeat.set([...this.members.values()].flatMap((m) => m.beat ?? []));
      const interval = this.heartbeat.intervalMs;
      if (interval !== before) {
        this.log.info(
          {
            nodes: this.members.size,
            intervalMs: interval,
            configuredMs: this.opts.heartbeat ? this.opts.heartbeat.intervalMs : undefined,
            maxRate: this.opts.heartbeat ? this.opts.heartbeat.maxRate : undefined,
          },
          'heartbeat interval changed with the fleet size (at most --heartbeat-max-rate turns a second)',
        );
      }
    }
    if (changed || !this.executor) {
      const engines = new Map<string, Engine>();
      for (const [name, m] of this.members) if (m.observer.engine) engines.set(name, m.observer.engine);
      this.executor = new Executor(engines, {
        cluster: this.opts.cluster,
        perNodeConcurrency: this.opts.perNodeConcurrency ?? 4,
        callTimeoutMs: this.opts.callTimeoutMs,
        retries: this.opts.retries ?? 2,
        logger: this.opts.logger,
        ...(this.opts.actor ? { actor: this.opts.actor } : {}),
        ...(this.opts.registryAuth ? { registryAuth: this.opts.registryAuth } : {}),
        wall: this.opts.clock.wall,
        transfers: this.imageTransfers,
      });
    }
  }

  async observe(nodes?: readonly string[]): Promise<ObservedState> {
    const targets = nodes === undefined ? [...this.members.values()] : nodes.flatMap((n) => this.members.get(n) ?? []);
    await Promise.all(targets.map((m) => m.observer.observe()));
    const all: ObservedNode[] = [...this.members.values()].map((m) => m.observer.last);
    return { nodes: all };
  }

  async execute(actions: readonly Action[]): Promise<ActionResult[]> {
    if (!this.executor) return actions.map((action) => ({ action, ok: false, code: 'unknown-node', message: `node ${action.node} is not in the desired state`, retryable: false }));
    const results = await this.executor.execute(actions);
    for (const r of results) {
      const id = r.containerId ?? (r.action.type === 'start' || r.action.type === 'remove' ? r.action.containerId : undefined);
      if (id !== undefined) this.members.get(r.action.node)?.observer.actedOn([id]);
    }
    // Whatever came of a pull or copy, the node's images are read on its next look (their event may come after it).
    for (const a of actions) if (a.type === 'pull' || a.type === 'copy') this.members.get(a.node)?.observer.imagesChanged();
    return results;
  }

  transfers(): Transfer[] {
    return this.imageTransfers.inFlight();
  }

  nodeImage(image: string): ObservedImage | undefined {
    for (const m of this.members.values()) {
      const n = m.observer.last;
      const found = n.reachable && n.images !== undefined ? findImage(n.images, image) : undefined;
      if (found !== undefined) return found;
    }
    return undefined;
  }

  onChange(cb: (node: string) => void): void {
    this.listeners.push(cb);
  }

  engine(node: string): Engine | undefined {
    return this.members.get(node)?.observer.engine;
  }

  lastAnswer(node: string): number | undefined {
    return this.heartbeat?.lastAnswer(node);
  }

  heartbeatIntervalMs(): number | undefined {
    return this.heartbeat?.intervalMs;
  }

  async close(): Promise<void> {
    this.heartbeat?.stop();
    for (const m of this.members.values()) {
      m.observer.close();
      m.observer.engine?.close();
    }
    this.members.clear();
  }
}

function clientKey(n: FogNode): string {
  return JSON.stringify([n.spec.endpoint, n.spec.tls ?? null, n.spec.insecure]);
}
