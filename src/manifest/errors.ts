// Located loader errors. Every error carries file, line and column (1-based)
// and a stable code; the text is made here, at the edge.

import type { LoadError, SourcePos } from '../api/types.js';

/** Every code the loader emits, with what it means (docs/manifest.md lists them). */
export const ERROR_CODES = {
  'file-too-large': 'the file is larger than LIMITS.maxFileBytes',
  'too-many-files': 'more than LIMITS.maxFiles manifest files under the paths given',
  'too-many-documents': 'more than LIMITS.maxDocumentsPerFile documents in one file',
  'too-deep': 'mappings and lists nested deeper than LIMITS.maxDepth',
  'alias-limit': 'more than LIMITS.maxAliases alias expansions in one document',
  'not-text': 'the file has NUL bytes or is not valid UTF-8',
  unreadable: 'a file or folder could not be read (permissions, missing, I/O error)',
  'symlink-loop': 'a symbolic link points back into a folder being walked, or to itself',
  'yaml-syntax': 'the YAML could not be parsed',
  'yaml-version': 'a %YAML directive other than 1.2',
  'duplicate-key': 'the same key twice in one mapping',
  'not-a-mapping': 'a document that is a list or a scalar',
  schema: 'a field has the wrong type or value, a required field is missing, or a field is unknown',
  'invalid-value': 'a value that has the right type but does not parse (quantity, duration, constraint, port, volume)',
  'duplicate-object': 'two objects of one kind with one name',
  'unknown-reference': 'dependsOn, affinity or antiAffinity names a service that is not defined or not valid',
  'dependency-cycle': 'services that depend on each other in a cycle',
  'duplicate-port': 'one host port used twice in one service',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function loadError(at: SourcePos, code: ErrorCode, message: string, object?: string): LoadError {
  const e: LoadError = { file: at.file, line: at.line, col: at.col, code, message };
  if (object !== undefined) e.object = object;
  return e;
}

/** `file:line:col: message`, the form compilers use, so editors can jump to it. */
export function formatError(e: LoadError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.message}`;
}

/** A value as shown in a message: strings quoted, long ones cut. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = typeof value === 'string' ? JSON.stringify(value) : typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : typeof value;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Path segments as a person reads them: spec.ports[0].host, metadata.labels["example.com/zone"]. */
export function showPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out === '' ? 'the manifest' : out;
}
