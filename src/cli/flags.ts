// Flag values shared by several commands.

import { parseDuration } from '../api/quantity.js';
import { ExitError } from './errors.js';

/** A duration flag (`10s`, `500ms`), or exit 1 naming the flag and what is allowed. */
export function durationFlag(flag: string, value: string): number {
  const d = parseDuration(value);
  if (!d.ok) throw new ExitError(`${flag} ${value}: ${d.error}`, 1);
  return d.value;
}
