// fogctl get nodes|services|replicas, and fogctl describe node|service NAME.

import type { Command } from 'commander';
import type { StatusDoc } from '../status/doc.js';
import { asSyncStatus, formatSyncStatus } from '../sync/index.js';
import { ExitError } from './errors.js';
import { describeNode, describeService } from './describe.js';
import { nodesTable, parseOutput, replicaRows, replicasTable, serialize, servicesTable, table } from './print.js';
import { obtainStatus, type SourceFlags } from './source.js';

type Resource = 'nodes' | 'services' | 'replicas' | 'sync';

const RESOURCES: Record<string, Resource> = {
  sync: 'sync',
  node: 'nodes',
  nodes: 'nodes',
  no: 'nodes',
  service: 'services',
  services: 'services',
  svc: 'services',
  replica: 'replicas',
  replicas: 'replicas',
  rs: 'replicas',
};

function resourceOf(word: string): Resource {
  const r = RESOURCES[word.toLowerCase()];
  if (!r) throw new ExitError(`unknown resource type "${word}": allowed are nodes, services, replicas, sync`, 1);
  return r;
}

export function addSourceFlags(cmd: Command): Command {
  return cmd
    .option('--server <socket|127.0.0.1:port>', 'controller status endpoint (default $FOG_SERVER or ./.fog/fogctl.sock)')
    .option('--desired <dir>', 'desired folder to read when no controller is running', 'desired')
    .option('--cluster <name>', 'cluster name (ownership label) when reading the fleet directly', 'default')
    .option('--direct', 'do not ask a controller: observe the fleet directly, now');
}

function render(doc: StatusDoc, what: Resource, name: string | undefined, output: string | undefined): string {
  const out = parseOutput(output);
  if (what === 'sync') {
    const s = asSyncStatus(doc.sync);
    if (!s) throw new ExitError('this controller does not sync from git (start it with fogctl run --sync-repo …, or see fogctl sync status --into DIR)', 1);
    return out === 'json' || out === 'yaml' ? serialize(s, out) : formatSyncStatus(s);
  }
  if (out === 'json' || out === 'yaml') {
    const items = what === 'nodes' ? doc.status.nodes : what === 'services' ? doc.status.services : replicaRows(doc).map(({ service, r }) => ({ service, ...r }));
    const picked = name === undefined ? items : items.filter((i) => ('name' in i ? i.name === name : `${(i as { service: string }).service}-${(i as { slot: number }).slot}` === name));
    return serialize(name === undefined ? { kind: 'List', items: picked } : picked[0], out);
  }
  const filtered: StatusDoc =
    name === undefined
      ? doc
      : {
          ...doc,
          status: {
            ...doc.status,
            nodes: doc.status.nodes.filter((n) => n.name === name),
            services:
              what === 'replicas' ? doc.status.services.map((s) => ({ ...s, replicas: s.replicas.filter((r) => `${s.name}-${r.slot}` === name) })) : doc.status.services.filter((s) => s.name === name),
          },
        };
  const wide = out === 'wide';
  return what === 'nodes' ? controlLine(doc) + nodesTable(filtered, wide) : what === 'services' ? controlLine(doc) + servicesTable(filtered, wide) : replicasTable(filtered, wide);
}

/** The header line of `get nodes`/`get services`: who leads (etcd election), or a conflict. Nothing for a lone controller that acts. */
export function controlLine(doc: StatusDoc): string {
  const c = doc.control;
  if (!c) return '';
  if (c.state === 'conflict') return `CONFLICT: this controller (${c.identity}) does not act: ${c.reason ?? 'another controller acts on this cluster'}\n`;
  const e = c.election;
  if (!e) return '';
  const leader = e.leader ? `${e.leader.identity}, lease revision ${e.leader.rev}` : 'none';
  if (c.state === 'acting') return `Controller: LEADER ${c.identity} (lease revision ${e.leader?.rev ?? '?'}, etcd ${e.etcd.join(',')})\n`;
  if (e.etcdError) return `Controller: STANDBY ${c.identity}, not acting: ${c.reason ?? e.etcdError}\n`;
  return `Controller: STANDBY ${c.identity}, read-only; leader: ${leader}\n`;
}

/** `get replicas --all`: what runs on the nodes that is not ours, and whose it is. */
function unmanagedTable(doc: StatusDoc, output: string | undefined): string {
  const list = doc.status.unmanaged ?? [];
  const out = parseOutput(output);
  if (out === 'json' || out === 'yaml') return serialize({ kind: 'UnmanagedList', items: list }, out);
  if (list.length === 0) return '\nNo unmanaged containers on reachable nodes.\n';
  return (
    '\nNot managed by this controller (never touched):\n' +
    table(
      ['NODE', 'NAME', 'IMAGE', 'STATE', 'OWNER'],
      list.map((u) => [u.node, u.name, u.image, u.state, u.owner ? `cluster ${u.owner}` : '<none>']),
    )
  );
}

function warnings(doc: StatusDoc): string {
  const lines: string[] = [];
  if (doc.desired.folderError) lines.push(`warning: ${doc.desired.folderError}`);
  if (doc.desired.errors.length > 0) {
    lines.push(`warning: ${doc.desired.errors.length} manifest error(s); the last good version of each object stays in force:`);
    for (const e of doc.desired.errors.slice(0, 5)) lines.push(`  ${e.file}:${e.line}:${e.col}: ${e.message}`);
    if (doc.desired.errors.length > 5) lines.push(`  … run \`fogctl validate ${doc.desired.dir}\` for all of them`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

export function registerGet(program: Command, setCode: (c: number) => void): void {
  addSourceFlags(
    program
      .command('get')
      .description('List nodes, services or replicas, as the controller sees them')
      .argument('<resource>', 'nodes | services | replicas | sync')
      .argument('[name]', 'only this one')
      .option('-o, --output <format>', 'wide | json | yaml')
      .option('-w, --watch', 'keep printing as the status changes')
      .option('-A, --all', 'replicas: also list containers on the nodes that this controller does not own')
      .option('--interval <ms>', 'poll interval for --watch', '1000'),
  )
    .addHelpText('after', '\nExamples:\n  fogctl get services\n  fogctl get sync\n  fogctl get nodes -o wide\n  fogctl get replicas -w\n  fogctl get service mqtt-broker -o yaml\n')
    .action(async (resource: string, name: string | undefined, flags: SourceFlags & { output?: string; watch?: boolean; interval: string; all?: boolean }) => {
      const what = resourceOf(resource);
      parseOutput(flags.output);
      let last = '';
      for (;;) {
        const doc = await obtainStatus(flags);
        const text = render(doc, what, name, flags.output) + (what === 'replicas' && flags.all ? unmanagedTable(doc, flags.output) : '');
        if (!flags.watch) {
          process.stderr.write(warnings(doc));
          process.stdout.write(text);
          if (name !== undefined && text.split('\n').filter(Boolean).length <= 1) {
            throw new ExitError(`${what.replace(/s$/, '')} "${name}" not found`, 1);
          }
          setCode(0);
          return;
        }
        if (text !== last) process.stdout.write((last ? '\n' : '') + text);
        last = text;
        await new Promise((r) => setTimeout(r, Number(flags.interval) || 1000));
      }
    });

  addSourceFlags(
    program
      .command('describe')
      .description('Show one node or service in detail: spec, conditions, replicas, why it is not placed, recent events')
      .argument('<kind>', 'node | service')
      .argument('<name>'),
  )
    .addHelpText('after', '\nExamples:\n  fogctl describe service opcua-collector\n  fogctl describe node press-2\n')
    .action(async (kind: string, name: string, flags: SourceFlags) => {
      const what = resourceOf(kind);
      const doc = await obtainStatus(flags);
      process.stderr.write(warnings(doc));
      const text = what === 'nodes' ? describeNode(doc, name) : what === 'services' ? describeService(doc, name) : undefined;
      if (text === undefined) throw new ExitError(`${kind} "${name}" not found (fogctl get ${what} lists them)`, 1);
      process.stdout.write(text);
      setCode(0);
    });
}
