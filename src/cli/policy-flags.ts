// The controller-level security policy: what `fogctl run --allow-*` grants on
// every node, and `--secret-pattern`. Parsed once at start-up into a plain
// value (ReconcileSettings.policy); the decisions are in src/schedule/security.ts.

import type { Command } from 'commander';
import type { NodeAllow, Policy } from '../api/types.js';
import { NOTHING_ALLOWED } from '../schedule/security.js';
import { capabilitySet, parseCapability } from '../manifest/capabilities.js';

/** Secure by default: nothing beyond Docker's defaults is allowed anywhere unless a Node allows it. */
export const DEFAULT_POLICY: Policy = { allow: NOTHING_ALLOWED, secretPattern: '' };

/** The flag values as commander gives them (see addPolicyOptions). */
export interface PolicyFlags {
  allowPrivileged?: boolean;
  allowHostPid?: boolean;
  allowHostIpc?: boolean;
  /** `NET_ADMIN,SYS_TIME` (CAP_ prefix and case optional). */
  allowCapabilities?: string;
  /** `/data,/var/log`: absolute path prefixes. */
  allowHostPaths?: string;
  /** A regular expression over env names, case-insensitive. */
  secretPattern?: string;
}

export type PolicyParse = { ok: true; policy: Policy } | { ok: false; error: string };

const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const UNNORMALISED = /(^|\/)\.\.?(\/|$)|\/\//;

export function parsePolicyFlags(f: PolicyFlags): PolicyParse {
  const caps: string[] = [];
  for (const name of list(f.allowCapabilities)) {
    const r = parseCapability(name);
    if (!r.ok) return { ok: false, error: `--allow-capabilities: ${r.error}` };
    caps.push(r.value);
  }
  const paths: string[] = [];
  for (const p of list(f.allowHostPaths)) {
    if (!p.startsWith('/') || UNNORMALISED.test(p))
      return { ok: false, error: `--allow-host-paths: ${JSON.stringify(p)} must be an absolute path without . or .. segments and //, e.g. /data,/var/log` };
    paths.push(p.length > 1 ? p.replace(/\/+$/, '') : p);
  }
  const secretPattern = f.secretPattern ?? '';
  try {
    new RegExp(secretPattern, 'i');
  } catch (err) {
    return { ok: false, error: `--secret-pattern ${JSON.stringify(secretPattern)} is not a valid regular expression: ${(err as Error).message}` };
  }
  const allow: NodeAllow = {
    privileged: f.allowPrivileged === true,
    hostPID: f.allowHostPid === true,
    hostIPC: f.allowHostIpc === true,
    capabilities: capabilitySet(caps),
    hostPaths: [...new Set(paths)].sort(),
  };
  return { ok: true, policy: { allow, secretPattern } };
}

/** The policy flags of `fogctl run` (and `plan`, so that it shows what run would do). */
export function addPolicyOptions(cmd: Command): Command {
  return cmd
    .option('--allow-privileged', 'allow privileged services on every node (else only where a Node has spec.allow.privileged)')
    .option('--allow-host-pid', "allow services to share a node's PID namespace (security.hostPID) on every node")
    .option('--allow-host-ipc', "allow services to share a node's IPC namespace (security.hostIPC) on every node")
    .option('--allow-capabilities <list>', 'capabilities services may add on every node, e.g. NET_ADMIN,SYS_TIME')
    .option('--allow-host-paths <list>', 'host path prefixes services may bind-mount on every node, e.g. /data,/var/log')
    .option('--secret-pattern <regex>', 'env names matching this (case-insensitive) are secret too, besides PASSWORD|SECRET|TOKEN|KEY');
}
