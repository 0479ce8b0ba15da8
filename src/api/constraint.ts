// The constraint language: `node.labels.zone == line1`, `node.memory >= 1Gi`,
// `node.labels.zone in [line1, line2]`, `node.labels.gpu exists` ...
// Parsed once at load time into a typed AST; evaluated by the scheduler.
//
// Grammar (whitespace-tolerant, case-sensitive):
//   constraint := SUBJECT OP VALUE | SUBJECT (in | not in) LIST | SUBJECT (exists | not exists)
//   SUBJECT    := node.name | node.arch | node.os | node.cpu | node.memory | node.labels.KEY
//   OP         := == | != | < | <= | > | >=
//   VALUE      := bare | "quoted" | 'quoted'      (no escapes inside quotes)
//   LIST       := [ VALUE (, VALUE)* ]
// A bare value is any run of characters other than whitespace and
// = ! < > [ ] , " ' ; quote anything else.

import type { Constraint, ConstraintOp, ConstraintSubject } from './types.js';
import { compareValues, formatCpu, formatMemory, parseCpu, parseMemory } from './quantity.js';

export type ConstraintParse = { ok: true; constraint: Constraint } | { ok: false; error: string; /** 0-based offset into the text */ offset: number };

const MAX_TEXT = 1024;
const MAX_LABEL_KEY = 253;
const LABELS_PREFIX = 'node.labels.';
const ALLOWED_SUBJECTS = 'node.name, node.arch, node.os, node.cpu, node.memory, node.labels.<key>';
const ALLOWED_OPS = '==, !=, <, <=, >, >=, in, not in, exists, not exists';

/** Swarm and Kubernetes spellings people will try, with what to write instead. */
const SUBJECT_HINTS: Readonly<Record<string, string>> = {
  'node.hostname': 'node.name',
  'node.platform.arch': 'node.arch',
  'node.platform.os': 'node.os',
  'node.labels': 'node.labels.<key>',
};

/** Single-character and two-character spellings that are not operators here. */
const OP_HINTS: Readonly<Record<string, string>> = {
  '=': '==',
  '=>': '>=',
  '=<': '<=',
  '<>': '!=',
  '!': '!= or not in',
};

function isSpace(c: number): boolean {
  return c <= 32;
}

/** Characters that end a bare token (besides whitespace). */
function isSpecial(c: number): boolean {
  return c === 61 /* = */ || c === 33 /* ! */ || c === 60 /* < */ || c === 62 /* > */ || c === 91 /* [ */ || c === 93 /* ] */ || c === 44 /* , */ || c === 34 /* " */ || c === 39; /* ' */
}

function isKeyChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    (c >= 48 && c <= 57) || // 0-9
    c === 46 /* . */ ||
    c === 95 /* _ */ ||
    c === 47 /* / */ ||
    c === 45 /* - */
  );
}

/** A token for an error message: short and quoted. */
function show(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

class ParseError {
  constructor(
    readonly error: string,
    readonly offset: number,
  ) {}
}

/** A hand-written scanner over `text`; errors are thrown as ParseError and caught in parseConstraint only. */
class Scanner {
  pos: number;
  constructor(
    readonly text: string,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  skipSpace(): void {
    while (this.pos < this.end && isSpace(this.text.charCodeAt(this.pos))) this.pos++;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  peek(): number {
    return this.pos < this.end ? this.text.charCodeAt(this.pos) : -1;
  }

  /** A run of non-space, non-special characters. */
  word(): string {
    const start = this.pos;
    while (this.pos < this.end) {
      const c = this.text.charCodeAt(this.pos);
      if (isSpace(c) || isSpecial(c)) break;
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }

  /** The next token, for "got ..." in errors. */
  nextToken(): string {
    const save = this.pos;
    const c = this.peek();
    const w = c >= 0 && isSpecial(c) ? (this.text[this.pos] ?? '') : this.word();
    this.pos = save;
    return w;
  }

  /** One value: bare or quoted. `what` names the context for errors. */
  value(what: string, inList: boolean): string {
    const c = this.peek();
    const start = this.pos;
    if (c === 34 || c === 39) {
      const close = this.text.indexOf(c === 34 ? '"' : "'", start + 1);
      if (close < 0 || close >= this.end) {
        throw new ParseError(`unterminated quoted value: missing closing ${c === 34 ? '"' : "'"}`, start);
      }
      this.pos = close + 1;
      return this.text.slice(start + 1, close);
    }
    if (c < 0) throw new ParseError(`expected a value after ${what}`, start);
    if (isSpecial(c)) {
      const ch = this.text[start] ?? '';
      if (inList && (c === 93 || c === 44)) throw new ParseError(`expected a value after ${what}`, start);
      if (inList && c === 91) throw new ParseError('lists cannot be nested', start);
      if (c === 91) throw new ParseError(`"${what}" takes one value; use "in" for a list like [line1, line2]`, start);
      throw new ParseError(`unexpected ${show(ch)} where a value should be after ${what}; quote values that contain any of = ! < > [ ] ,`, start);
    }
    return this.word();
  }
}

function parseSubject(sc: Scanner): ConstraintSubject {
  const start = sc.pos;
  const name = sc.word();
  if (name === '') {
    const tok = sc.nextToken();
    throw new ParseError(`expected a subject (${ALLOWED_SUBJECTS}), got ${show(tok)}`, start);
  }
  switch (name) {
    case 'node.name':
      return { kind: 'name' };
    case 'node.arch':
      return { kind: 'arch' };
    case 'node.os':
      return { kind: 'os' };
    case 'node.cpu':
      return { kind: 'cpu' };
    case 'node.memory':
      return { kind: 'memory' };
  }
  if (name.startsWith(LABELS_PREFIX)) {
    const key = name.slice(LABELS_PREFIX.length);
    const keyStart = start + LABELS_PREFIX.length;
    if (key === '') throw new ParseError('node.labels needs a key, like node.labels.zone', keyStart);
    if (key.length > MAX_LABEL_KEY) throw new ParseError(`label key is too long (${key.length} characters; at most ${MAX_LABEL_KEY})`, keyStart);
    for (let i = 0; i < key.length; i++) {
      if (!isKeyChar(key.charCodeAt(i))) {
        throw new ParseError(`label key may contain only letters, digits and . _ / -, got ${show(key[i] ?? '')}`, keyStart + i);
      }
    }
    return { kind: 'label', key };
  }
  const hint = Object.hasOwn(SUBJECT_HINTS, name) ? SUBJECT_HINTS[name] : undefined;
  const engine = name.startsWith('engine.labels.') ? `node.labels.${name.slice('engine.labels.'.length)}` : undefined;
  const didYouMean = hint ?? engine;
  throw new ParseError(`unknown subject ${show(name)}${didYouMean ? ` (did you mean ${didYouMean}?)` : ''}: allowed are ${ALLOWED_SUBJECTS}`, start);
}

function parseOp(sc: Scanner, subjectText: string): ConstraintOp {
  const start = sc.pos;
  const expected = `expected an operator (${ALLOWED_OPS}) after ${subjectText}`;
  if (sc.atEnd()) throw new ParseError(expected, start);
  const t = sc.text;
  const c = sc.peek();
  const c2 = start + 1 < sc.end ? t.charCodeAt(start + 1) : -1;
  if (c === 61 /* = */ || c === 33 /* ! */ || c === 60 /* < */ || c === 62 /* > */) {
    const two = c2 === 61 || c2 === 60 || c2 === 62 ? t.slice(start, start + 2) : '';
    if (two === '==' || two === '!=' || two === '<=' || two === '>=') {
      sc.pos += 2;
      return two;
    }
    const hint = OP_HINTS[two] ?? (c === 60 || c === 62 ? undefined : OP_HINTS[t[start] ?? '']);
    if (hint !== undefined) {
      throw new ParseError(`${show(two || (t[start] ?? ''))} is not an operator: use ${hint}`, start);
    }
    sc.pos += 1;
    return c === 60 ? '<' : '>';
  }
  const w = sc.word();
  if (w === 'in' || w === 'exists') return w;
  if (w === 'not') {
    sc.skipSpace();
    const at = sc.pos;
    const w2 = sc.word();
    if (w2 === 'in') return 'not in';
    if (w2 === 'exists') return 'not exists';
    throw new ParseError(`expected "in" or "exists" after "not"`, at);
  }
  sc.pos = start;
  const got = sc.nextToken();
  throw new ParseError(`${expected}, got ${show(got)}`, start);
}

function checkQuantity(subject: ConstraintSubject, v: string, offset: number): void {
  if (subject.kind === 'cpu') {
    const r = parseCpu(v);
    if (!r.ok) throw new ParseError(`node.cpu ${r.error}`, offset);
  } else if (subject.kind === 'memory') {
    const r = parseMemory(v);
    if (!r.ok) throw new ParseError(`node.memory ${r.error}`, offset);
  }
}

function parseAll(text: string): Constraint {
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  if (start === end) throw new ParseError('empty constraint: expected SUBJECT OP VALUE, like node.labels.zone == line1', 0);

  const sc = new Scanner(text, start, end);
  const subject = parseSubject(sc);
  const subjectText = text.slice(start, sc.pos);
  sc.skipSpace();
  const opStart = sc.pos;
  const op = parseOp(sc, subjectText);
  sc.skipSpace();

  const values: string[] = [];
  if (op === 'exists' || op === 'not exists') {
    if (subject.kind !== 'label') throw new ParseError(`"${op}" applies only to node.labels.<key>`, opStart);
  } else if (op === 'in' || op === 'not in') {
    if (sc.peek() !== 91 /* [ */) throw new ParseError(`"${op}" needs a list like [line1, line2]`, sc.pos);
    sc.pos++;
    sc.skipSpace();
    if (sc.peek() === 93 /* ] */) throw new ParseError(`"${op}" needs at least one value, like [line1, line2]`, sc.pos);
    for (;;) {
      sc.skipSpace();
      if (sc.atEnd()) throw new ParseError('unterminated list: missing ]', sc.pos);
      const at = sc.pos;
      const v = sc.value(values.length === 0 ? '[' : ',', true);
      checkQuantity(subject, v, at);
      values.push(v);
      sc.skipSpace();
      const c = sc.peek();
      if (c === 93 /* ] */) {
        sc.pos++;
        break;
      }
      if (c === 44 /* , */) {
        sc.pos++;
        continue;
      }
      if (c < 0) throw new ParseError('unterminated list: missing ]', sc.pos);
      throw new ParseError(`expected , or ] in the list, got ${show(sc.nextToken())}; quote values that contain spaces`, sc.pos);
    }
  } else {
    const at = sc.pos;
    const v = sc.value(op, false);
    checkQuantity(subject, v, at);
    values.push(v);
  }

  sc.skipSpace();
  if (!sc.atEnd()) {
    const got = show(sc.nextToken());
    const message =
      op === 'exists' || op === 'not exists'
        ? `"${op}" takes no value, got ${got}`
        : `unexpected ${got} after the ${op === 'in' || op === 'not in' ? 'list' : 'value'}; quote values that contain spaces`;
    throw new ParseError(message, sc.pos);
  }
  return { text: text.slice(start, end), subject, op, values };
}

/** Total: never throws, bounded work for any input. */
export function parseConstraint(text: string): ConstraintParse {
  if (typeof text !== 'string') return { ok: false, error: 'a constraint must be a string, like node.labels.zone == line1', offset: 0 };
  if (text.length > MAX_TEXT) return { ok: false, error: `constraint is too long (${text.length} characters; at most ${MAX_TEXT})`, offset: 0 };
  try {
    return { ok: true, constraint: parseAll(text) };
  } catch (e) {
    if (e instanceof ParseError) return { ok: false, error: e.error, offset: e.offset };
    // Unreachable by construction; kept so the function stays total.
    return { ok: false, error: 'invalid constraint', offset: 0 };
  }
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

const OK: ConstraintVerdict = Object.freeze({ ok: true });

/**
 * cpu/memory thresholds, parsed once per Constraint object. NaN marks a value
 * that is not a quantity (only possible for hand-built constraints).
 */
const numericValues = new WeakMap<Constraint, readonly number[]>();

function thresholds(c: Constraint, kind: 'cpu' | 'memory'): readonly number[] {
  let nums = numericValues.get(c);
  if (nums === undefined) {
    nums = c.values.map((v) => {
      const r = kind === 'cpu' ? parseCpu(v) : parseMemory(v);
      return r.ok ? r.value : NaN;
    });
    numericValues.set(c, nums);
  }
  return nums;
}

/** A sign (<0, 0, >0) satisfies the operator. `in` is handled by the callers. */
function holds(op: ConstraintOp, sign: number): boolean {
  switch (op) {
    case '==':
      return sign === 0;
    case '!=':
      return sign !== 0;
    case '<':
      return sign < 0;
    case '<=':
      return sign <= 0;
    case '>':
      return sign > 0;
    case '>=':
      return sign >= 0;
    default:
      return false;
  }
}

function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : a === b ? 0 : NaN;
}

function evaluateNumeric(c: Constraint, actual: number, kind: 'cpu' | 'memory'): boolean {
  const nums = thresholds(c, kind);
  if (c.op === 'in' || c.op === 'not in') {
    let found = false;
    for (let i = 0; i < nums.length; i++) {
      if (nums[i] === actual) {
        found = true;
        break;
      }
    }
    return c.op === 'in' ? found : !found;
  }
  if (c.op === 'exists') return true;
  if (c.op === 'not exists') return false;
  const t = nums[0];
  if (t === undefined || t !== t) return false; // not a quantity: never holds
  return holds(c.op, compareNumbers(actual, t));
}

function evaluateString(c: Constraint, actual: string): boolean {
  if (c.op === 'in' || c.op === 'not in') {
    let found = false;
    for (let i = 0; i < c.values.length; i++) {
      if (compareValues(actual, c.values[i] ?? '') === 0) {
        found = true;
        break;
      }
    }
    return c.op === 'in' ? found : !found;
  }
  if (c.op === 'exists') return true;
  if (c.op === 'not exists') return false;
  const v = c.values[0];
  if (v === undefined) return false;
  return holds(c.op, compareValues(actual, v));
}

/** What the node has, short; quoted when empty, long or not a plain token. */
function shown(value: string): string {
  if (value === '' || value.length > 64) return show(value);
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    if (isSpace(ch) || ch === 34 || ch === 39 || ch === 40 || ch === 41) return show(value);
  }
  return value;
}

export function evaluateConstraint(c: Constraint, node: NodeFacts): ConstraintVerdict {
  const s = c.subject;
  switch (s.kind) {
    case 'label': {
      const labels = node.labels;
      const present = Object.hasOwn(labels, s.key);
      const v = present ? labels[s.key] : undefined;
      if (typeof v !== 'string') {
        // Missing: only the negative forms hold, as in Swarm.
        if (c.op === '!=' || c.op === 'not in' || c.op === 'not exists') return OK;
        return { ok: false, detail: `${s.key} is not set` };
      }
      if (c.op === 'exists') return OK;
      if (c.op === 'not exists') return { ok: false, detail: `${s.key} is set` };
      return evaluateString(c, v) ? OK : { ok: false, detail: `${s.key} is ${shown(v)}` };
    }
    case 'cpu':
      return evaluateNumeric(c, node.cpu, 'cpu') ? OK : { ok: false, detail: `cpu is ${formatCpu(node.cpu)}` };
    case 'memory':
      return evaluateNumeric(c, node.memory, 'memory') ? OK : { ok: false, detail: `memory is ${formatMemory(node.memory)}` };
    case 'name':
      return evaluateString(c, node.name) ? OK : { ok: false, detail: `name is ${shown(node.name)}` };
    case 'arch':
      return evaluateString(c, node.arch) ? OK : { ok: false, detail: `arch is ${shown(node.arch)}` };
    case 'os':
      return evaluateString(c, node.os) ? OK : { ok: false, detail: `os is ${shown(node.os)}` };
    default:
      return { ok: false, detail: 'unknown subject' };
  }
}
