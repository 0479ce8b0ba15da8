// Stage 3, place: a vacant slot (no container kept) gets a node from the
// scheduler (filters → scores) and a create action, unless the service is
// frozen (a dependency not ready, a node not yet observed) or the slot's last
// create failed and is backing off. A slot that fits nowhere is an answer:
// an Unschedulable note with the first filter that rejected each node.
//
// `tryCreate` is shared with the rollout, which places replacements the same way.

import type { NodeVerdict, Note } from '../api/notes.js';
import type { Action, Service } from '../api/types.js';
import { containerPortKeys } from '../schedule/nodes.js';
import type { ServicePicker } from '../schedule/scheduler.js';
import { securityRequest } from '../schedule/security.js';
import type { NodeInfo, PlacementRequest } from '../schedule/types.js';
import { actionGate } from './backoff.js';
import { earliest, type ImageWait, type ServiceCtx } from './context.js';
import { containerName, containerSpec } from './names.js';
import type { Slot } from './slots.js';

export interface PlacePlan {
  readonly actions: readonly Action[];
  /** Slots that got a create this pass. */
  readonly planned: ReadonlySet<Slot>;
  /** The first replicated slot that fits nowhere. */
  readonly unschedulable?: Note;
  /** Global slots whose own node cannot take the replica now. */
  readonly verdicts: readonly NodeVerdict[];
  readonly backoffs: readonly Note[];
  /** Slots whose image is being brought to their node first. */
  readonly pulling: readonly ImageWait[];
  readonly requeueAt?: number;
}

/** Service → the services whose antiAffinity lists it. */
export function repelledBy(services: readonly Service[]): ReadonlyMap<string, readonly string[]> {
  const out = new Map<string, string[]>();
  for (const s of services) {
    for (const t of s.spec.placement.antiAffinity) {
      let list = out.get(t);
      if (list === undefined) out.set(t, (list = []));
      list.push(s.metadata.name);
    }
  }
  return out;
}

export function placeVacant(ctx: ServiceCtx, slots: readonly Slot[], picker: ServicePicker): PlacePlan {
  const actions: Action[] = [];
  const planned = new Set<Slot>();
  const verdicts: NodeVerdict[] = [];
  const backoffs: Note[] = [];
  const pulling: ImageWait[] = [];
  let unschedulable: Note | undefined;
  let requeueAt: number | undefined;
  if (ctx.frozen !== undefined) return { actions, planned, verdicts, backoffs, pulling };
  for (const s of slots) {
    if (s.cur !== undefined || s.old !== undefined) continue;
    const node = pickFor(picker, s, s.prefer, s.prefer !== undefined);
    if (node === undefined) {
      if (s.pin !== undefined) {
        const rej = picker.check(s.pin);
        if (rej !== undefined) verdicts.push({ node: s.pin.name, rejection: rej });
      } else unschedulable ??= { code: 'Unschedulable', slot: s.slot, totalNodes: ctx.totalNodes, verdicts: picker.rejections() };
      continue;
    }
    const name = containerName(ctx.cluster, ctx.name, s.slot, ctx.hash);
    const base = { slot: s.slot, container: name, node: node.name };
    const note: Note =
      s.createReason !== undefined
        ? { code: s.createReason, ...base }
        : s.lost !== undefined
          ? { code: 'NodeLost', ...base, from: s.lost.nodeName, ...(s.lost.node?.lastSeen !== undefined ? { lastSeen: s.lost.node.lastSeen } : {}) }
          : { code: 'Scheduled', ...base };
    const made = tryCreate(ctx, picker, s, node, note);
    if (made.ok) {
      actions.push(made.action);
      planned.add(s);
    } else requeueAt = earliest(requeueAt, notMade(made, actions, backoffs, pulling));
  }
  return { actions, planned, verdicts, backoffs, pulling, ...(unschedulable !== undefined ? { unschedulable } : {}), ...(requeueAt !== undefined ? { requeueAt } : {}) };
}

/**
 * The slot's pinned node (global), its preferred node, or the best node;
 * undefined when nothing fits. A global replica replacing one on its node
 * ignores the cordon and (anti-)affinity, as a DaemonSet's does.
 */
export function pickFor(picker: ServicePicker, s: Slot, prefer?: NodeInfo, replacing = false): NodeInfo | undefined {
  if (s.pin !== undefined) return picker.check(s.pin, replacing ? 'replacement' : 'all') === undefined ? s.pin : undefined;
  return picker.pick(prefer);
}

/**
 * Not made now: `note` (a back-off, an image nobody can bring), and for an
 * image not yet on the node the pull or copy to run (`fetch`) or what the slot waits for (`wait`).
 */
export type Created = { ok: true; action: Action } | { ok: false; note?: Note; until?: number; fetch?: Action; wait?: ImageWait };

/** A create of the slot on `node`, unless the slot's last create there (same spec) failed and is backing off, or its image is not on the node yet. */
export function tryCreate(ctx: ServiceCtx, picker: ServicePicker, s: Slot, node: NodeInfo, note: Note): Created {
  const global = ctx.svc.spec.mode === 'global';
  const gate = actionGate(ctx.history, ctx.name, s.slot, 'create', { node: node.name, specHash: ctx.hash }, ctx.now, ctx.settings, global);
  if (!gate.open) return gate.until !== undefined ? { ok: false, note: gate.note, until: gate.until } : { ok: false, note: gate.note };
  let container = containerSpec(ctx.cluster, ctx.svc, s.slot, ctx.hash, node.name, ctx.shape);
  const image = ctx.images?.need(ctx.history, ctx.settings, ctx.now, { service: ctx.name, slot: s.slot, global, node: node.name, image: container.image, specHash: ctx.hash });
  if (image !== undefined && !image.ready) {
    const { action: fetch, wait, note: why, until } = image;
    return { ok: false, ...(fetch !== undefined ? { fetch } : {}), ...(wait !== undefined ? { wait } : {}), ...(why !== undefined ? { note: why } : {}), ...(until !== undefined ? { until } : {}) };
  }
  if (image?.ready === true && image.as !== undefined) container = { ...container, image: image.as };
  picker.assign(node);
  const action: Action = { type: 'create', node: node.name, service: ctx.name, slot: s.slot, reason: note.code, note, container, start: true };
  if (global) action.global = true;
  return { ok: true, action };
}

/** Files what a create that was not made brings: its pull or copy, its wait, its note. Returns when to look again. */
export function notMade(made: Extract<Created, { ok: false }>, actions: Action[], backoffs: Note[], pulling: ImageWait[]): number | undefined {
  if (made.fetch !== undefined) actions.push(made.fetch);
  if (made.wait !== undefined) pulling.push(made.wait);
  if (made.note !== undefined) backoffs.push(made.note);
  return made.until;
}

/**
 * What a service asks of a node: derived once per service per pass.
 * Anti-affinity is symmetric, as Kubernetes' is: `repelledBy` are the services
 * that list this one in their antiAffinity, and they keep it off their nodes too.
 */
export function placementRequest(s: Service, repelledBy: readonly string[] = [], platforms?: readonly string[]): PlacementRequest {
  const p = s.spec.placement;
  const req: PlacementRequest = {
    service: s.metadata.name,
    constraints: p.constraints,
    devices: s.spec.devices,
    resources: { cpu: s.spec.resources.cpu ?? 0, memory: s.spec.resources.memory ?? 0, ...(s.spec.resources.disk !== undefined ? { disk: s.spec.resources.disk } : {}) },
    affinity: p.affinity,
    antiAffinity: repelledBy.length === 0 ? p.antiAffinity : [...new Set([...p.antiAffinity, ...repelledBy])].sort(),
    hostPorts: containerPortKeys(s.spec.network, s.spec.ports),
  };
  if (p.maxPerNode !== undefined) req.maxPerNode = p.maxPerNode;
  if (p.spread !== undefined) req.spread = p.spread;
  const security = securityRequest(s);
  if (security !== undefined) req.security = security;
  if (platforms !== undefined) req.platforms = platforms;
  return req;
}
