// Structural validation with ajv against the schemas in schema.ts, and the
// translation of ajv's errors into one clear, located issue each.

import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { showPath, show } from './errors.js';
import { KIND_SCHEMAS, type Kind } from './schema.js';
import type { Path } from './parse.js';

/** A problem at a path in one document; `key` when it is the key that is wrong, not its value. */
export interface Issue {
  path: Path;
  key: boolean;
  message: string;
}

// Compiled once, at module load: validation is then a plain function call.
const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictTuples: false, allowUnionTypes: true });
ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
const validators = Object.fromEntries(Object.entries(KIND_SCHEMAS).map(([kind, schema]) => [kind, ajv.compile(schema)])) as Record<Kind, ValidateFunction>;

export function validateStructure(kind: Kind, value: unknown): Issue[] {
  const validate = validators[kind];
  if (validate(value)) return [];
  const seen = new Set<string>();
  const issues: Issue[] = [];
  for (const e of relevantErrors(validate.errors ?? [])) {
    const issue = toIssue(e, value);
    const id = `${issue.path.join('\0')}\0${issue.key}`;
    if (seen.has(id)) continue; // one message per place is enough
    seen.add(id);
    issues.push(issue);
  }
  return issues;
}

function pointerPath(pointer: string): string[] {
  return pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Array indices as numbers, so paths read spec.ports[0]. */
function typedPath(segments: string[], value: unknown): (string | number)[] {
  const out: (string | number)[] = [];
  let node = value;
  for (const seg of segments) {
    if (Array.isArray(node)) {
      out.push(Number(seg));
      node = node[Number(seg)];
    } else {
      out.push(seg);
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function branchAccepts(branch: { type?: string | readonly string[] }, t: string): boolean {
  const types = branch.type === undefined ? [] : typeof branch.type === 'string' ? [branch.type] : branch.type;
  return types.includes(t) || (t === 'integer' && types.includes('number'));
}

/**
 * For an anyOf, report the errors of the branch whose type matches the value
 * (a port written as a mapping gets the mapping's errors); when no branch
 * matches, report the anyOf itself with its `x-expected`.
 */
function relevantErrors(errors: ErrorObject[]): ErrorObject[] {
  const chosen = new Map<string, number>();
  for (const e of errors) {
    if (e.keyword !== 'anyOf') continue;
    const branches = e.schema as { type?: string | string[] }[];
    chosen.set(
      e.schemaPath,
      branches.findIndex((b) => branchAccepts(b, jsonType(e.data))),
    );
  }
  return errors.filter((e) => {
    if (e.keyword === 'anyOf' && chosen.get(e.schemaPath)! >= 0) return false;
    if (e.keyword === 'propertyNames') return false; // its inner error says it better
    for (const [anyOfPath, branch] of chosen) {
      if (e.schemaPath.startsWith(`${anyOfPath}/`) && !e.schemaPath.startsWith(`${anyOfPath}/${branch}/`)) return false;
    }
    return true;
  });
}

function toIssue(e: ErrorObject, root: unknown): Issue {
  const at = typedPath(pointerPath(e.instancePath), root);
  const expected = e.parentSchema?.['x-expected'];
  if (e.keyword === 'additionalProperties') {
    const field = String(e.params.additionalProperty);
    const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
    const near = closest(field, allowed);
    const hint = near ? `, did you mean "${near}"?` : `; allowed: ${allowed.join(', ')}`;
    return { path: [...at, field], key: true, message: `unknown field "${field}" in ${showPath(at)}${hint}` };
  }
  if (e.keyword === 'required') {
    return { path: at, key: false, message: `missing required field "${String(e.params.missingProperty)}" in ${showPath(at)}` };
  }
  if (e.propertyName !== undefined) {
    return {
      path: [...at, e.propertyName],
      key: true,
      message: `${showPath(at)} has an invalid key ${JSON.stringify(e.propertyName)}: must be ${String(expected)}`,
    };
  }
  const text = typeof expected === 'string' ? `must be ${expected}` : (e.message ?? 'is not valid');
  return { path: at, key: false, message: `${showPath(at)} ${text}, got ${show(e.data)}` };
}

/** The allowed name nearest to a misspelt one, if it is near enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3 || a.length > 64 || b.length > 64) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
