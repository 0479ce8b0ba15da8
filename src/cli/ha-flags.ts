// fogctl run's options for "one controller acts per cluster" (src/ha): the
// conflict grace period, and leader election on etcd.

import type { Command } from 'commander';
import { timingFor, timingProblem, type LeaseTiming } from '../ha/decide.js';
import type { EtcdOptions } from '../ha/etcd.js';
import { ExitError } from './errors.js';
import { durationFlag } from './flags.js';

export interface HaFlags {
  conflictGrace: string;
  haEtcd?: string;
  haLease: string;
  haRenewDeadline?: string;
  haRetryPeriod?: string;
  haCa?: string;
  haCert?: string;
  haKey?: string;
}

export function addHaFlags(cmd: Command): Command {
  return cmd
    .option('--conflict-grace <duration>', 'after another controller of this cluster was seen creating containers, act again only once it has been silent this long', '30s')
    .option('--ha-etcd <url,…>', 'leader election on etcd: client URLs (http:// or https://) of one etcd cluster; only the leader acts, the others stand by')
    .option('--ha-lease <duration>', 'with --ha-etcd: lease duration (whole seconds, at least 2s); a standby takes over at most this long after the leader died', '10s')
    .option('--ha-renew-deadline <duration>', 'with --ha-etcd: the leader stops acting when it could not renew for this long (default: 2/3 of --ha-lease)')
    .option('--ha-retry-period <duration>', 'with --ha-etcd: between renewals and between attempts to take the lease (default: 1/5 of --ha-lease)')
    .option('--ha-ca <file>', 'with --ha-etcd https://: CA certificate of etcd')
    .option('--ha-cert <file>', 'with --ha-etcd https://: client certificate (mutual TLS)')
    .option('--ha-key <file>', 'with --ha-etcd https://: client key');
}

export interface HaConfig {
  conflictGraceMs: number;
  etcd?: { options: EtcdOptions; timing: LeaseTiming };
}

export function parseHaFlags(f: HaFlags): HaConfig {
  const conflictGraceMs = durationFlag('--conflict-grace', f.conflictGrace);
  if (conflictGraceMs <= 0) throw new ExitError(`--conflict-grace ${f.conflictGrace}: must be more than 0`, 1);
  const tlsGiven = [f.haCa, f.haCert, f.haKey].filter((x) => x !== undefined).length;
  if (f.haEtcd === undefined) {
    if (tlsGiven > 0) throw new ExitError('--ha-ca/--ha-cert/--ha-key need --ha-etcd', 1);
    return { conflictGraceMs };
  }
  if (tlsGiven !== 0 && tlsGiven !== 3) throw new ExitError("--ha-ca, --ha-cert and --ha-key go together (mutual TLS with etcd), as a Node's tls: ca, cert and key do", 1);
  const endpoints = f.haEtcd
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const e of endpoints) {
    let u: URL;
    try {
      u = new URL(e);
    } catch {
      throw new ExitError(`--ha-etcd ${e}: not a URL (want http://HOST:2379 or https://HOST:2379)`, 1);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ExitError(`--ha-etcd ${e}: want an http:// or https:// client URL of etcd`, 1);
    if (u.protocol === 'http:' && tlsGiven) throw new ExitError(`--ha-etcd ${e}: --ha-cert is given, so use https://`, 1);
  }
  if (endpoints.length === 0) throw new ExitError('--ha-etcd: no URL given', 1);
  const timing = timingFor(
    durationFlag('--ha-lease', f.haLease),
    f.haRenewDeadline === undefined ? undefined : durationFlag('--ha-renew-deadline', f.haRenewDeadline),
    f.haRetryPeriod === undefined ? undefined : durationFlag('--ha-retry-period', f.haRetryPeriod),
  );
  const problem = timingProblem(timing);
  if (problem) throw new ExitError(problem, 1);
  const options: EtcdOptions = { endpoints, ...(tlsGiven ? { tls: { ca: f.haCa!, cert: f.haCert!, key: f.haKey! } } : {}) };
  return { conflictGraceMs, etcd: { options, timing } };
}
