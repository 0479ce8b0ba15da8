// Flag values shared by several commands.

import { parseDisk, parseDuration } from '../api/quantity.js';
import type { DiskThreshold } from '../api/types.js';
import { ExitError } from './errors.js';

/** A duration flag (`10s`, `500ms`), or exit 1 naming the flag and what is allowed. */
export function durationFlag(flag: string, value: string): number {
  const d = parseDuration(value);
  if (!d.ok) throw new ExitError(`${flag} ${value}: ${d.error}`, 1);
  return d.value;
}

/** A rate flag: a number of turns a second, 0 or more, or exit 1 naming the flag and what is allowed. */
export function rateFlag(flag: string, value: string, zero: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new ExitError(`${flag} ${value}: must be a number of turns a second (0: ${zero})`, 1);
  return Number(value);
}

/** `5%`, `500Mi`, `5%,500Mi` (the smaller counts) or `none` (undefined), or exit 1 naming the flag and what is allowed. */
export function diskThresholdFlag(flag: string, value: string): DiskThreshold | undefined {
  if (value.trim() === 'none') return undefined;
  const t: DiskThreshold = {};
  for (const part of value.split(',').map((p) => p.trim())) {
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(part);
    const size = pct === null ? parseDisk(part) : undefined;
    if (pct !== null && t.percent === undefined && Number(pct[1]) <= 100) t.percent = Number(pct[1]);
    else if (size?.ok === true && t.bytes === undefined) t.bytes = size.value;
    else throw new ExitError(`${flag} ${value}: must be a percentage of the data root (5%), a size (500Mi), both (5%,500Mi), or none`, 1);
  }
  return t;
}
