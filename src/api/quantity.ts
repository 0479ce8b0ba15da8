// Quantities, durations and versions: total parsers (never throw) and
// comparisons. Owned by the "constraint/quantity" work item; signatures fixed.

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** `2`, `0.5`, `"500m"`, `"1.5"` → millicores. Allowed: a number >= 0 or a decimal string with optional `m`. */
export function parseCpu(input: unknown): Parsed<number> {
  throw new Error('not implemented');
}

/** `"256Mi"`, `"1Gi"`, `"512M"`, `"1000"`, 1024 → bytes. Suffixes: k, M, G, T (1000s), Ki, Mi, Gi, Ti (1024s). */
export function parseMemory(input: unknown): Parsed<number> {
  throw new Error('not implemented');
}

/** `"500ms"`, `"10s"`, `"2m"`, `"1h"`, `"1m30s"`, a number = seconds → ms. */
export function parseDuration(input: unknown): Parsed<number> {
  throw new Error('not implemented');
}

/** millicores → `"500m"` or `"2"`. */
export function formatCpu(millicores: number): string {
  throw new Error('not implemented');
}

/** bytes → `"512Mi"`, `"1Gi"`, `"1.5Gi"`, `"100"`. */
export function formatMemory(bytes: number): string {
  throw new Error('not implemented');
}

/** ms → `"10s"`, `"1m30s"`, `"500ms"`. */
export function formatDuration(ms: number): string {
  throw new Error('not implemented');
}

/**
 * Compare two constraint values the way the constraint language does:
 * both numbers/quantities → numerically; both dotted versions (1.4.2) →
 * component-wise numerically; otherwise → string order. Returns <0, 0, >0.
 */
export function compareValues(a: string, b: string): number {
  throw new Error('not implemented');
}
