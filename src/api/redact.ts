// Secrets never leave the controller except towards the engine: everything
// shown (status, plan, logs, fogctl output) goes through these.

import type { Action, EnvVar } from './types.js';

export const REDACTED = '[secret]';

/** Names that are secret by default, whatever the manifest says. */
export const SECRET_NAME_PATTERN = /PASSWORD|SECRET|TOKEN|KEY/i;

export function redactEnv(env: readonly EnvVar[]): EnvVar[] {
  return env.map((e) => (e.secret || SECRET_NAME_PATTERN.test(e.name) ? { ...e, value: REDACTED, secret: true } : e));
}

export function redactAction(a: Action): Action {
  if (a.type !== 'create') return a;
  return { ...a, container: { ...a.container, env: redactEnv(a.container.env) } };
}
