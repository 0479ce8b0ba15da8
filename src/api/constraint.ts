// The constraint language: `node.labels.zone == line1`, `node.memory >= 1Gi`,
// `node.labels.zone in [line1, line2]`, `node.labels.gpu exists` ...
// Parsed once at load time into a typed AST; evaluated by the scheduler.

import type { Constraint } from './types.js';

export type ConstraintParse = { ok: true; constraint: Constraint } | { ok: false; error: string; /** 0-based offset into the text */ offset: number };

/** Total: never throws, bounded work for any input. */
export function parseConstraint(text: string): ConstraintParse {
  throw new Error('not implemented');
}

/** The facts a constraint is evaluated against. */
export interface NodeFacts {
  name: string;
  arch: string;
  os: string;
  cpu: number; // millicores
  memory: number; // bytes
  labels: Readonly<Record<string, string>>;
}

/** ok, or the detail that makes the text `node.labels.zone == line1 (zone is line2)`. */
export type ConstraintVerdict = { ok: true } | { ok: false; detail: string };

export function evaluateConstraint(c: Constraint, node: NodeFacts): ConstraintVerdict {
  throw new Error('not implemented');
}
