// fogctl images prune [--node NODE] [--dry-run]: the controller removes
// unused images of ours (src/controller/image-gc.ts) and says what went,
// like `docker image prune`. Sent to the controller's unix socket.

import type { Command } from 'commander';
import { formatMemory } from '../api/quantity.js';
import type { NodePrune, PruneReport } from '../controller/image-gc.js';
import { postCommand, resolveServer } from '../controller/status-client.js';
import { shortId } from '../status/text.js';
import { ExitError } from './errors.js';
import { table } from './print.js';

const KEPT: Record<NodePrune['kept'][number]['why'], string> = {
  'in-use': 'in use',
  current: 'current revision',
  previous: 'previous revision',
  manifest: 'in a manifest',
  'not-ours': 'not ours',
};

/** The report as printed: one row per image removed (or that would be), then what was kept, counted per reason. */
export function pruneText(r: PruneReport): string {
  const verb = r.dryRun ? 'would remove' : 'removed';
  const rows: string[][] = [];
  for (const n of r.nodes) {
    for (const x of n.removed) rows.push([n.node, x.image, shortId(x.id), formatMemory(x.size), verb]);
    for (const x of n.failed) rows.push([n.node, x.image, shortId(x.id), formatMemory(x.size), `failed: ${x.error}`]);
  }
  let out = rows.length > 0 ? table(['NODE', 'IMAGE', 'ID', 'SIZE', 'RESULT'], rows) : `no unused images of ours to remove\n`;
  for (const n of r.nodes) {
    if (n.error !== undefined) {
      out += `${n.node}: not collected: ${n.error}\n`;
      continue;
    }
    const kept = (Object.keys(KEPT) as (keyof typeof KEPT)[])
      .map((why) => [n.kept.filter((k) => k.why === why).length, KEPT[why]] as const)
      .flatMap(([c, why]) => (c > 0 ? [`${c} ${why}`] : []))
      .join(', ');
    out += `${n.node}: kept ${n.kept.length} image(s)${kept ? ` (${kept})` : ''}\n`;
  }
  return `${out}Total reclaimed space: ${formatMemory(r.reclaimed)}${r.dryRun ? ' (dry run: nothing removed)' : ''}\n`;
}

/** `fogctl images prune`, under the `images` group (cmd-images.ts). */
export function registerImagesPrune(images: Command, setCode: (c: number) => void): void {
  images
    .command('prune')
    .description("Remove images of ours that no container uses, beyond each service's current and previous revision; images we never ran are never touched")
    .option('--node <name>', 'only this node (default: every node)')
    .option('--dry-run', 'only print what would be removed')
    .option('--server <socket>', 'controller status socket (default $FOG_SERVER or ./.fog/fogctl.sock)')
    .addHelpText('after', '\nExamples:\n  fogctl images prune --dry-run\n  fogctl images prune --node press-1\n')
    .action(async (flags: { node?: string; dryRun?: boolean; server?: string }) => {
      const r = await postCommand(resolveServer(flags.server), '/v1/images/prune', { ...(flags.node !== undefined ? { node: flags.node } : {}), dryRun: flags.dryRun === true }, 120_000);
      if (!r.ok) throw new ExitError(r.reason, 1);
      const report = r.body as unknown as PruneReport;
      process.stdout.write(pruneText(report));
      setCode(report.nodes.some((n) => n.error !== undefined || n.failed.length > 0) ? 1 : 0);
    });
}
