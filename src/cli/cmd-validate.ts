// fogctl validate: load the manifests exactly as the controller would and
// report every problem as file:line:col: message, so editors and CI can jump to it.

import type { Command } from 'commander';
import { Option } from 'commander';
import { DEFAULT_PATH, formatError, loadDesired } from '../manifest/index.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function registerValidate(program: Command, setCode: (c: number) => void): void {
  program
    .command('validate')
    .summary('Check manifests: one file:line:col: message line per error, exit 1 if any')
    .description(
      `Check fog/v1 manifests (Node and Service) without touching any engine: YAML syntax, schema, defaults, quantities, constraints, references and dependsOn cycles. Prints one line per error, file:line:col: message; exits 0 when everything is valid, 1 otherwise.`,
    )
    .argument('[path...]', `manifest files or folders, searched recursively for *.yaml and *.yml (hidden ones skipped)`, [DEFAULT_PATH])
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      `
Examples:
  $ fogctl validate                      # everything under ${DEFAULT_PATH}/
  $ fogctl validate desired/services/line1 extra.yaml
  $ fogctl validate -o json desired/ | jq '.errors[].message'

Output (text): errors to stdout, a summary to stderr, e.g.
  desired/services/line1/collector.yaml:12:5: spec.replicas must be an integer >= 0, got "two"
  3 objects valid, 1 error in 1 file

The manifest reference, limits and error codes: docs/manifest.md`,
    )
    .action(async (paths: string[], opts: { output: 'text' | 'json' }) => {
      const result = await loadDesired(paths);
      const objects = [...result.nodes, ...result.services].map((o) => ({
        kind: o.kind,
        name: o.metadata.name,
        file: o.source.file,
        line: o.source.line,
      }));
      const valid = result.errors.length === 0;
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify({ valid, objects, errors: result.errors }, null, 2)}\n`);
      } else {
        for (const e of result.errors) process.stdout.write(`${formatError(e)}\n`);
        const files = new Set(result.errors.map((e) => e.file)).size;
        const problems = valid ? 'no errors' : `${plural(result.errors.length, 'error')} in ${plural(files, 'file')}`;
        process.stderr.write(`${plural(objects.length, 'object')} valid, ${problems}\n`);
      }
      setCode(valid ? 0 : 1);
    });
}
