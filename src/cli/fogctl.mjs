#!/usr/bin/env node
// The fogctl executable: runs the TypeScript sources through tsx so that
// `npx fogctl` works straight after `npm ci`, with no build step to go stale.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv);
