// `fogctl images load FILE.tar --node NODE|--all`: a plant with no registry
// at all. The tar (`docker save`, or a vendor's air-gap bundle) is streamed
// into each engine named by the Node manifests of the desired folder, one
// node after the other (the file is read once per node, never whole in
// memory), straight to the engines like `fogctl logs`: no controller needed.

import { registerImagesPrune } from './cmd-images-prune.js';
import type { Command } from 'commander';
import { createReadStream, statSync } from 'node:fs';
import type { FogNode } from '../api/types.js';
import { Engine, EngineError } from '../docker/engine.js';
import { loadDesired } from '../manifest/index.js';
import { ExitError } from './errors.js';
import { durationFlag } from './flags.js';

interface LoadFlags {
  node?: string[];
  all?: boolean;
  desired: string;
  timeout: string;
}

export function registerImages(program: Command, setCode: (c: number) => void): void {
  const images = program.command('images').description('Images on the nodes');
  registerImagesPrune(images, setCode);
  images
    .command('load <file>')
    .description('Load an image tar (docker save) into the engines of the named nodes (or all), straight from this machine: for a plant with no registry')
    .option('--node <name...>', 'a Node of the desired folder (repeatable)')
    .option('--all', 'every Node of the desired folder')
    .option('--desired <dir>', 'folder of fog/v1 manifests (the Nodes are read from it)', 'desired')
    .option('--timeout <duration>', 'deadline of the load into one node', '10m')
    .addHelpText('after', '\nExamples:\n  docker save fog/app:2 -o app-2.tar\n  fogctl images load app-2.tar --all\n  fogctl images load app-2.tar --node press-1 --node press-2\n')
    .action(async (file: string, flags: LoadFlags) => {
      if ((flags.node === undefined || flags.node.length === 0) === (flags.all !== true)) throw new ExitError('images load: give --node NODE (one or more) or --all', 1);
      try {
        if (!statSync(file).isFile()) throw new ExitError(`images load: ${file} is not a file`, 1);
      } catch (err) {
        if (err instanceof ExitError) throw err;
        throw new ExitError(`images load: cannot read ${file}: ${(err as Error).message}`, 1);
      }
      const timeoutMs = durationFlag('--timeout', flags.timeout);
      const loaded = await loadDesired([flags.desired]);
      if (loaded.nodes.length === 0) throw new ExitError(`no Node manifests in ${flags.desired}: point --desired at the folder fogctl run watches`, 1);
      const byName = new Map(loaded.nodes.map((n) => [n.metadata.name, n]));
      const unknown = (flags.node ?? []).filter((n) => !byName.has(n));
      if (unknown.length > 0) throw new ExitError(`images load: no Node ${unknown.join(', ')} in ${flags.desired} (there: ${[...byName.keys()].sort().join(', ')})`, 1);
      const targets = flags.all === true ? [...byName.values()] : (flags.node ?? []).map((n) => byName.get(n)!);
      let failed = 0;
      for (const node of targets) {
        const name = node.metadata.name;
        try {
          const got = await loadInto(node, file, timeoutMs);
          process.stdout.write(`${name}: loaded ${got.length > 0 ? got.join(', ') : file}\n`);
        } catch (err) {
          failed++;
          process.stderr.write(`${name}: load failed: ${(err as Error).message}\n`);
        }
      }
      if (failed > 0) setCode(1);
    });
}

/** Streams the tar into the node's engine; the names it loaded (`Loaded image: …`). */
async function loadInto(node: FogNode, file: string, timeoutMs: number): Promise<string[]> {
  let engine: Engine;
  try {
    engine = Engine.forNode(node, { callTimeoutMs: 5_000, pullTimeoutMs: timeoutMs });
  } catch (err) {
    throw new Error(err instanceof EngineError ? err.message : String(err));
  }
  const names: string[] = [];
  try {
    await engine.loadImage(createReadStream(file), (m) => {
      const got = /^Loaded image(?: ID)?: (.+)$/.exec((m.stream ?? m.status ?? '').trim());
      if (got) names.push(got[1]!);
    });
  } finally {
    engine.close();
  }
  return names;
}
