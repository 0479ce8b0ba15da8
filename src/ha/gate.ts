// Whether this controller may act, asked by the controller before it
// applies a plan and by the executor before every engine call. Two sources:
// the etcd election (when --ha-etcd is given) and conflicts seen on the
// engines (always): containers of this cluster made by another controller.

import { LABEL, type ObservedState, type StatusEvent } from '../api/types.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import { conflictVerdict, forgetOld, noteObservation, NO_CONFLICT_MEMORY, type ActVerdict, type ConflictMemory, type ConflictVerdict } from './decide.js';
import type { ElectionView, Elector } from './elector.js';
import { identityText, mayBeAlive, type ControllerIdentity } from './identity.js';

/** The `control` part of the status document. */
export interface ControlView {
  /** This controller's identity (label fog.controller on what it creates). */
  identity: string;
  /** acting: it applies its plans; standby: not the leader (another leads, etcd does not answer, or the lease was not renewed in time: `reason` says which); conflict: another controller acts on the same cluster. */
  state: 'acting' | 'standby' | 'conflict';
  /** Why it does not act (standby, conflict). */
  reason?: string;
  conflict?: { others: { identity: string; node: string; container: string; ago: number }[]; graceMs: number; untilIn: number };
  election?: ElectionView;
}

export interface ActGateOptions {
  cluster: string;
  me: ControllerIdentity;
  clock: Clock;
  logger: Logger;
  /** How long another controller must stay silent before this one acts again. */
  conflictGraceMs: number;
  elector?: Elector;
}

export class ActGate {
  readonly identity: string;
  private memory: ConflictMemory = NO_CONFLICT_MEMORY;
  private conflict: ConflictVerdict = { conflict: false };
  private readonly log: Logger;
  private lastState?: ControlView['state'];

  constructor(private readonly opts: ActGateOptions) {
    this.identity = identityText(opts.me);
    this.log = opts.logger.child({ component: 'gate' });
  }

  /** Folds an observation in; returns the events of a change of state (Conflict, Leading, NotLeading). */
  observe(observed: ObservedState, now: number): StatusEvent[] {
    this.memory = forgetOld(
      noteObservation(this.memory, observed, { cluster: this.opts.cluster, me: this.identity, ha: this.opts.elector !== undefined, mayBeAlive }, now),
      now,
      this.opts.conflictGraceMs,
    );
    const before = this.conflict;
    this.conflict = conflictVerdict(this.memory, now, this.opts.conflictGraceMs);
    const events: StatusEvent[] = [];
    if (this.conflict.conflict) {
      const fresh = this.conflict.others.filter((o) => !before.conflict || !before.others.some((b) => b.identity === o.identity && b.at === o.at));
      if (fresh.length > 0) {
        this.log.warn(
          { others: this.conflict.others.map((o) => o.identity), graceMs: this.opts.conflictGraceMs },
          'conflict: another controller of this cluster creates containers on the same engines; not acting until it has been silent for the grace period',
        );
        events.push({
          time: now,
          type: 'Warning',
          reason: 'Conflict',
          object: `cluster/${this.opts.cluster}`,
          note: { code: 'Conflict', others: this.conflict.others.map((o) => ({ identity: o.identity, node: o.node, container: o.container, at: o.at })), until: this.conflict.until },
        });
      }
    } else if (before.conflict) {
      this.log.info('conflict over: the other controller has been silent for the grace period; acting again');
    }
    const state = this.state(now);
    if (this.opts.elector && state !== this.lastState && this.lastState !== undefined) {
      const v = this.opts.elector.view();
      if (state === 'acting')
        events.push({ time: now, type: 'Normal', reason: 'Leading', object: `cluster/${this.opts.cluster}`, note: { code: 'Leading', identity: this.identity, rev: v.leader?.rev ?? 0 } });
      else if (this.lastState === 'acting')
        events.push({ time: now, type: 'Warning', reason: 'NotLeading', object: `cluster/${this.opts.cluster}`, note: { code: 'NotLeading', reason: v.reason ?? state } });
    }
    this.lastState = state;
    return events;
  }

  /** May the controller act now? Asked before a plan is applied, and before every engine call. */
  verdict(): ActVerdict {
    const now = this.opts.clock.now();
    const c = conflictVerdict(this.memory, now, this.opts.conflictGraceMs);
    if (c.conflict) return { act: false, why: conflictText(c, now) };
    return this.opts.elector ? this.opts.elector.verdict() : { act: true };
  }

  /** Labels on every container this controller creates: its identity, and with etcd the lease revision it acts under. */
  labels(): Record<string, string> {
    const v = this.verdict();
    const out: Record<string, string> = { [LABEL.controller]: this.identity };
    if (v.act && v.rev !== undefined) out[LABEL.leaseRev] = String(v.rev);
    return out;
  }

  private state(now: number): ControlView['state'] {
    if (conflictVerdict(this.memory, now, this.opts.conflictGraceMs).conflict) return 'conflict';
    if (this.opts.elector && !this.opts.elector.verdict().act) return 'standby';
    return 'acting';
  }

  view(): ControlView {
    const now = this.opts.clock.now();
    const state = this.state(now);
    const out: ControlView = { identity: this.identity, state };
    const c = conflictVerdict(this.memory, now, this.opts.conflictGraceMs);
    if (c.conflict) {
      out.reason = conflictText(c, now);
      out.conflict = {
        others: c.others.map((o) => ({ identity: o.identity, node: o.node, container: o.container, ago: Math.round(now - o.at) })),
        graceMs: this.opts.conflictGraceMs,
        untilIn: Math.round(c.until - now),
      };
    }
    if (this.opts.elector) {
      out.election = this.opts.elector.view();
      if (state === 'standby') out.reason = out.election.reason ?? 'standby';
    }
    return out;
  }
}

function conflictText(c: Extract<ConflictVerdict, { conflict: true }>, now: number): string {
  const who = c.others.map((o) => `${o.identity} (created ${o.container} on ${o.node})`).join(', ');
  return `conflict: another controller of this cluster acts on the same engines: ${who}; not acting until it has been silent for ${Math.round((c.until - now) / 1000)} s more (stop the other one, or give it another --cluster)`;
}
