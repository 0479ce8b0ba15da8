// fogctl: the one command. Each subcommand lives in its own cmd-*.ts file and
// registers itself here; this is the only top-level catch.

import { Command, CommanderError } from 'commander';
import { ExitError } from './errors.js';
import { registerDashboard } from './cmd-dashboard.js';
import { registerGet } from './cmd-get.js';
import { registerPlan } from './cmd-plan.js';
import { registerRollout } from './cmd-rollout.js';
import { registerRun } from './cmd-run.js';
import { registerSync } from './cmd-sync.js';
import { registerValidate } from './cmd-validate.js';
import { registerVersion } from './cmd-version.js';
import { registerEvents } from './cmd-events.js';
import { registerLogs } from './cmd-logs.js';
import { registerImages } from './cmd-images.js';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('fogctl').description('Fog service orchestration for smart factories: run services on the fog nodes beside the machines.').exitOverride().showHelpAfterError();
  let code = 0;
  const setCode = (c: number) => {
    code = c;
  };
  registerValidate(program, setCode);
  registerRun(program, setCode);
  registerGet(program, setCode);
  registerPlan(program, setCode);
  registerRollout(program, setCode);
  registerSync(program, setCode);
  registerDashboard(program, setCode);
  registerVersion(program, setCode);
  registerEvents(program, setCode);
  registerLogs(program, setCode);
  registerImages(program, setCode);
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ExitError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
