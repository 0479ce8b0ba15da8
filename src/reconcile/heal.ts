// Stage 5, heal: start what should run. A created container is started; an
// exited one is started again when its restart policy says so, after its
// back-off (restart.ts); a start that failed waits for its own back-off
// (backoff.ts). Replicas on unreachable nodes get no action, only a note.

import type { Note } from '../api/notes.js';
import { historyKey, type Action } from '../api/types.js';
import { actionGate } from './backoff.js';
import { earliest, target, type ServiceCtx } from './context.js';
import type { Replica } from './pair.js';
import { inCrashLoop, restartDecision } from './restart.js';
import { unreachableNote } from './slots.js';

/** What became of one kept replica. */
export interface Healed {
  readonly replica: Replica;
  readonly slot: number;
  readonly note?: Note;
  readonly terminal?: 'completed' | 'failed';
  readonly crashLoop?: { slot: number; container: string; node: string; restarts: number };
}

export interface HealPlan {
  readonly actions: readonly Action[];
  readonly healed: readonly Healed[];
  readonly events: readonly Note[];
  readonly backoffs: readonly Note[];
  readonly requeueAt?: number;
}

export function heal(ctx: ServiceCtx, kept: readonly { slot: number; replica: Replica }[]): HealPlan {
  const actions: Action[] = [];
  const healed: Healed[] = [];
  const events: Note[] = [];
  const backoffs: Note[] = [];
  let requeueAt: number | undefined;
  for (const { slot, replica: r } of kept) {
    if (r.where !== 'live') {
      healed.push({ replica: r, slot, note: unreachableNote(ctx, r) });
      continue;
    }
    const global = ctx.svc.spec.mode === 'global';
    const h = ctx.history.get(historyKey(ctx.name, slot, global ? r.nodeName : undefined));
    // The controller's restarts of this container count, unless its node went away and came back since:
    // a node that flaps kills its containers, which is the node's streak, not theirs.
    const mine = h?.restarts !== undefined && h.restarts.containerId === r.c.id && h.restarts.time >= (r.node?.since ?? Number.NEGATIVE_INFINITY) ? h.restarts.count : 0;
    const d = restartDecision(r.c, ctx.svc.spec.restart, ctx.settings, ctx.now, mine, r.node?.since);
    let note: Note | undefined;
    let terminal: Healed['terminal'];
    if (d.kind === 'start') {
      const gate = actionGate(ctx.history, ctx.name, slot, 'start', target(r), ctx.now, ctx.settings, global);
      if (gate.open) {
        const reason = d.note.code === 'Restart' ? 'Restart' : 'Start';
        const a: Action = { type: 'start', node: r.nodeName, service: ctx.name, slot, reason, note: d.note, containerId: r.c.id, containerName: r.c.name };
        if (r.hash !== undefined) a.specHash = r.hash;
        if (global) a.global = true;
        actions.push(a);
        note = d.note;
      } else {
        note = gate.note;
        backoffs.push(gate.note);
        requeueAt = earliest(requeueAt, gate.until);
      }
    } else if (d.kind === 'backoff') {
      requeueAt = earliest(requeueAt, d.until);
      events.push(d.note);
      note = d.note;
    } else if (d.kind === 'completed' || d.kind === 'failed') {
      note = d.note;
      terminal = d.kind;
    }
    const crashLoop = inCrashLoop(r.c, ctx.settings, mine, r.node?.since) ? { slot, container: r.c.name, node: r.nodeName, restarts: r.c.restartCount + mine } : undefined;
    healed.push({
      replica: r,
      slot,
      ...(note !== undefined ? { note } : {}),
      ...(terminal !== undefined ? { terminal } : {}),
      ...(crashLoop !== undefined ? { crashLoop } : {}),
    });
  }
  return { actions, healed, events, backoffs, ...(requeueAt !== undefined ? { requeueAt } : {}) };
}
