#!/usr/bin/env node
// fogctl from the TypeScript sources, through tsx (a devDependency): what the
// tests and `npm run fogctl` use, so they never run a stale build. The
// installed command is the compiled dist/cli/bin.js (`npm run build`).
import { register } from 'tsx/esm/api';

register();
await import('./bin.ts');
