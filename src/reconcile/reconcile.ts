// reconcile(desired, observed, now) → { actions, status }: the level-triggered
// heart of the controller. Pure: no I/O, no clock (time is `now`), no
// randomness; inputs are never mutated; the same world in any order gives the
// same plan.
//
//   pair   managed containers (our cluster label + a service label) by service and slot
//   prune  orphans, invalid slots, scale-down, dead, misplaced, duplicates
//   heal   created → start; exited → start after back-off, per restart policy
//   roll   a changed spec hash: replace per spec.update (parallelism, order, delay)
//   place  vacant slots through the scheduler (filters → scores)
//   report status per service, replica and node, and events
//
// Containers on unreachable nodes never get actions. Within the grace period
// they count as present but not ready; after it their slots are re-placed.

import type {
  Action,
  Condition,
  DesiredState,
  EnvVar,
  NodeStatus,
  ObservedContainer,
  ObservedState,
  ReconcileResult,
  ReplicaStatus,
  Service,
  ServiceStatus,
  StatusEvent,
  Unschedulable,
} from '../api/types.js';
import { LABEL } from '../api/types.js';
import { at, explainUnschedulable } from '../schedule/explain.js';
import { buildNodeInfos, containerPortKeys } from '../schedule/nodes.js';
import { Placement, Scheduler } from '../schedule/scheduler.js';
import { refusal, securityRequest } from '../schedule/policy.js';
import type { NodeInfo, NodeVerdict, PlacementRequest, Rejection } from '../schedule/types.js';
import { dependencyCycles } from '../manifest/cross.js';
import { endpointEnv, planningOrder, servicePort, type Endpoint } from './deps.js';
import { cmp, type Replica, type SlotState, rankKeepers } from './replicas.js';
import { containerSpec } from './names.js';
import { REASON } from './reasons.js';
import { inCrashLoop, restartDecision } from './restart.js';
import { canonicalJson, containerShape, fnv1a64, specHash, type ContainerShape } from './hash.js';

export interface ReconcileOutput extends ReconcileResult {
  /**
   * The earliest time (controller-monotonic ms) at which reconciling the same
   * observed state would decide something new: a back-off ending, a rollout
   * delay ending, a grace period running out. The controller requeues then.
   */
  requeueAt?: number;
}

const DEFAULT_STOP_TIMEOUT = 10;
const TYPE_ORDER: Record<Action['type'], number> = { remove: 0, stop: 1, start: 2, create: 3 };
const WARNING_ACTIONS: ReadonlySet<string> = new Set([REASON.Dead, REASON.NodeLost, REASON.Misplaced, REASON.Rescheduled]);

export function placementRequest(s: Service): PlacementRequest {
  const p = s.spec.placement;
  const req: PlacementRequest = {
    service: s.metadata.name,
    constraints: p.constraints,
    devices: s.spec.devices,
    resources: { cpu: s.spec.resources.cpu ?? 0, memory: s.spec.resources.memory ?? 0 },
    affinity: p.affinity,
    antiAffinity: p.antiAffinity,
    hostPorts: containerPortKeys(s.spec.network, s.spec.ports),
  };
  if (p.maxPerNode !== undefined) req.maxPerNode = p.maxPerNode;
  if (p.spread !== undefined) req.spread = p.spread;
  const security = securityRequest(s);
  if (security !== undefined) req.security = security;
  return req;
}

class Pass {
  readonly actions: Action[] = [];
  readonly events: StatusEvent[] = [];
  readonly statuses: ServiceStatus[] = [];
  requeueAt = Number.POSITIVE_INFINITY;
  readonly scheduler: Scheduler;
  readonly nodes: readonly NodeInfo[];
  readonly services = new Map<string, Service>();
  readonly replicas = new Map<string, Replica[]>();
  readonly cycles: Map<string, string[]>;
  readonly nodeStatus: NodeStatus[];
  readonly cluster: string;
  /** Unreachable within grace and never seen by this controller: their containers are unknown. */
  readonly unlisted: readonly NodeInfo[];

  constructor(
    readonly desired: DesiredState,
    observed: ObservedState,
    readonly now: number,
  ) {
    const settings = desired.settings;
    this.cluster = settings.cluster;
    const managedOn = new Map<string, number>();
    this.nodes = buildNodeInfos(desired.nodes, observed.nodes, settings, now, (c, service, nodeName, node) => {
      managedOn.set(nodeName, (managedOn.get(nodeName) ?? 0) + 1);
      const where = node === undefined || node.lost ? 'lost' : node.reachable ? 'live' : 'pending';
      let list = this.replicas.get(service);
      if (list === undefined) this.replicas.set(service, (list = []));
      list.push({ c, node, nodeName, service, slot: parseSlot(c.labels[LABEL.slot]), hash: c.labels[LABEL.hash], where });
    });
    this.scheduler = new Scheduler(this.nodes);
    this.unlisted = this.nodes.filter((n) => !n.reachable && !n.lost && n.lastSeen === undefined);
    for (const s of desired.services) this.services.set(s.metadata.name, s);
    this.cycles = dependencyCycles(desired.services);

    this.nodeStatus = this.nodes.map((n) => {
      const st: NodeStatus = {
        name: n.name,
        reachable: n.reachable,
        since: n.since,
        unschedulable: n.cordoned,
        capacity: { ...n.capacity },
        reserved: { ...n.reserved },
        labels: n.facts.labels,
        devices: [...n.devices].sort(),
        replicas: managedOn.get(n.name) ?? 0,
      };
      if (n.lastSeen !== undefined) st.lastSeen = n.lastSeen;
      if (!n.reachable) {
        const grace = n.since + settings.nodeGracePeriod;
        st.message = n.lost
          ? `unreachable since ${at(n.since)} (last seen ${at(n.lastSeen)}${n.error ? `: ${n.error}` : ''}): grace period over, replicated replicas re-placed`
          : `unreachable since ${at(n.since)} (last seen ${at(n.lastSeen)}${n.error ? `: ${n.error}` : ''}): replicas kept until ${at(grace)}`;
        this.event('Warning', n.lost ? REASON.NodeLost : REASON.NodeUnreachable, `node/${n.name}`, st.message);
        if (!n.lost) this.requeue(grace + 1);
      }
      return st;
    });
  }

  requeue(t: number): void {
    if (t > this.now && t < this.requeueAt) this.requeueAt = t;
  }

  event(type: 'Normal' | 'Warning', reason: string, object: string, message: string): void {
    this.events.push({ time: this.now, type, reason, object, message });
  }

  stopTimeout(service: string): number {
    return this.services.get(service)?.spec.stopGracePeriod ?? DEFAULT_STOP_TIMEOUT;
  }

  /** Plan a removal and give back what the container held, so this pass can reuse it. */
  remove(r: Replica, reason: string, message: string): void {
    if (r.where !== 'live' || r.node === undefined || r.c.state === 'removing') return;
    this.actions.push({
      type: 'remove',
      node: r.nodeName,
      service: r.service,
      slot: Number.isNaN(r.slot) ? -1 : r.slot,
      reason,
      message,
      containerId: r.c.id,
      containerName: r.c.name,
      stopTimeout: this.stopTimeout(r.service),
    });
    this.scheduler.release(r.node, r.service, r.c.resources, r.c.hostPorts);
  }

  /** By node, service, slot, type (remove, stop, start, create), name: bucketed per node, since a fleet plan can hold 50k actions. */
  sortedActions(): Action[] {
    const byNode = new Map<string, Action[]>();
    for (const a of this.actions) {
      let list = byNode.get(a.node);
      if (list === undefined) byNode.set(a.node, (list = []));
      list.push(a);
    }
    const out: Action[] = [];
    for (const n of this.nodes) {
      const list = byNode.get(n.name);
      if (list === undefined) continue;
      list.sort(
        (a, b) =>
          cmp(a.service, b.service) ||
          a.slot - b.slot ||
          TYPE_ORDER[a.type] - TYPE_ORDER[b.type] ||
          cmp(actionName(a), actionName(b)) ||
          cmp(a.type === 'create' ? '' : a.containerId, b.type === 'create' ? '' : b.containerId),
      );
      for (const a of list) out.push(a);
    }
    return out;
  }

  /** One event per service and reason, with the first action's message and a count (a fresh fleet would otherwise log 50k lines). */
  actionEvents(actions: readonly Action[]): void {
    const groups = new Map<string, { a: Action; n: number }>();
    for (const a of actions) {
      const key = `${a.service}\u0000${a.reason}`;
      const g = groups.get(key);
      if (g === undefined) groups.set(key, { a, n: 1 });
      else g.n++;
    }
    for (const { a, n } of groups.values()) {
      const type = WARNING_ACTIONS.has(a.reason) ? 'Warning' : 'Normal';
      this.event(type, a.reason, `service/${a.service}`, n === 1 ? a.message : `${a.message} (and ${n - 1} more)`);
    }
  }

  run(): ReconcileOutput {
    // Services no longer desired: remove what we own of them.
    for (const [service, list] of this.replicas) {
      if (this.services.has(service)) continue;
      for (const r of list) this.remove(r, REASON.Orphaned, `service ${service} is no longer desired: removing ${r.c.name} from ${r.nodeName}`);
    }
    for (const s of planningOrder(this.services)) this.statuses.push(new ServicePlan(this, s).run());

    const actions = this.sortedActions();
    this.actionEvents(actions);
    const events = this.events.sort((a, b) => cmp(a.object, b.object) || cmp(a.reason, b.reason) || cmp(a.message, b.message));
    const services = this.statuses.sort((a, b) => cmp(a.name, b.name));
    const out: ReconcileOutput = { actions, status: { services, nodes: this.nodeStatus, events } };
    if (Number.isFinite(this.requeueAt)) out.requeueAt = this.requeueAt;
    return out;
  }
}

function actionName(a: Action): string {
  return a.type === 'create' ? a.container.name : a.containerName;
}

/** One service's share of the pass. */
class ServicePlan {
  readonly name: string;
  readonly placement: Placement;
  hash = '';
  depEnv: EnvVar[] = [];
  shape: ContainerShape | undefined;
  readonly conditions: Condition[] = [];
  readonly replicaStatus: ReplicaStatus[] = [];
  frozen: string | undefined; // why no new containers may be created
  unschedulable: Unschedulable | undefined;
  readonly globalVerdicts: NodeVerdict[] = [];
  rolloutNote: { reason: string; message: string } | undefined;

  constructor(
    readonly pass: Pass,
    readonly svc: Service,
  ) {
    this.name = svc.metadata.name;
    this.placement = pass.scheduler.prepare(placementRequest(svc));
  }

  get spec() {
    return this.svc.spec;
  }

  ready(r: Replica | undefined): boolean {
    return r !== undefined && r.where === 'live' && isReady(r.c, this.svc);
  }

  run(): ServiceStatus {
    // Only bind mounts can be refused: skip the fleet-wide socket scan for the rest.
    const refused = this.spec.volumes.some((v) => v.type === 'bind') ? refusal(this.svc, this.pass.desired.nodes) : [];
    if (refused.length > 0) return this.refused(refused.join('; '));
    this.resolveDependencies();
    if (this.spec.mode === 'replicated') this.holdForUnlistedNodes();
    this.shape = containerShape(this.svc, this.depEnv);
    this.hash = fnv1a64(canonicalJson(this.shape));
    const slots = this.spec.mode === 'global' ? this.globalSlots() : this.replicatedSlots();
    for (const s of slots) this.pruneSlot(s);
    this.rollAndPlace(slots);
    for (const s of slots) this.heal(s);
    return this.status(slots);
  }

  /** Never-allowed settings (schedule/policy.ts): no action of any kind; what already runs is only reported. */
  refused(why: string): ServiceStatus {
    const message = `refused by the security policy: ${why}`;
    this.hash = specHash(this.svc);
    for (const r of this.pass.replicas.get(this.name) ?? []) this.replicaStatus.push(this.replicaLine(r, message));
    this.conditions.push({ type: 'Refused', status: true, reason: REASON.PolicyRefused, message });
    this.rolloutNote = { reason: REASON.PolicyRefused, message };
    this.pass.event('Warning', REASON.PolicyRefused, `service/${this.name}`, message);
    const n = this.spec.mode === 'global' ? 0 : this.spec.replicas;
    return this.status(Array.from({ length: n }, (_, slot) => ({ slot, replicas: [] })));
  }

  resolveDependencies(): void {
    const cycle = this.pass.cycles.get(this.name);
    if (cycle !== undefined) {
      const message = `dependency cycle: ${cycle.join(' → ')}`;
      this.frozen = message;
      this.conditions.push({ type: 'DependencyCycle', status: true, reason: REASON.DependencyCycle, message });
      this.pass.event('Warning', REASON.DependencyCycle, `service/${this.name}`, message);
      return;
    }
    const waiting: string[] = [];
    const resolved: { service: string; endpoint: Endpoint }[] = [];
    for (const dep of this.spec.dependsOn) {
      const ds = this.pass.services.get(dep);
      if (ds === undefined) {
        waiting.push(`${dep} (not defined)`);
        continue;
      }
      const maxSlot = ds.spec.mode === 'global' ? Number.POSITIVE_INFINITY : ds.spec.replicas;
      // The lowest-slot ready replica (then node name, container name). Within
      // the grace period a replica on an unreachable node still counts with its
      // last known state, so a blip does not re-point dependents.
      let r: Replica | undefined;
      for (const x of this.pass.replicas.get(dep) ?? []) {
        if (x.where === 'lost' || !(x.slot < maxSlot) || !isReady(x.c, ds)) continue;
        if (r === undefined || compareReplicas(x, r) < 0) r = x;
      }
      if (r === undefined || r.node === undefined) {
        waiting.push(dep);
        continue;
      }
      const endpoint: Endpoint = { address: r.node.address };
      const port = servicePort(ds);
      if (port !== undefined) endpoint.port = port;
      resolved.push({ service: dep, endpoint });
    }
    this.depEnv = endpointEnv(resolved);
    if (waiting.length > 0) {
      const message = `waiting for a ready replica of ${waiting.join(', ')}`;
      this.frozen = message;
      this.conditions.push({ type: 'DependencyWait', status: true, reason: REASON.DependencyWait, message });
      this.pass.event('Normal', REASON.DependencyWait, `service/${this.name}`, message);
    }
  }

  /**
   * A node that has not answered once since the controller started may run
   * any of this service's replicas: creating them elsewhere now could double
   * them. New containers wait until its grace period (counted from the
   * controller's start) is over, as they would for a node seen going away.
   */
  holdForUnlistedNodes(): void {
    if (this.frozen !== undefined || this.pass.unlisted.length === 0) return;
    const names = this.pass.unlisted.map((n) => n.name);
    const until = Math.max(...this.pass.unlisted.map((n) => n.since)) + this.pass.desired.settings.nodeGracePeriod;
    this.frozen = `node${names.length > 1 ? 's' : ''} ${names.join(', ')} not observed since the controller started; what ${names.length > 1 ? 'they run' : 'it runs'} is unknown until the grace period ends at ${at(until)}`;
    this.conditions.push({ type: 'NodeUnreachable', status: true, reason: REASON.NodeUnreachable, message: this.frozen });
  }

  replicatedSlots(): SlotState[] {
    const n = this.spec.replicas;
    const slots: SlotState[] = [];
    for (let i = 0; i < n; i++) slots.push({ slot: i, replicas: [] });
    for (const r of this.pass.replicas.get(this.name) ?? []) {
      if (Number.isNaN(r.slot)) this.pass.remove(r, REASON.InvalidSlot, `${r.c.name} on ${r.nodeName} has no usable ${LABEL.slot} label`);
      else if (r.slot >= n) this.pass.remove(r, REASON.ScaleDown, `scaling ${this.name} to ${n}: removing slot ${r.slot} (${r.c.name} on ${r.nodeName})`);
      else slots[r.slot]!.replicas.push(r);
    }
    return slots;
  }

  /**
   * Global: one slot (number 0) per node that should run it. A reachable node
   * failing the service's constraints or devices loses its replica; a cordoned
   * one keeps it but gets no new one; unreachable nodes are left as they are.
   */
  globalSlots(): SlotState[] {
    const byNode = new Map<string, Replica[]>();
    for (const r of this.pass.replicas.get(this.name) ?? []) {
      if (r.node === undefined) continue;
      let list = byNode.get(r.nodeName);
      if (list === undefined) byNode.set(r.nodeName, (list = []));
      list.push(r);
    }
    const slots: SlotState[] = [];
    for (const node of this.pass.nodes) {
      const here = byNode.get(node.name) ?? [];
      if (node.lost) {
        if (here.length > 0) this.globalVerdicts.push({ node: node.name, rejection: unreachable(node) });
        for (const r of here) this.replicaStatus.push(this.replicaLine(r, lostMessage(r, this.pass)));
        continue;
      }
      if (!node.reachable) {
        if (here.length > 0) slots.push({ slot: 0, pin: node, replicas: here });
        else this.globalVerdicts.push({ node: node.name, rejection: unreachable(node) });
        continue;
      }
      const enforced = this.placement.check(node, 'enforced');
      if (enforced !== undefined) {
        for (const r of here) this.pass.remove(r, REASON.Misplaced, `${r.c.name} on ${node.name}: node no longer eligible (${describe(enforced)})`);
        this.globalVerdicts.push({ node: node.name, rejection: enforced });
        continue;
      }
      if (here.length > 0) {
        slots.push({ slot: 0, pin: node, replicas: here });
        continue;
      }
      const rej = this.placement.check(node);
      if (rej === undefined || capacityLike(rej)) slots.push({ slot: 0, pin: node, replicas: [] });
      else this.globalVerdicts.push({ node: node.name, rejection: rej });
    }
    return slots;
  }

  /** Drop what cannot stay in the slot, then keep one current and one old container. */
  pruneSlot(s: SlotState): void {
    if (s.replicas.length === 1) {
      // The common case, without the allocations of the general one.
      const r = s.replicas[0]!;
      if (r.where === 'pending' || (r.where === 'live' && r.c.state !== 'dead' && r.c.state !== 'removing' && (s.pin !== undefined || this.placement.enforcedOk(r.node!)))) {
        if (r.hash === this.hash) s.cur = r;
        else s.old = r;
        return;
      }
    }
    if (s.replicas.length > 1) s.replicas.sort(compareReplicas);
    const keep: Replica[] = [];
    for (const r of s.replicas) {
      if (r.where === 'lost') {
        s.lost ??= r;
        this.replicaStatus.push(this.replicaLine(r, lostMessage(r, this.pass)));
        continue;
      }
      if (r.c.state === 'removing') {
        // Going away on its own: it holds the slot (and its name) until it is gone, and gets no action.
        keep.push(r);
        continue;
      }
      if (r.where === 'live' && s.pin === undefined) {
        const rej = this.placement.check(r.node!, 'enforced');
        if (rej !== undefined) {
          this.pass.remove(r, REASON.Misplaced, `${r.c.name} on ${r.nodeName}: node no longer eligible (${describe(rej)}); re-placing slot ${s.slot}`);
          s.createReason ??= REASON.Rescheduled;
          continue;
        }
      }
      if (r.where === 'live' && r.c.state === 'dead') {
        this.pass.remove(r, REASON.Dead, `${r.c.name} on ${r.nodeName} is dead: removing and recreating`);
        s.prefer ??= r.node;
        s.createReason ??= REASON.Recreate;
        continue;
      }
      keep.push(r);
    }
    const cur = keep.filter((r) => r.hash === this.hash);
    const old = keep.filter((r) => r.hash !== this.hash);
    s.cur = this.keepOne(s, cur);
    s.old = this.keepOne(s, old);
  }

  keepOne(s: SlotState, list: Replica[]): Replica | undefined {
    if (list.length === 0) return undefined;
    const ranked = rankKeepers(list, this.spec.placement.onNodeReturn, (r) => this.ready(r));
    const keeper = ranked[0]!;
    for (const r of ranked.slice(1)) {
      if (r.where !== 'live' || r.c.state === 'removing') continue;
      const sameNode = r.nodeName === keeper.nodeName;
      this.pass.remove(
        r,
        sameNode ? REASON.Duplicate : REASON.NodeReturned,
        sameNode
          ? `slot ${s.slot} has two containers on ${r.nodeName}: keeping ${keeper.c.name}, removing ${r.c.name}`
          : `slot ${s.slot} runs on ${keeper.nodeName} and ${r.nodeName} (node came back, onNodeReturn ${this.spec.placement.onNodeReturn}): keeping ${keeper.c.name} on ${keeper.nodeName}, removing ${r.c.name} from ${r.nodeName} (reachable since ${at(r.node?.since)})`,
      );
    }
    return keeper;
  }

  create(s: SlotState, node: NodeInfo, reason: string, message: string): void {
    const container = containerSpec(this.pass.cluster, this.svc, s.slot, this.hash, node.name, this.shape!);
    this.placement.assign(node);
    this.pass.actions.push({ type: 'create', node: node.name, service: this.name, slot: s.slot, reason, message: `${message}: ${container.name} on ${node.name}`, container, start: true });
    s.planned = node;
  }

  /** Place the slot on its pinned node, its preferred node, or the best node; undefined when nothing fits. */
  pick(s: SlotState, prefer?: NodeInfo, replacing = false): NodeInfo | undefined {
    // A global replica replacing one on its node ignores the cordon and (anti-)affinity, as a DaemonSet's does.
    if (s.pin !== undefined) return this.placement.check(s.pin, replacing ? 'replacement' : 'all') === undefined ? s.pin : undefined;
    return this.placement.pick(prefer);
  }

  noteUnschedulable(s: SlotState): void {
    if (s.pin !== undefined) {
      const rej = this.placement.check(s.pin);
      if (rej !== undefined) this.globalVerdicts.push({ node: s.pin.name, rejection: rej });
      return;
    }
    if (this.unschedulable === undefined)
      this.unschedulable = explainUnschedulable(this.placement.rejections(), this.pass.nodes.length, s.slot);
  }

  rollAndPlace(slots: SlotState[]): void {
    const upd = this.spec.update;
    // A ready new replica retires the old one of its slot (both orders).
    for (const s of slots) {
      if (s.old !== undefined && this.ready(s.cur) && s.old.where === 'live') {
        this.pass.remove(s.old, REASON.RollingUpdate, `slot ${s.slot}: ${s.cur!.c.name} is ready, removing ${s.old.c.name} from ${s.old.nodeName}`);
        s.old = undefined;
      }
    }
    // Vacant slots are placed at once: they are not part of a rollout.
    for (const s of slots) {
      if (s.cur !== undefined || s.old !== undefined) continue;
      if (this.frozen !== undefined) continue;
      const node = this.pick(s, s.prefer, s.prefer !== undefined);
      if (node === undefined) {
        this.noteUnschedulable(s);
        continue;
      }
      const reason = s.createReason ?? (s.lost !== undefined ? REASON.NodeLost : REASON.Scheduled);
      const message =
        reason === REASON.NodeLost
          ? `slot ${s.slot}: node ${s.lost!.nodeName} unreachable beyond the grace period (last seen ${at(s.lost!.node?.lastSeen)}), re-placing`
          : `slot ${s.slot}`;
      this.create(s, node, reason, message);
    }
    // Rollout of slots still on an old spec hash.
    const todo = slots.filter((s) => s.old !== undefined && s.cur === undefined && s.old.where === 'live' && s.old.c.state !== 'removing');
    if (todo.length === 0) return;
    if (this.frozen !== undefined) {
      this.rolloutNote = { reason: REASON.RolloutWaiting, message: `rollout waiting: ${this.frozen}` };
      return;
    }
    let newest = Number.NEGATIVE_INFINITY;
    for (const s of slots) if (this.ready(s.cur) && s.cur!.c.startedAt !== undefined) newest = Math.max(newest, s.cur!.c.startedAt);
    if (upd.delay > 0 && this.pass.now < newest + upd.delay) {
      this.pass.requeue(newest + upd.delay);
      this.rolloutNote = { reason: REASON.RolloutDelay, message: `rollout paused: next batch at ${at(newest + upd.delay)} (update.delay)` };
      return;
    }
    let available = slots.filter((s) => this.ready(s.cur) || this.ready(s.old)).length;
    let surge = slots.filter((s) => s.cur !== undefined && s.old !== undefined).length;
    // Slots that cannot be placed at all do not hold a rollout back: the floor
    // is what runs (or is only unreachable) minus parallelism.
    const occupied = slots.filter((s) => s.cur !== undefined || s.old !== undefined || s.planned !== undefined).length;
    const minAvailable = occupied - upd.parallelism;
    // Not-ready old replicas first: replacing them costs no availability.
    todo.sort((a, b) => Number(this.ready(a.old)) - Number(this.ready(b.old)) || a.slot - b.slot || cmp(a.pin?.name ?? '', b.pin?.name ?? ''));
    let waiting = 0;
    for (const s of todo) {
      const old = s.old!;
      const cost = this.ready(old) ? 1 : 0;
      if (upd.order === 'start-first') {
        if (surge >= upd.parallelism) {
          waiting++;
          continue;
        }
        const node = this.pick(s, old.node, true);
        if (node !== undefined) {
          surge++;
          this.create(s, node, REASON.RollingUpdate, `slot ${s.slot}: starting the new spec before stopping ${old.c.name} (start-first)`);
          continue;
        }
        // No room next to the old replica: fall back to stop-first for this slot.
      }
      if (cost === 1 && available - 1 < minAvailable) {
        waiting++;
        continue;
      }
      this.pass.scheduler.release(old.node!, this.name, old.c.resources, old.c.hostPorts);
      const node = this.pick(s, old.node, true);
      this.pass.scheduler.occupy(old.node!, this.name, old.c.resources, old.c.hostPorts);
      if (node === undefined) {
        this.noteUnschedulable(s);
        continue;
      }
      this.pass.remove(old, REASON.RollingUpdate, `slot ${s.slot}: replacing ${old.c.name} on ${old.nodeName} (stop-first)`);
      this.create(s, node, REASON.RollingUpdate, `slot ${s.slot}: new spec after stopping ${old.c.name}`);
      s.old = undefined;
      available -= cost;
    }
    if (waiting > 0)
      this.rolloutNote = {
        reason: REASON.RolloutWaiting,
        message: `rollout: ${waiting} replica(s) waiting for new replicas to become ready (parallelism ${upd.parallelism}, ${upd.order})`,
      };
  }

  /** Start what should run: created containers, and exited ones after back-off. */
  heal(s: SlotState): void {
    if (s.cur !== undefined) this.healOne(s, s.cur);
    if (s.old !== undefined) this.healOne(s, s.old);
  }

  healOne(s: SlotState, r: Replica): void {
    if (r.where !== 'live') {
      this.replicaStatus.push(this.replicaLine(r, pendingMessage(r, this.pass)));
      return;
    }
    const d = restartDecision(r.c, this.spec.restart, this.pass.desired.settings, this.pass.now);
    let message: string | undefined;
    if (d.kind === 'start') {
      this.pass.actions.push({ type: 'start', node: r.nodeName, service: this.name, slot: s.slot, reason: d.reason, message: d.message, containerId: r.c.id, containerName: r.c.name });
      message = d.message;
    } else if (d.kind === 'backoff') {
      this.pass.requeue(d.until);
      this.pass.event('Warning', REASON.BackOff, `service/${this.name}`, d.message);
      message = d.message;
    } else if (d.kind === 'completed' || d.kind === 'failed') {
      message = d.message;
      s.terminal = d.kind;
    }
    if (inCrashLoop(r.c, this.pass.desired.settings)) {
      s.crashLoop = `slot ${s.slot} (${r.c.name} on ${r.nodeName}) restarted ${r.c.restartCount} times`;
      message ??= s.crashLoop;
    }
    const line = this.replicaLine(r, message);
    if (d.kind === 'completed') line.state = 'completed';
    if (d.kind === 'failed') line.state = 'failed';
    this.replicaStatus.push(line);
  }

  replicaLine(r: Replica, message?: string): ReplicaStatus {
    const line: ReplicaStatus = {
      slot: Number.isNaN(r.slot) ? -1 : r.slot,
      node: r.nodeName,
      containerId: r.c.id,
      containerName: r.c.name,
      state: r.where === 'live' ? r.c.state : r.where === 'pending' ? 'unknown (node unreachable)' : 'unknown (node lost)',
      health: r.c.health,
      restarts: r.c.restartCount,
      upToDate: r.hash === this.hash,
      ready: this.ready(r),
    };
    if (message !== undefined) line.message = message;
    if (r.c.startedAt !== undefined) line.startedAt = r.c.startedAt;
    return line;
  }

  status(slots: SlotState[]): ServiceStatus {
    const desired = slots.length;
    let ready = 0;
    let upToDate = 0;
    let available = 0;
    const crash: string[] = [];
    let failed = 0;
    let completed = 0;
    for (const s of slots) {
      if (this.ready(s.cur) || this.ready(s.old)) ready++;
      if (s.cur !== undefined) upToDate++;
      if (this.ready(s.cur)) available++;
      if (s.crashLoop !== undefined) crash.push(s.crashLoop);
      if (s.terminal === 'failed') failed++;
      if (s.terminal === 'completed') completed++;
    }
    if (this.spec.mode === 'global' && this.globalVerdicts.some((v) => capacityLike(v.rejection)))
      this.unschedulable = explainUnschedulable(this.globalVerdicts, this.pass.nodes.length);
    const conds: Condition[] = [
      {
        type: 'Available',
        status: ready >= desired,
        reason: ready >= desired ? REASON.ReplicasReady : REASON.ReplicasNotReady,
        message: `${ready}/${desired} replicas ready`,
      },
    ];
    const rolling = slots.some((s) => s.old !== undefined) || upToDate < desired;
    conds.push(
      rolling
        ? { type: 'Progressing', status: true, reason: this.rolloutNote?.reason ?? REASON.RollingUpdate, message: this.rolloutNote?.message ?? `${upToDate}/${desired} replicas up to date` }
        : { type: 'Progressing', status: false, reason: REASON.RolloutComplete, message: `${upToDate}/${desired} replicas up to date` },
    );
    if (this.unschedulable !== undefined) {
      conds.push({ type: 'Unschedulable', status: true, reason: REASON.Unschedulable, message: this.unschedulable.message });
      this.pass.event('Warning', REASON.Unschedulable, `service/${this.name}`, this.unschedulable.message);
    }
    if (crash.length > 0) conds.push({ type: 'CrashLoop', status: true, reason: REASON.CrashLoopBackOff, message: crash.join('; ') });
    if (failed > 0) conds.push({ type: 'Failed', status: true, reason: REASON.Failed, message: `${failed} replica(s) failed and will not be restarted (restart: ${this.spec.restart.policy})` });
    if (completed > 0) conds.push({ type: 'Completed', status: true, reason: REASON.Completed, message: `${completed} replica(s) completed` });
    const replicas = this.replicaStatus.sort((a, b) => a.slot - b.slot || cmp(a.node, b.node) || cmp(a.containerName ?? '', b.containerName ?? '') || cmp(a.containerId ?? '', b.containerId ?? ''));
    const unreachable = replicas.filter((r) => r.state.startsWith('unknown'));
    if (unreachable.length > 0)
      conds.push({ type: 'NodeUnreachable', status: true, reason: REASON.NodeUnreachable, message: unreachable.map((r) => `slot ${r.slot} on ${r.node}: ${r.message ?? ''}`).join('; ') });
    const st: ServiceStatus = {
      name: this.name,
      mode: this.spec.mode,
      desired,
      ready,
      upToDate,
      available,
      specHash: this.hash,
      conditions: [...conds, ...this.conditions],
      replicas,
    };
    if (this.unschedulable !== undefined) st.unschedulable = this.unschedulable;
    return st;
  }
}

function parseSlot(text: string | undefined): number {
  if (text === undefined || text.length === 0 || text.length > 9) return Number.NaN;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || (i === 0 && d === 0 && text.length > 1)) return Number.NaN;
    n = n * 10 + d;
  }
  return n;
}

/** Slot, node name, container name, id: the order that makes "the first" deterministic. */
function compareReplicas(a: Replica, b: Replica): number {
  return a.slot - b.slot || cmp(a.nodeName, b.nodeName) || cmp(a.c.name, b.c.name) || cmp(a.c.id, b.c.id);
}

/** Running, and healthy when the service declares a healthcheck. */
export function isReady(c: ObservedContainer, s: Service): boolean {
  return c.state === 'running' && (s.spec.healthcheck === undefined || c.health === 'healthy');
}

function unreachable(n: NodeInfo): Rejection {
  const r: Rejection = { filter: 'NodeReachable', since: n.since };
  if (n.lastSeen !== undefined) r.lastSeen = n.lastSeen;
  if (n.error !== undefined) r.error = n.error;
  return r;
}

/** Filters whose failure on a global service's node means "no room", not "not for this node". */
function capacityLike(r: Rejection): boolean {
  return r.filter === 'NodeResources' || r.filter === 'HostPorts' || r.filter === 'MaxPerNode';
}

function describe(r: Rejection): string {
  if (r.filter === 'NodeConstraint' || r.filter === 'NodeNameConstraint') return `${r.constraint}: ${r.detail}`;
  if (r.filter === 'NodeDevices') return `missing device ${r.device}`;
  return r.filter;
}

function pendingMessage(r: Replica, pass: Pass): string {
  const n = r.node!;
  return `node ${n.name} unreachable since ${at(n.since)} (last seen ${at(n.lastSeen)}): counted, not ready; re-placed after ${at(n.since + pass.desired.settings.nodeGracePeriod)}`;
}

function lostMessage(r: Replica, pass: Pass): string {
  if (r.node === undefined) return `node ${r.nodeName} is not in the desired state: replica ignored`;
  const n = r.node;
  return `node ${n.name} unreachable since ${at(n.since)} (last seen ${at(n.lastSeen)}), beyond the grace period (${pass.desired.settings.nodeGracePeriod}ms): ${pass.services.get(r.service)?.spec.mode === 'global' ? 'global replica left in place' : 'slot re-placed'}`;
}

export function reconcile(desired: DesiredState, observed: ObservedState, now: number): ReconcileOutput {
  return new Pass(desired, observed, now).run();
}
