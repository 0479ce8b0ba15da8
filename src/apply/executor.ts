// Carries out a plan's actions on the engines and reports each as a result
// value: a failed action never stops the others or another node's work.
//
// Every action is idempotent: a create whose name exists adopts the existing
// container (ours, same spec) instead of making a second one; start, stop and
// remove of something already in that state succeed. Containers without our
// labels are never started, stopped or removed.

import type { Logger } from 'pino';
import { isOurs, LABEL, type Action, type ActionFailureCode, type ActionResult } from '../api/types.js';
import { parseImageRef } from '../api/image-ref.js';
import { EngineError, type Engine } from '../docker/engine.js';
import type { RegistryAuth } from '../docker/registry-auth.js';
import { eachLimited } from '../docker/limit.js';
import { createBody } from './container-config.js';
import { ImageTransfers } from './images.js';

export type { ActionResult } from '../api/types.js';

export interface ExecutorOptions {
  /** Only containers of this cluster (isOurs) are started or removed. */
  cluster: string;
  /** Actions in flight per node. */
  perNodeConcurrency: number;
  /** Deadline of each engine call, ms (a stop adds its grace period). */
  callTimeoutMs: number;
  /** Extra attempts for a transient failure. */
  retries: number;
  /** First retry delay, ms; doubles. Default 200. */
  retryDelayMs?: number;
  /** Deadline of an image pull, ms. Default 5 minutes. */
  pullTimeoutMs?: number;
  logger?: Logger;
  /** Who acts (src/ha): asked before every engine call, so that a controller that may no longer act starts none; its labels go on every container it creates. */
  actor?: Actor;
  /** Wall-clock ms (the controller's injected Clock), for each action's start in its log line. */
  wall?: () => number;
  /** Pulls and copies in flight (kept by the fleet across executors, for the status). */
  transfers?: ImageTransfers;
  /** Credentials sent with pulls from the registries they name (`fogctl run --registry-auth`). */
  registryAuth?: RegistryAuth;
}

export interface Actor {
  /** Undefined: may act; else why not. */
  refusal(): string | undefined;
  /** fog.controller (and fog.lease-rev under etcd election). */
  labels(): Record<string, string>;
}

/** Why an action cannot complete: its failure code and whether trying again may help. */
class ActionError extends Error {
  constructor(
    readonly code: ActionFailureCode,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

// 5xx answers that will not change on retry.
const TERMINAL: ReadonlyArray<[RegExp, ActionFailureCode]> = [
  [/error gathering device information|no such device|device .* not found/i, 'device-not-found'],
  [/port is already allocated|address already in use/i, 'port-in-use'],
  [/out of memory|\boom\b|memory limit/i, 'out-of-memory'],
  [/executable file not found|oci runtime|permission denied|no such file or directory|invalid/i, 'start-failed'],
];

const STALE = /task [0-9a-f]+: already exists|endpoint with name .* already exists/i;
const STALE_ENDPOINT = /endpoint with name (\S+) already exists in network (\S+)/i;

/** Turns an engine error into the action's outcome. */
export function classify(err: unknown): ActionError {
  if (err instanceof ActionError) return err;
  if (!(err instanceof EngineError)) return new ActionError('engine-error', err instanceof Error ? err.message : String(err), false);
  switch (err.kind) {
    case 'config':
      return new ActionError('unreachable', err.message, false);
    case 'timeout':
      return new ActionError('timeout', err.message, true);
    case 'connection':
      return new ActionError('unreachable', err.message, true);
    case 'http':
      break;
  }
  const status = err.status ?? 500;
  if (status === 400) return new ActionError('bad-parameter', err.message, false);
  if (status === 404) return new ActionError('not-found', err.message, false);
  if (status === 409) return new ActionError('name-conflict', err.message, false);
  for (const [re, code] of TERMINAL) if (re.test(err.message)) return new ActionError(code, err.message, false);
  // Left over in the engine from before it restarted (its containerd still holds the task, or its network the
  // endpoint): this container will not start again, a new one will (the reconcile replaces it). Retryable: a create
  // whose start hits it backs off like any other, so a replacement that fails the same way cannot churn.
  if (STALE.test(err.message)) return new ActionError('container-stale', err.message, true);
  return new ActionError('engine-error', err.message, status >= 500);
}

const AUTH_REFUSED = /unauthorized|no basic auth credentials|authentication required|incorrect username or password/i;
const NO_VARIANT = /no matching manifest for/i;

/**
 * A pull that failed: refused credentials and a missing platform variant are
 * terminal (trying again cannot help until something changes); anything else
 * (a registry that is down, a network error) is retried with back-off.
 */
function pullFailure(image: string, node: string, registry: string, message: string, authFile: string | undefined, service: string): ActionError {
  if (AUTH_REFUSED.test(message)) {
    const how = authFile === undefined ? `give the controller credentials for ${registry} (fogctl run --registry-auth config.json)` : `correct the entry for ${registry} in ${authFile}`;
    return new ActionError('registry-auth-failed', `registry ${registry} refused the credentials for ${image} on node ${node} (${message}); ${how}, then fogctl rollout restart ${service}`, false);
  }
  if (NO_VARIANT.test(message)) return new ActionError('image-pull-failed', `image ${image} has no variant for node ${node}: ${message}`, false);
  // Retryable: the registry may come back; the reconcile backs the next attempt off.
  return new ActionError('image-pull-failed', `image ${image} is not on node ${node} and pulling it failed: ${message}`, true);
}

const isHttp = (err: unknown, status: number): err is EngineError => err instanceof EngineError && err.status === status;

export class Executor {
  private readonly engines: ReadonlyMap<string, Engine>;
  private readonly log?: Logger;
  private readonly transfers: ImageTransfers;

  constructor(
    clients: ReadonlyMap<string, Engine> | Readonly<Record<string, Engine>>,
    private readonly opts: ExecutorOptions,
  ) {
    const entries = clients instanceof Map ? [...clients] : Object.entries(clients);
    this.engines = new Map(
      entries.map(([node, e]: [string, Engine]) => [node, e.withOptions({ callTimeoutMs: opts.callTimeoutMs, ...(opts.pullTimeoutMs ? { pullTimeoutMs: opts.pullTimeoutMs } : {}) })]),
    );
    this.log = opts.logger?.child({ component: 'executor' });
    // Without a clock (one-shot uses) a transfer's start reads 0: its age is not shown anywhere then.
    this.transfers = opts.transfers ?? new ImageTransfers(opts.wall ?? (() => 0));
  }

  /** Results in the order of `actions`. Nodes run in parallel; actions on one replica slot run in order. */
  async execute(actions: readonly Action[]): Promise<ActionResult[]> {
    const results: ActionResult[] = new Array(actions.length);
    const byNode = new Map<string, Map<string, number[]>>();
    actions.forEach((a, i) => {
      const slots = byNode.get(a.node) ?? new Map<string, number[]>();
      byNode.set(a.node, slots);
      const key = `${a.service}/${a.slot}`;
      slots.set(key, [...(slots.get(key) ?? []), i]);
    });
    await Promise.all(
      [...byNode].map(([node, slots]) =>
        eachLimited([...slots.values()], this.opts.perNodeConcurrency, async (indexes) => {
          for (const i of indexes) results[i] = await this.run(node, actions[i] as Action);
        }),
      ),
    );
    return results;
  }

  private async run(node: string, action: Action): Promise<ActionResult> {
    const name = action.type === 'create' ? action.container.name : action.type === 'pull' || action.type === 'copy' ? action.image : action.containerName;
    const log = this.log?.child({ node, service: action.service, slot: action.slot, container: name });
    try {
      const engine = this.engines.get(node);
      if (!engine) throw new ActionError('unknown-node', `no engine client for node ${node}`, false);
      const startedAt = this.opts.wall?.();
      const labels = this.opts.actor?.labels();
      const containerId = await this.perform(engine, action, labels);
      // The window of each action and the lease revision it ran under: a test (and a person) can check that no two leaders acted at once.
      log?.info(
        { action: action.type, reason: action.reason, ...(startedAt !== undefined ? { startedAt } : {}), ...(labels?.[LABEL.leaseRev] ? { leaseRev: Number(labels[LABEL.leaseRev]) } : {}) },
        `${action.type} ${name}`,
      );
      return { action, ok: true, ...(containerId ? { containerId } : {}) };
    } catch (err) {
      const f = classify(err);
      log?.warn({ action: action.type, code: f.code, retryable: f.retryable }, `${action.type} ${name} failed: ${f.message}`);
      return { action, ok: false, code: f.code, message: f.message, retryable: f.retryable };
    }
  }

  private perform(engine: Engine, action: Action, labels: Record<string, string> | undefined): Promise<string | undefined> {
    switch (action.type) {
      case 'create':
        return this.create(engine, action, labels);
      case 'start':
        return this.owned(
          engine,
          action.containerId,
          async (id) => {
            await this.start(engine, id);
          },
          false,
        );
      case 'remove':
        return this.owned(engine, action.containerId, async (id, running) => {
          if (running) await this.gone(() => this.retry(() => engine.stopContainer(id, action.stopTimeout)));
          await this.gone(() => this.retry(() => engine.removeContainer(id)));
        });
      case 'pull':
        return this.fetch(action, () => this.transfers.pull(engine, action.image, this.opts.registryAuth?.header(parseImageRef(action.image).registry)));
      case 'copy': {
        const source = this.engines.get(action.from);
        if (!source) throw new ActionError('unknown-node', `no engine client for node ${action.from} (the copy's source)`, false);
        return this.fetch(action, () => this.transfers.copy(source, engine, action.image, action.exportAs));
      }
    }
  }

  /** A pull or copy; its failure says where the image was to come from (a pull's as the create's fallback words it: a refused login is terminal). */
  private async fetch(action: Extract<Action, { type: 'pull' | 'copy' }>, fn: () => Promise<void>): Promise<undefined> {
    const refused = this.opts.actor?.refusal();
    if (refused !== undefined) throw new ActionError('fenced', `not carried out: ${refused}`, true);
    try {
      await fn();
      return undefined;
    } catch (err) {
      const f = classify(err);
      if (action.type === 'copy') throw new ActionError('image-copy-failed', `copying image ${action.image} from node ${action.from} to node ${action.node} failed: ${f.message}`, true);
      throw pullFailure(action.image, action.node, parseImageRef(action.image).registry, f.message, this.opts.registryAuth?.file, action.service);
    }
  }

  private async create(engine: Engine, action: Extract<Action, { type: 'create' }>, labels: Record<string, string> | undefined): Promise<string> {
    const spec = action.container;
    const body = createBody(spec);
    if (labels) body.Labels = { ...(body.Labels as Record<string, string>), ...labels };
    let id: string | undefined;
    for (let pulled = false; id === undefined;) {
      try {
        id = await this.retry(() => engine.createContainer(spec.name, body));
      } catch (err) {
        if (isHttp(err, 404) && /no such image/i.test(err.message) && !pulled) {
          const registry = parseImageRef(spec.image).registry;
          await engine.pullImage(spec.image, this.opts.registryAuth?.header(registry)).catch((pullErr: unknown) => {
            throw pullFailure(spec.image, engine.node, registry, (pullErr as Error).message, this.opts.registryAuth?.file, action.service);
          });
          pulled = true;
        } else if (isHttp(err, 409)) {
          id = await this.adopt(engine, spec.name, spec.labels[LABEL.hash], spec.labels[LABEL.cluster]);
        } else {
          throw err;
        }
      }
    }
    if (action.start) await this.start(engine, id);
    return id;
  }

  /**
   * Starts a container. A daemon that stopped mid-start can keep its network
   * endpoint after it comes back (`endpoint with name N already exists in
   * network M`), keyed by name, so a new container of that name hits it too:
   * the endpoint is dropped (`docker network disconnect --force`, Docker's own
   * advice) and the start tried once more. A stale task is left to the
   * reconcile, which replaces the container (`container-stale`).
   */
  private async start(engine: Engine, id: string): Promise<void> {
    try {
      await this.retry(() => engine.startContainer(id));
    } catch (err) {
      const stale = err instanceof EngineError ? STALE_ENDPOINT.exec(err.message) : null;
      if (!stale) throw err;
      await this.retry(() => engine.disconnectEndpoint(stale[2]!, stale[1]!));
      this.log?.warn({ container: stale[1], network: stale[2] }, 'dropped a network endpoint the engine kept from before it restarted');
      await this.retry(() => engine.startContainer(id));
    }
  }

  /** The name is taken: use that container if it is ours with the same spec. */
  private async adopt(engine: Engine, name: string, hash: string | undefined, cluster: string | undefined): Promise<string> {
    const existing = await this.retry(() => engine.inspectContainer(name));
    if (!existing) throw new ActionError('name-conflict', `container ${name} was being removed while we created it`, true);
    const labels = existing.Config.Labels ?? {};
    // A person's container, or another controller's, is never adopted, even under a name that looks like ours.
    if (!isOurs(labels, cluster ?? this.opts.cluster)) {
      const owner = labels[LABEL.cluster];
      throw new ActionError(
        'name-conflict',
        owner === undefined
          ? `container name ${name} is taken by a container that is not managed by fog`
          : `container name ${name} is taken by a container of cluster ${owner}, not ${cluster ?? this.opts.cluster}`,
        false,
      );
    }
    if (hash !== undefined && labels[LABEL.hash] !== hash) {
      throw new ActionError('name-conflict', `container ${name} exists with another spec (hash ${labels[LABEL.hash] ?? 'none'}, want ${hash})`, false);
    }
    return existing.Id;
  }

  /** Runs `fn` on a container only when it carries our labels; a container that is gone fails only when `goneIsFailure`. */
  private async owned(engine: Engine, id: string, fn: (id: string, running: boolean) => Promise<void>, goneIsDone = true): Promise<string | undefined> {
    const c = await this.retry(() => engine.inspectContainer(id));
    if (!c) {
      if (goneIsDone) return undefined;
      throw new ActionError('not-found', `no container ${id} on node ${engine.node}`, false);
    }
    if (!isOurs(c.Config.Labels, this.opts.cluster)) {
      throw new ActionError(
        'not-managed',
        `container ${c.Name.replace(/^\//, '')} does not carry cluster ${this.opts.cluster}'s ${LABEL.cluster} and ${LABEL.service} labels: not ours to touch`,
        false,
      );
    }
    await fn(c.Id, c.State.Running || c.State.Status === 'restarting');
    return c.Id;
  }

  /** A container that disappeared under us is already where a stop or remove wanted it. */
  private async gone(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (isHttp(err, 404)) return;
      // removal already in progress
      if (isHttp(err, 409) && /in progress/i.test(err.message)) return;
      throw err;
    }
  }

  private async retry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const refused = this.opts.actor?.refusal();
      if (refused !== undefined) throw new ActionError('fenced', `not carried out: ${refused}`, true);
      try {
        return await fn();
      } catch (err) {
        const f = classify(err);
        if (!f.retryable || attempt >= this.opts.retries) throw err;
        await new Promise((r) => setTimeout(r, (this.opts.retryDelayMs ?? 200) * 2 ** attempt));
      }
    }
  }
}
