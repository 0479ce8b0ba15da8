// Text → YAML documents with positions. YAML 1.2 core schema only, every
// document kept with a way back from a path (spec.ports[0]) to line:col.
// Hostile input is refused here, each refusal by a limit in LIMITS.

import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node as YamlNode, type YAMLError } from 'yaml';
import type { LoadError, SourcePos } from '../api/types.js';
import { loadError } from './errors.js';
import { LIMITS } from './limits.js';

export type Path = readonly (string | number)[];

/** One parsed document: its plain value and the way back to positions. */
export interface SourceDoc {
  file: string;
  value: unknown;
  /** Where the document's content starts. */
  start: SourcePos;
  /** The position of the value at `path` (or of its key), or of the nearest ancestor that exists. */
  pos(path: Path, key?: boolean): SourcePos;
  /** The position `offset` characters into the string scalar at `path` (for constraint errors). */
  posIn(path: Path, offset: number): SourcePos;
  /** The scalar's text as written (`1.10` stays `1.10`), when it is a plain scalar. */
  rawText(path: Path): string | undefined;
}

export interface ParsedText {
  docs: SourceDoc[];
  errors: LoadError[];
}

const PARSE_OPTIONS = {
  version: '1.2',
  keepSourceTokens: true,
  uniqueKeys: true,
  stringKeys: true,
  strict: true,
  prettyErrors: false,
  resolveKnownTags: false,
  merge: false,
  logLevel: 'silent',
} as const;

export function parseText(file: string, text: string): ParsedText {
  const at = (offset: number) => offsetPos(file, text, offset);
  const errors: LoadError[] = [];
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > LIMITS.maxFileBytes) {
    return { docs: [], errors: [loadError(at(0), 'file-too-large', tooLarge(bytes))] };
  }
  const nul = text.indexOf('\0');
  if (nul >= 0) return { docs: [], errors: [loadError(at(nul), 'not-text', 'not a text file: it has a NUL byte')] };
  const deep = prescanDepth(text, 2 * LIMITS.maxDepth + 2);
  if (deep >= 0) return { docs: [], errors: [loadError(at(deep), 'too-deep', tooDeep())] };

  const lineCounter = new LineCounter();
  const parsed = Array.from(parseAllDocuments(text, { ...PARSE_OPTIONS, lineCounter }) as Iterable<Document.Parsed>);
  const lc = (offset: number): SourcePos => ({ file, ...lineCounter.linePos(Math.min(offset, text.length)) });
  if (parsed.length > LIMITS.maxDocumentsPerFile) {
    const extra = parsed[LIMITS.maxDocumentsPerFile]!;
    return {
      docs: [],
      errors: [loadError(lc(extra.range[0]), 'too-many-documents', `more than ${LIMITS.maxDocumentsPerFile} documents in one file (LIMITS.maxDocumentsPerFile); split it into several files`)],
    };
  }
  // A syntax error anywhere makes the whole file suspect: none of its objects is used.
  const fatal = parsed.flatMap((d) => d.errors.filter((e) => e.code !== 'DUPLICATE_KEY'));
  if (fatal.length > 0) return { docs: [], errors: fatal.map((e) => yamlError(lc, e)) };

  const docs: SourceDoc[] = [];
  let previousEnd = 0;
  for (const doc of parsed) {
    const docErrors = checkDocument(doc, text, previousEnd, lc);
    previousEnd = doc.range[2];
    if (docErrors.length > 0) {
      errors.push(...docErrors);
      continue;
    }
    if (isEmpty(doc)) continue; // a trailing ---, or comments only
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: LIMITS.maxAliases });
    } catch {
      errors.push(loadError(lc(firstAlias(doc) ?? doc.range[0]), 'alias-limit', tooManyAliases()));
      continue;
    }
    docs.push(sourceDoc(file, doc, value, lc));
  }
  return { docs, errors };
}

export function tooLarge(bytes: number): string {
  return `file is ${bytes} bytes, larger than the limit of ${LIMITS.maxFileBytes} bytes (LIMITS.maxFileBytes)`;
}
function tooDeep(): string {
  return `mappings and lists nested deeper than ${LIMITS.maxDepth} levels (LIMITS.maxDepth)`;
}
function tooManyAliases(): string {
  return `more than ${LIMITS.maxAliases} alias expansions in one document (LIMITS.maxAliases): refusing a possible alias bomb`;
}

function offsetPos(file: string, text: string, offset: number): SourcePos {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { file, line, col: offset - lineStart + 1 };
}

function yamlError(lc: (offset: number) => SourcePos, e: YAMLError): LoadError {
  const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const code = e.code === 'DUPLICATE_KEY' ? 'duplicate-key' : 'yaml-syntax';
  const text = code === 'duplicate-key' ? 'duplicate key: a key may appear only once in a mapping' : `YAML syntax error: ${message}`;
  return loadError(lc(e.pos[0]), code, text);
}

/** Errors that drop one document: a %YAML directive other than 1.2, duplicate keys, warnings, depth, shape. */
function checkDocument(doc: Document.Parsed, text: string, from: number, lc: (offset: number) => SourcePos): LoadError[] {
  if (doc.directives.yaml.explicit && doc.directives.yaml.version !== '1.2') {
    const at = text.slice(from, doc.range[0]).search(/^%YAML/m);
    return [loadError(lc(at >= 0 ? from + at : doc.range[0]), 'yaml-version', `%YAML ${doc.directives.yaml.version} is not supported: manifests are YAML 1.2 (core schema); remove the directive`)];
  }
  const errors = [...doc.errors, ...doc.warnings].map((e) => yamlError(lc, e));
  if (errors.length > 0) return errors;
  const deep = tooDeepNode(doc.contents);
  if (deep) return [loadError(lc(deep.range?.[0] ?? doc.range[0]), 'too-deep', tooDeep())];
  const c = doc.contents;
  if (c !== null && !isMap(c) && !isEmpty(doc)) {
    return [loadError(lc(c.range?.[0] ?? doc.range[0]), 'not-a-mapping', `a manifest must be a mapping with apiVersion, kind, metadata and spec, got ${isSeq(c) ? 'a list' : 'a scalar'}`)];
  }
  return [];
}

/** No content at all (not even `~`): the empty node yaml makes for `---` with nothing after it. */
function isEmpty(doc: Document.Parsed): boolean {
  const c = doc.contents;
  return c === null || (isScalar(c) && c.value === null && c.range[0] === c.range[1]);
}

/** The first node deeper than LIMITS.maxDepth, found without recursion. */
function tooDeepNode(root: YamlNode | null): YamlNode | undefined {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (isMap(node) || isSeq(node)) {
      if (depth > LIMITS.maxDepth) return node;
      for (const item of node.items) {
        if (isPair(item)) stack.push([item.key, depth + 1], [item.value, depth + 1]);
        else stack.push([item, depth + 1]);
      }
    }
  }
  return undefined;
}

function firstAlias(doc: Document.Parsed): number | undefined {
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isAlias(node)) return node.range?.[0];
    if (isMap(node) || isSeq(node)) {
      for (const item of [...node.items].reverse()) {
        if (isPair(item)) stack.push(item.value, item.key);
        else stack.push(item);
      }
    }
  }
  return undefined;
}

function sourceDoc(file: string, doc: Document.Parsed, value: unknown, lc: (offset: number) => SourcePos): SourceDoc {
  const start = lc(doc.contents?.range?.[0] ?? doc.range[0]);
  // Walk as far along the path as the document goes; the last node found is where the error is.
  const find = (path: Path): { node?: YamlNode; key?: YamlNode; complete: boolean } => {
    let node: unknown = doc.contents;
    let key: YamlNode | undefined;
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(doc);
      let next: unknown;
      let nextKey: YamlNode | undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        next = pair?.value ?? (pair ? pair.key : undefined);
        nextKey = pair?.key as YamlNode | undefined;
      } else if (isSeq(node)) {
        next = node.items[Number(seg)];
      }
      if (next === undefined || next === null) return { node: node as YamlNode, key, complete: false };
      node = next;
      key = nextKey;
    }
    return { node: node as YamlNode, key, complete: true };
  };
  const offsetOf = (n: YamlNode | undefined): number | undefined => n?.range?.[0];
  return {
    file,
    value,
    start,
    pos(path, wantKey = false) {
      const found = find(path);
      const offset = (wantKey && found.complete ? offsetOf(found.key) : undefined) ?? offsetOf(found.node);
      return offset === undefined ? start : lc(offset);
    },
    posIn(path, offset) {
      const { node } = find(path);
      if (!isScalar(node) || !node.range) return start;
      const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
      return lc(node.range[0] + quoted + offset);
    },
    rawText(path) {
      const { node, complete } = find(path);
      return complete && isScalar(node) && node.type === 'PLAIN' ? node.source : undefined;
    },
  };
}

/**
 * An estimate of how deep the text nests, made without parsing, so that the
 * YAML parser (which recurses) never sees a 5,000-deep `[[[[...`. It counts
 * flow brackets outside quotes, comments and plain scalars, plus block
 * indentation levels; it may undercount a block level but never overcounts
 * by more than one, so the caller gives it twice the real limit. Returns the
 * offset where the bound is passed, or -1.
 */
export function prescanDepth(text: string, bound: number): number {
  const indents: number[] = [];
  let flow = 0;
  let quote = '';
  let blockScalarIndent = -1;
  let lineStart = 0;
  while (lineStart <= text.length) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    let i = lineStart;
    while (i < lineEnd && text[i] === ' ') i++;
    const indent = i - lineStart;
    const blank = i === lineEnd || text[i] === '#' || text[i] === '\r';
    let valueStart = false;
    if (quote === '' && flow === 0) {
      if (blockScalarIndent >= 0 && (blank || indent > blockScalarIndent)) {
        lineStart = lineEnd + 1;
        continue;
      }
      blockScalarIndent = -1;
      if (text.startsWith('---', lineStart) || text.startsWith('...', lineStart) || text[lineStart] === '%') {
        indents.length = 0;
        i = text[lineStart] === '%' ? lineEnd : lineStart + 3;
        valueStart = true;
      } else if (!blank) {
        while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
        indents.push(indent);
        // Compact nested sequences on one line: `- - - x`.
        while (text[i] === '-' && (text[i + 1] === ' ' || i + 1 === lineEnd)) {
          i++;
          while (text[i] === ' ') i++;
          indents.push(i - lineStart);
        }
        if (indents.length > bound) return i;
        valueStart = true;
      }
    }
    for (; i < lineEnd; i++) {
      const ch = text[i]!;
      if (quote !== '') {
        if (quote === '"' && ch === '\\') i++;
        else if (ch === quote) {
          if (quote === "'" && text[i + 1] === "'") i++;
          else quote = '';
        }
        continue;
      }
      if (ch === ' ' || ch === '\t') continue;
      if (ch === '#' && (i === lineStart || /\s/.test(text[i - 1]!))) break;
      if (flow > 0 || valueStart) {
        if (ch === '[' || ch === '{') {
          flow++;
          if (flow + indents.length > bound) return i;
          continue;
        }
        if (ch === ']' || ch === '}') {
          flow = Math.max(0, flow - 1);
          continue;
        }
        if (ch === '"' || ch === "'") {
          quote = ch;
          continue;
        }
      }
      if (flow === 0 && valueStart) {
        if (ch === '|' || ch === '>') {
          blockScalarIndent = indent;
          break;
        }
        if (ch === '&' || ch === '!') {
          while (i < lineEnd && text[i] !== ' ') i++;
          continue;
        }
        if (ch === '-' && text[i + 1] === ' ') continue;
        valueStart = false;
      }
      if (flow === 0 && (ch === ':' || ch === '?') && (i + 1 === lineEnd || text[i + 1] === ' ' || text[i + 1] === '\r')) {
        valueStart = true;
      }
    }
    lineStart = lineEnd + 1;
  }
  return -1;
}
