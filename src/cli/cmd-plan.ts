// fogctl plan: what the reconcile would do now against the live fleet.
// Exit 0: nothing to do; 2: something to do; 1: error (like terraform's
// -detailed-exitcode), so it fits a GitOps pipeline; 3: the running
// controller reports a Conflict with another controller and does not act.

import type { Command } from 'commander';
import { addPolicyOptions, parsePolicyFlags, type PolicyFlags } from './policy-flags.js';
import { DEFAULT_SETTINGS } from '../api/types.js';
import { observeOnce } from '../controller/once.js';
import { DEFAULT_STATE_DIR, fetchStatus, resolveServer } from '../controller/status-client.js';
import { durationFlag } from './flags.js';
import { ExitError } from './errors.js';
import { parseOutput, serialize, table } from './print.js';

const HELD = new Set(['WaitingForWindow', 'RolloutPaused', 'RolledBack', 'RolloutFailed', 'RolloutUndo']);

export function registerPlan(program: Command, setCode: (c: number) => void): void {
  const plan = program
    .command('plan')
    .description('Dry run: print the actions the controller would take now against the live fleet, without applying them')
    .option('--desired <dir>', 'folder of fog/v1 manifests', 'desired')
    .option('--cluster <name>', 'cluster name (default: the running controller\'s, else "default")')
    .option('--server <socket|127.0.0.1:port>', 'a running controller to take the cluster name from')
    .option('--grace <duration>', 'node grace period', '10s')
    .option('--state-dir <dir>', "the controller's state directory: its rollout book (revisions, pins, pauses) is read, never written", process.env.FOG_STATE_DIR ?? DEFAULT_STATE_DIR)
    .option('-o, --output <format>', 'json | yaml')
    .addHelpText(
      'after',
      '\nExit status: 0 nothing to do, 2 there are actions, 3 the running controller reports a Conflict (another controller acts on the cluster) and will not act, 1 error.\nGive the same --allow-* flags as the controller, so that the plan places what it would place.\n\nExamples:\n  fogctl plan\n  fogctl plan --desired desired/ -o json\n',
    );
  addPolicyOptions(plan).action(async (flags: PolicyFlags & { desired: string; cluster?: string; server?: string; grace: string; output?: string; stateDir: string }) => {
    const out = parseOutput(flags.output);
    let cluster = flags.cluster;
    const running = await fetchStatus(resolveServer(flags.server), 1_500);
    if (cluster === undefined) cluster = running.ok ? running.doc.cluster : DEFAULT_SETTINGS.cluster;
    const conflict = running.ok && running.doc.cluster === cluster && running.doc.control?.state === 'conflict' ? running.doc.control : undefined;
    const policy = parsePolicyFlags(flags);
    if (!policy.ok) throw new ExitError(policy.error, 1);
    const doc = await observeOnce({
      desiredDir: flags.desired,
      settings: { ...DEFAULT_SETTINGS, cluster, nodeGracePeriod: durationFlag('--grace', flags.grace), policy: policy.policy },
      stateDir: flags.stateDir,
    });
    // Rollouts held or turned back (a window, a pause, a failed revision): said even when there is nothing to do.
    const held = doc.status.services.flatMap((s) => s.conditions.filter((c) => c.type === 'Rollout' && HELD.has(c.reason)).map((c) => `service/${s.name}: ${c.reason}: ${c.message}`));
    if (doc.desired.folderError) throw new ExitError(doc.desired.folderError, 1);
    // Already redacted by the controller with the policy's secret pattern.
    const actions = doc.lastActions;
    if (out === 'json' || out === 'yaml') {
      process.stdout.write(serialize({ cluster, actions, held, errors: doc.desired.errors }, out));
    } else if (actions.length === 0) {
      process.stdout.write('No changes. The fleet matches the desired state.\n');
    } else {
      process.stdout.write(
        table(
          ['ACTION', 'SERVICE', 'SLOT', 'NODE', 'REASON', 'MESSAGE'],
          actions.map((a) => [a.type, a.service, String(a.slot), a.node, a.reason, a.message]),
        ),
      );
      process.stdout.write(`\nPlan: ${actions.length} action(s).\n`);
    }
    if (out !== 'json' && out !== 'yaml' && held.length > 0) process.stdout.write(`\nHeld rollouts:\n${held.map((h) => `  ${h}\n`).join('')}`);
    for (const e of doc.desired.errors) process.stderr.write(`${e.file}:${e.line}:${e.col}: ${e.message}\n`);
    if (conflict) {
      // Whatever the plan says, the running controller does not act on it while another one acts on the cluster.
      process.stderr.write(`Conflict: the running controller (${conflict.identity}) does not act: ${conflict.reason ?? 'another controller acts on this cluster'}\n`);
      setCode(3);
      return;
    }
    setCode(actions.length > 0 ? 2 : 0);
  });
}
