// Failed actions are an input, like crashes: the controller keeps each slot's
// recent outcomes (ActionHistory) and the reconcile decides from them when an
// action may be tried again, exactly as it decides restarts:
//
//   retryable failure   → again after base · 2^(attempts-1), capped (1 s, 2 s, 4 s … 5 min)
//   terminal failure    → not again until the spec (its hash) or the node changes
//   success             → the slot's failure is forgotten
//
// recordOutcomes is the one place the history changes; it is pure too, so the
// property tests drive the same code the controller runs.

import type { Note } from '../api/notes.js';
import { historyKey, LABEL, type Action, type ActionHistory, type ActionResult, type ReconcileSettings, type SlotHistory } from '../api/types.js';

/** base · 2^(attempts-1), capped: the wait after the attempts-th failure in a row. */
export function actionBackoff(attempts: number, settings: Pick<ReconcileSettings, 'actionBackoffBase' | 'actionBackoffMax'>): number {
  const exp = Math.min(Math.max(0, attempts - 1), 30);
  return Math.min(settings.actionBackoffMax, settings.actionBackoffBase * 2 ** exp);
}

export type Gate = { open: true } | { open: false; note: Note; until?: number };

const OPEN: Gate = Object.freeze({ open: true });

/**
 * May `type` be tried on this slot now? Only a failure of the same action on
 * the same node for the same spec hash holds it back: a changed spec or
 * another node is a new attempt.
 */
export function actionGate(
  history: ActionHistory,
  service: string,
  slot: number,
  type: Action['type'],
  node: string,
  specHash: string | undefined,
  now: number,
  settings: ReconcileSettings,
): Gate {
  const f = history.get(historyKey(service, slot))?.failure;
  if (f === undefined || f.type !== type || f.node !== node || f.specHash !== specHash) return OPEN;
  if (!f.retryable) return { open: false, note: { code: 'ActionBackOff', slot, node, action: type, attempts: f.attempts, failure: f.code, message: f.message } };
  const until = f.time + actionBackoff(f.attempts, settings);
  if (now >= until) return OPEN;
  return { open: false, until, note: { code: 'ActionBackOff', slot, node, action: type, attempts: f.attempts, failure: f.code, message: f.message, until } };
}

/** The history after a pass's outcomes at time `now`. Returns the same map when nothing changed. */
export function recordOutcomes(history: ActionHistory, outcomes: readonly ActionResult[], now: number): ActionHistory {
  if (outcomes.length === 0) return history;
  const next = new Map(history);
  for (const o of outcomes) {
    const a = o.action;
    const key = historyKey(a.service, a.slot);
    const prev = next.get(key);
    const h: SlotHistory = { service: a.service, slot: a.slot };
    const specHash = actionHash(a);
    if (o.ok) {
      // A success ends the failure streak of that action; a restart of an exited container extends the restart streak.
      if (prev?.failure !== undefined && prev.failure.type !== a.type) h.failure = prev.failure;
      if (a.type === 'start' && a.reason === 'Restart') {
        const same = prev?.restarts?.containerId === a.containerId;
        h.restarts = { containerId: a.containerId, count: same ? prev.restarts!.count + 1 : 1, time: now };
      } else if (prev?.restarts !== undefined && a.type !== 'create') h.restarts = prev.restarts;
    } else {
      const f = prev?.failure;
      const same = f !== undefined && f.type === a.type && f.node === a.node && f.specHash === specHash;
      h.failure = {
        type: a.type,
        node: a.node,
        attempts: same ? f.attempts + 1 : 1,
        time: now,
        code: o.code,
        message: o.message,
        retryable: o.retryable,
        ...(specHash !== undefined ? { specHash } : {}),
      };
      if (prev?.restarts !== undefined) h.restarts = prev.restarts;
    }
    if (h.failure === undefined && h.restarts === undefined) next.delete(key);
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

/** The spec hash an action is for: a create's new container, or the container acted on (its label). */
function actionHash(a: Action): string | undefined {
  if (a.type === 'create') return a.container.labels[LABEL.hash];
  return a.specHash;
}
