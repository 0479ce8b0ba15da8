// Failed actions are an input, like crashes: the controller keeps each slot's
// recent outcomes (ActionHistory) and the reconcile decides from them when an
// action may be tried again, exactly as it decides restarts:
//
//   retryable failure   → again after base · 2^(attempts-1), capped (1 s, 2 s, 4 s … 5 min)
//   terminal failure    → not again until the spec (its hash) changes
//   (a start or remove is also tried anew once its node went away and came back)
//   success             → that action's failure is forgotten
//
// recordOutcomes is the one place the history changes; it is pure too, so the
// property tests drive the same code the controller runs.

import type { Note } from '../api/notes.js';
import { actionKey, historyKey, LABEL, type Action, type ActionHistory, type ActionResult, type FailureRecord, type ReconcileSettings, type SlotHistory } from '../api/types.js';

/**
 * The failed start that makes this container unstartable: the engine refused it
 * for state left over from before it restarted (`container-stale`). Trying the
 * same container again cannot help; a new one in its slot does.
 */
export function staleStart(history: ActionHistory, service: string, slot: number, containerId: string, pinnedNode?: string): FailureRecord | undefined {
  const f = history.get(historyKey(service, slot, pinnedNode))?.failures?.find((x) => x.type === 'start' && x.containerId === containerId);
  return f?.code === 'container-stale' ? f : undefined;
}

/** base · 2^(attempts-1), capped: the wait after the attempts-th failure in a row. */
export function actionBackoff(attempts: number, settings: Pick<ReconcileSettings, 'actionBackoffBase' | 'actionBackoffMax'>): number {
  const exp = Math.min(Math.max(0, attempts - 1), 30);
  return Math.min(settings.actionBackoffMax, settings.actionBackoffBase * 2 ** exp);
}

export type Gate = { open: true } | { open: false; note: Note; until?: number };

const OPEN: Gate = Object.freeze({ open: true });

/**
 * May `type` be tried on this slot now? Only a failure of the same action for
 * the same spec hash holds it back, and a changed spec is a new attempt. A
 * create is held on every node: were it free on another node, two slots that
 * fail could trade nodes on every pass and never back off (the property tests
 * found exactly that). A start or remove is held for its own container's node.
 */
/** What an action is for: its node and spec hash, and for a start or remove the container. */
export interface ActionTarget {
  node: string;
  specHash: string | undefined;
  containerId?: string;
  /** When the node last became reachable: a start or remove that failed before is tried anew. */
  nodeSince?: number;
}

export function actionGate(history: ActionHistory, service: string, slot: number, type: Action['type'], target: ActionTarget, now: number, settings: ReconcileSettings, pinned = false): Gate {
  const { node, nodeSince } = target;
  const f = history.get(historyKey(service, slot, pinned ? node : undefined))?.failures?.find((x) => sameAttempt(x, type, target));
  // A start or remove that failed before its node last went away and came back is a new attempt now.
  if (f === undefined || (nodeSince !== undefined && type !== 'create' && f.time < nodeSince)) return OPEN;
  const base = { code: 'ActionBackOff', slot, node, action: type, attempts: f.attempts, failure: f.code, message: f.message } as const;
  if (!f.retryable) return { open: false, note: base };
  const until = f.time + actionBackoff(f.attempts, settings);
  if (now >= until) return OPEN;
  return { open: false, until, note: { ...base, until } };
}

/** The history after a pass's outcomes at time `now`. Returns the same map when nothing changed. */
export function recordOutcomes(history: ActionHistory, outcomes: readonly ActionResult[], now: number): ActionHistory {
  if (outcomes.length === 0) return history;
  const next = new Map(history);
  for (const o of outcomes) {
    const a = o.action;
    const key = actionKey(a);
    const prev = next.get(key);
    const specHash = actionHash(a);
    const containerId = a.type === 'start' || a.type === 'remove' ? a.containerId : undefined;
    const target: ActionTarget = { node: a.node, specHash, ...(containerId !== undefined ? { containerId } : {}) };
    const others = (prev?.failures ?? []).filter((f) => !sameAttempt(f, a.type, target));
    const h: SlotHistory = { service: a.service, slot: a.slot };
    let failures: FailureRecord[] = others;
    let restarts = prev?.restarts;
    if (o.ok) {
      // A success ends that action's failure streak. A create that worked also ends the slot's failed creates of
      // earlier specs (the slot has its container now), and a start or remove those of the same container.
      // A pull or copy that worked: the image is there, so the slot's other fetches for it on that node are moot too.
      failures = others.filter((f) =>
        a.type === 'create' ? f.type !== 'create' : containerId === undefined ? !((f.type === 'pull' || f.type === 'copy') && f.node === a.node) : f.containerId !== containerId || f.type === 'create',
      );
      if (a.type === 'start' && a.reason === 'Restart') {
        const same = restarts?.containerId === a.containerId;
        restarts = { containerId: a.containerId, count: same ? restarts!.count + 1 : 1, time: now };
      } else if (a.type === 'create') restarts = undefined;
    } else {
      const f = prev?.failures?.find((x) => sameAttempt(x, a.type, target));
      failures = [
        ...others,
        {
          type: a.type,
          node: a.node,
          attempts: (f?.attempts ?? 0) + 1,
          time: now,
          code: o.code,
          message: o.message,
          retryable: o.retryable,
          ...(specHash !== undefined ? { specHash } : {}),
          ...(target.containerId !== undefined ? { containerId: target.containerId } : {}),
        },
      ];
    }
    if (failures.length > 0) h.failures = failures;
    if (restarts !== undefined) h.restarts = restarts;
    if (h.failures === undefined && h.restarts === undefined) next.delete(key);
    else next.set(key, h);
  }
  return next;
}

/** Forget slots of services that are no longer desired, and slots beyond a service's replicas. */
export function pruneHistory(history: ActionHistory, keep: (service: string, slot: number) => boolean): ActionHistory {
  let next: Map<string, SlotHistory> | undefined;
  for (const [k, h] of history) {
    if (keep(h.service, h.slot)) continue;
    next ??= new Map(history);
    next.delete(k);
  }
  return next ?? history;
}

/** Another try of the same action: same type and spec; for a start or remove, also the same container on the same node. */
function sameAttempt(f: FailureRecord, type: Action['type'], t: ActionTarget): boolean {
  return f.type === type && f.specHash === t.specHash && (type === 'create' || (f.node === t.node && f.containerId === t.containerId));
}

/** The spec hash an action is for: a create's new container, or the container acted on (its label). */
function actionHash(a: Action): string | undefined {
  if (a.type === 'create') return a.container.labels[LABEL.hash];
  return a.specHash;
  // (pull and copy carry the spec hash of the slot they fetch for)
}
