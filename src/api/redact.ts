// Secrets never leave the controller except towards the engine: everything
// shown (status, plan, logs, fogctl output) goes through these.

import type { Action, EnvVar } from './types.js';

export const REDACTED = '[secret]';

/** Names that are secret by default, whatever the manifest says. */
export const SECRET_NAME_PATTERN = /PASSWORD|SECRET|TOKEN|KEY/i;

/**
 * Is a variable of this name secret? The default pattern, plus `extra` (the
 * controller's `--secret-pattern`, matched case-insensitively), which can only
 * add. An extra pattern that does not compile makes every name secret: when
 * unsure, show less.
 */
export function secretName(extra?: string): (name: string) => boolean {
  if (!extra) return (name) => SECRET_NAME_PATTERN.test(name);
  let re: RegExp;
  try {
    re = new RegExp(extra, 'i');
  } catch {
    return () => true;
  }
  return (name) => SECRET_NAME_PATTERN.test(name) || re.test(name);
}

const DEFAULT_SECRET_NAME = secretName();

export function redactEnv(env: readonly EnvVar[], isSecretName: (name: string) => boolean = DEFAULT_SECRET_NAME): EnvVar[] {
  return env.map((e) => (e.secret || isSecretName(e.name) ? { ...e, value: REDACTED, secret: true } : e));
}

/** An action as it may be shown; `redactActionWith(secretName(pattern))` for a configured pattern. */
export function redactAction<A extends Action>(a: A): A {
  return redactActionWith(DEFAULT_SECRET_NAME)(a);
}

export function redactActionWith(isSecretName: (name: string) => boolean): <A extends Action>(a: A) => A {
  return (a) => (a.type !== 'create' ? a : { ...a, container: { ...a.container, env: redactEnv(a.container.env, isSecretName) } });
}
