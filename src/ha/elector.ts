// Leader election on an etcd lease, with client-go's semantics: a standby
// tries to take the lease key every retry period; the leader renews every
// retry period and stops acting once its last successful renewal was sent a
// renew deadline ago (before the lease can have run out at etcd), then
// gives the lease back if it still can and stands by again.
//
// Fencing is by time: the leader counts from when it *sent* a renewal, which
// is before etcd restarted the TTL, so its view of the lease ends no later
// than etcd's, provided the two clocks run at rates that differ by less than
// (lease - renew deadline) / lease (a third with the defaults). Wall-clock
// offsets do not matter: only durations are compared, on monotonic clocks.

import type { Logger } from '../runtime/logger.js';
import type { Clock } from '../runtime/clock.js';
import { leaderMayAct, renewalExpired, standbyWaitMs, type ActVerdict, type Leadership, type LeaseTiming } from './decide.js';
import { EtcdClient, type EtcdOptions } from './etcd.js';
import { identityText, type ControllerIdentity } from './identity.js';

export interface LeaderInfo {
  identity: string;
  host: string;
  pid: number;
  start: number;
  desired: string;
  /** The lease key's create revision: the leadership's term, carried by every action. */
  rev: number;
}

export interface ElectionView {
  etcd: readonly string[];
  key: string;
  role: 'leader' | 'standby';
  /** Why this controller does not lead (standby), or acting limits. */
  reason?: string;
  leader?: LeaderInfo;
  leaseMs: number;
  renewDeadlineMs: number;
  retryMs: number;
  /** Last etcd error, while etcd does not answer. */
  etcdError?: string;
}

export interface ElectorOptions {
  etcd: EtcdOptions;
  cluster: string;
  me: ControllerIdentity;
  timing: LeaseTiming;
  clock: Clock;
  logger: Logger;
  /** Called when leadership is won or lost (the controller looks again at once). */
  onChange: () => void;
}

export class Elector {
  private readonly client: EtcdClient;
  private readonly log: Logger;
  private readonly key: string;
  private state: Leadership = { role: 'standby', reason: 'not yet elected: the first attempt to take the lease is under way' };
  private leader?: LeaderInfo;
  private etcdError?: string;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private wake?: () => void;
  private loopDone?: Promise<void>;
  /** Seconds the holder's lease had left at the last look (standby). */
  private holderTtl?: number;

  constructor(private readonly opts: ElectorOptions) {
    this.client = new EtcdClient(opts.etcd);
    this.log = opts.logger.child({ component: 'election' });
    this.key = `/fog/${opts.cluster}/leader`;
  }

  start(): void {
    this.loopDone = this.loop();
  }

  /** May this controller act now? (Only the leader, within its renew deadline.) */
  verdict(): ActVerdict {
    return leaderMayAct(this.state, this.opts.clock.now(), this.opts.timing);
  }

  view(): ElectionView {
    const t = this.opts.timing;
    const v = this.verdict();
    const out: ElectionView = {
      etcd: this.opts.etcd.endpoints,
      key: this.key,
      role: v.act ? 'leader' : 'standby',
      leaseMs: t.leaseMs,
      renewDeadlineMs: t.renewDeadlineMs,
      retryMs: t.retryMs,
    };
    if (!v.act) out.reason = v.why;
    if (this.leader) out.leader = this.leader;
    if (this.etcdError) out.etcdError = this.etcdError;
    return out;
  }

  /** Stops acting at once, gives the lease back (so the standby need not wait for it to run out). */
  async stop(): Promise<void> {
    this.stopped = true;
    const s = this.state;
    this.state = { role: 'standby', reason: 'stopping' };
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.loopDone;
    if (s.role === 'leader') await this.client.revoke(s.leaseId, 1_000).catch(() => undefined);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const started = this.opts.clock.now();
      try {
        if (this.state.role === 'leader') await this.renew(this.state);
        else await this.tryAcquire();
        this.etcdError = undefined;
      } catch (err) {
        this.etcdError = (err as Error).message;
        this.log.warn({ err: this.etcdError }, 'etcd did not answer');
        if (this.state.role === 'standby') this.setStandby(`etcd does not answer (${this.etcdError}): no controller of cluster ${this.opts.cluster} can be elected until it does`);
      }
      this.checkDeadline();
      // client-go jitters the standby's retries (factor 1.2) so that candidates do not move in step.
      const period = this.state.role === 'standby' ? standbyWaitMs(this.opts.timing, this.holderTtl, Math.random()) : this.opts.timing.retryMs;
      let wait = Math.max(0, period - (this.opts.clock.now() - started));
      if (this.state.role === 'leader') wait = Math.min(wait, Math.max(0, this.state.renewSentAt + this.opts.timing.renewDeadlineMs - this.opts.clock.now()));
      await this.sleep(wait);
      this.checkDeadline();
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  /** Past the renew deadline: stop acting now, hand the lease back if etcd still answers. */
  private checkDeadline(): void {
    const s = this.state;
    if (s.role !== 'leader' || !renewalExpired(s, this.opts.clock.now(), this.opts.timing)) return;
    this.log.warn({ rev: s.rev, sinceRenewMs: Math.round(this.opts.clock.now() - s.renewSentAt) }, 'leadership lost: the lease was not renewed within the renew deadline; no longer acting');
    this.setStandby(`lost the lease (revision ${s.rev}): not renewed within the renew deadline (${this.opts.timing.renewDeadlineMs} ms)${this.etcdError ? `: ${this.etcdError}` : ''}`);
    void this.client.revoke(s.leaseId, this.opts.timing.retryMs).catch(() => undefined);
  }

  private setStandby(reason: string): void {
    const was = this.state.role;
    this.state = { role: 'standby', reason };
    if (was === 'leader') this.opts.onChange();
  }

  private async renew(s: Extract<Leadership, { role: 'leader' }>): Promise<void> {
    const sentAt = this.opts.clock.now();
    const left = s.renewSentAt + this.opts.timing.renewDeadlineMs - sentAt;
    if (left <= 0) return;
    const ttl = await this.client.keepAlive(s.leaseId, Math.min(left, this.opts.timing.retryMs * 2));
    if (this.state !== s) return;
    if (ttl <= 0) {
      this.log.warn({ rev: s.rev }, 'leadership lost: etcd says the lease is gone; no longer acting');
      this.setStandby(`lost the lease (revision ${s.rev}): etcd says it ran out`);
      return;
    }
    this.state = { ...s, renewSentAt: sentAt };
  }

  private async tryAcquire(): Promise<void> {
    const t = this.opts.timing;
    this.holderTtl = undefined;
    const holder = await this.client.get(this.key, t.retryMs * 2);
    if (holder) {
      this.leader = parseLeader(holder.value, holder.createRevision);
      const ttl = await this.client.timeToLive(holder.leaseId, t.retryMs).catch(() => undefined);
      if (ttl !== undefined) this.holderTtl = Math.max(0, ttl);
      this.setStandby(`standby: ${this.leader ? `${this.leader.identity} leads` : 'another controller leads'} (lease revision ${holder.createRevision}); this one observes and never acts`);
      return;
    }
    const sentAt = this.opts.clock.now();
    const leaseId = await this.client.grant(Math.round(t.leaseMs / 1000), t.retryMs * 2);
    const me = this.opts.me;
    const value = JSON.stringify({ identity: identityText(me), host: me.host, pid: me.pid, start: me.start, desired: me.desired });
    let got;
    try {
      got = await this.client.createIfAbsent(this.key, value, leaseId, t.retryMs * 2);
    } catch (err) {
      await this.client.revoke(leaseId, t.retryMs).catch(() => undefined);
      throw err;
    }
    if (got.won && this.stopped) {
      await this.client.revoke(leaseId, t.retryMs).catch(() => undefined);
      return;
    }
    if (!got.won) {
      await this.client.revoke(leaseId, t.retryMs).catch(() => undefined);
      if (got.holder) this.leader = parseLeader(got.holder.value, got.holder.createRevision);
      this.setStandby(`standby: ${this.leader ? `${this.leader.identity} leads` : 'another controller leads'}; this one observes and never acts`);
      return;
    }
    this.state = { role: 'leader', rev: got.revision, leaseId, renewSentAt: sentAt };
    this.leader = { identity: identityText(me), host: me.host, pid: me.pid, start: me.start, desired: me.desired, rev: got.revision };
    this.log.info({ rev: got.revision, key: this.key }, 'leadership won: this controller acts');
    this.opts.onChange();
  }
}

function parseLeader(value: string, rev: number): LeaderInfo | undefined {
  try {
    const v = JSON.parse(value) as Omit<LeaderInfo, 'rev'>;
    return { identity: String(v.identity), host: String(v.host), pid: Number(v.pid), start: Number(v.start), desired: String(v.desired), rev };
  } catch {
    return undefined;
  }
}
