// fogctl rollout status|history|undo|pause|resume SERVICE, with kubectl's habits.
// status and history read the controller's status document; undo, pause and
// resume are the controller's commands (POST on its unix socket only).

import type { Command } from 'commander';
import { formatDuration } from '../api/quantity.js';
import { fetchStatus, postCommand, resolveServer } from '../controller/status-client.js';
import type { StatusDoc } from '../status/doc.js';
import { ExitError } from './errors.js';
import { durationFlag } from './flags.js';
import { table } from './print.js';

interface ServerFlags {
  server?: string;
}

async function statusOf(flags: ServerFlags): Promise<StatusDoc> {
  const server = resolveServer(flags.server);
  const r = await fetchStatus(server);
  if (!r.ok) throw new ExitError(r.reason, 1);
  return r.doc;
}

type Verdict = { done: true; code: 0 | 1; line: string } | { done: false; line: string };

/** Where one service's rollout stands, as `rollout status` prints it. */
export function rolloutProgress(doc: StatusDoc, name: string): Verdict | undefined {
  const st = doc.status.services.find((s) => s.name === name);
  const ro = st?.rollout;
  if (st === undefined || ro === undefined) return undefined;
  const cond = st.conditions.find((c) => c.type === 'Rollout');
  const why = cond?.message !== undefined ? `: ${cond.message}` : '';
  if (ro.phase === 'RolledBack') return { done: true, code: 1, line: `service "${name}" rolled back to revision ${ro.revision}${why}` };
  if (ro.phase === 'Failed') return { done: true, code: 1, line: `service "${name}" rollout of revision ${ro.manifestRevision} failed${why}` };
  if (ro.phase === 'Complete' && st.upToDate >= st.desired && st.ready >= st.desired)
    return { done: true, code: 0, line: `service "${name}" successfully rolled out (revision ${ro.revision}${ro.pinned !== undefined ? ', pinned by undo' : ''})` };
  const now = doc.clock.now;
  const monitoring = st.replicas.filter((r) => r.upToDate && r.ready && r.startedAt !== undefined && ro.monitor > 0 && now - r.startedAt < ro.monitor);
  const parts = [`${st.upToDate}/${st.desired} updated`, `${st.ready}/${st.desired} ready`];
  if (monitoring.length > 0) {
    const oldest = Math.max(...monitoring.map((r) => now - r.startedAt!));
    parts.push(`${monitoring.length} monitoring ${formatDuration(Math.floor(oldest / 1000) * 1000)}/${formatDuration(ro.monitor)}`);
  }
  const state = ro.phase === 'Pending' ? 'waiting for a maintenance window' : ro.phase === 'Paused' || ro.paused === true ? 'paused' : 'in progress';
  return { done: false, line: `rollout of revision ${ro.manifestRevision} ${state}: ${parts.join(', ')}${why}` };
}

export function historyTable(doc: StatusDoc, name: string): string | undefined {
  const ro = doc.rollouts?.[name];
  if (ro === undefined) return undefined;
  const rows = ro.revisions.map((r) => [
    `${r.revision}${r.revision === ro.revision ? '*' : ''}`,
    r.created.slice(0, 19).replace('T', ' '),
    r.hash,
    r.image,
    r.source ?? '',
    r.commit?.slice(0, 12) ?? '',
    r.outcome + (r.failure !== undefined ? `: ${r.failure}` : ''),
  ]);
  const head = `service/${name} (phase ${ro.phase}${ro.pinned !== undefined ? `, pinned to revision ${ro.pinned} by undo` : ''}${ro.paused === true ? ', paused' : ''}; * = running)\n`;
  return head + table(['REVISION', 'CREATED (UTC)', 'HASH', 'IMAGE', 'SOURCE', 'COMMIT', 'OUTCOME'], rows);
}

export function registerRollout(program: Command, setCode: (c: number) => void): void {
  const rollout = program
    .command('rollout')
    .description("Watch and steer a service's rollouts: status, history, undo, pause, resume, restart")
    .addHelpText(
      'after',
      '\nExamples:\n  fogctl rollout status opcua-collector --timeout 5m\n  fogctl rollout history opcua-collector\n  fogctl rollout undo opcua-collector --to-revision 3\n  fogctl rollout pause opcua-collector\n  fogctl rollout resume opcua-collector\n  fogctl rollout restart opcua-collector\n',
    );
  const server = (c: Command) => c.option('--server <socket>', 'controller status socket (default $FOG_SERVER or ./.fog/fogctl.sock)');

  server(rollout.command('status').description('Wait for the rollout to finish, printing progress; exit 0 when complete, 1 when it failed or rolled back').argument('<service>'))
    .option('--timeout <duration>', 'give up (exit 1) after this long; 0 waits forever', '0')
    .option('-w, --watch <bool>', 'keep waiting (false: print once and exit)', 'true')
    .action(async (name: string, flags: ServerFlags & { timeout: string; watch: string }) => {
      const timeout = durationFlag('--timeout', flags.timeout);
      const started = Date.now();
      let last = '';
      for (;;) {
        const doc = await statusOf(flags);
        const v = rolloutProgress(doc, name);
        if (v === undefined) throw new ExitError(`service "${name}" not found or has no rollout yet (fogctl get services lists them)`, 1);
        if (v.line !== last) process.stdout.write(`${v.line}\n`);
        last = v.line;
        if (v.done) {
          setCode(v.code);
          return;
        }
        if (flags.watch === 'false') {
          setCode(0);
          return;
        }
        if (timeout > 0 && Date.now() - started >= timeout) throw new ExitError(`timed out after ${flags.timeout} waiting for the rollout of service "${name}"`, 1);
        await new Promise((r) => setTimeout(r, 500));
      }
    });

  server(rollout.command('history').description("A service's revisions: time, hash, image, source and commit, outcome").argument('<service>')).action(async (name: string, flags: ServerFlags) => {
    const doc = await statusOf(flags);
    const text = historyTable(doc, name);
    if (text === undefined) throw new ExitError(`service "${name}" has no rollout history (fogctl get services lists the services)`, 1);
    process.stdout.write(text);
    setCode(0);
  });

  const send = async (name: string, kind: 'undo' | 'pause' | 'resume' | 'restart', body: unknown, flags: ServerFlags): Promise<Record<string, unknown>> => {
    const r = await postCommand(resolveServer(flags.server), `/v1/rollouts/${encodeURIComponent(name)}/${kind}`, body);
    if (!r.ok) throw new ExitError(r.reason, 1);
    return r.body;
  };
  server(rollout.command('undo').description('Go back to the previous complete revision (or --to-revision N); pinned until the manifest changes').argument('<service>'))
    .option('--to-revision <n>', 'the revision to go back to (fogctl rollout history lists them)')
    .action(async (name: string, flags: ServerFlags & { toRevision?: string }) => {
      let body = {};
      if (flags.toRevision !== undefined) {
        const n = Number(flags.toRevision);
        if (!Number.isInteger(n) || n < 1) throw new ExitError(`--to-revision ${flags.toRevision}: must be a revision number (fogctl rollout history ${name} lists them)`, 1);
        body = { toRevision: n };
      }
      const r = await send(name, 'undo', body, flags);
      process.stdout.write(`service/${name} rolled back to revision ${String(r.pinned)} (pinned until the manifest changes)\n`);
      setCode(0);
    });
  server(rollout.command('pause').description('Start no new batch until resume (or until the manifest changes)').argument('<service>')).action(async (name: string, flags: ServerFlags) => {
    await send(name, 'pause', {}, flags);
    process.stdout.write(`service/${name} paused\n`);
    setCode(0);
  });
  server(rollout.command('resume').description('Go on with a paused rollout, or promote a canary waiting for it').argument('<service>')).action(async (name: string, flags: ServerFlags) => {
    await send(name, 'resume', {}, flags);
    process.stdout.write(`service/${name} resumed\n`);
    setCode(0);
  });
  server(
    rollout.command('restart').description('Roll the service again with its update rules, the image tag resolved afresh (a tag that moved in the registry is picked up)').argument('<service>'),
  ).action(async (name: string, flags: ServerFlags) => {
    await send(name, 'restart', {}, flags);
    process.stdout.write(`service/${name} restarted\n`);
    setCode(0);
  });
}
