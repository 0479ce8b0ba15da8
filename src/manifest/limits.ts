// Hard limits on what the loader accepts. Each protects the controller from a
// hostile or broken input (a huge file, an alias bomb, a 5,000-deep list) and
// each refusal names the limit, so it is never a silent truncation.

export const LIMITS = {
  /** Bytes per file; checked with stat before the file is read. */
  maxFileBytes: 1024 * 1024,
  /** YAML alias expansions per document (yaml's `maxAliasCount`). */
  maxAliases: 100,
  /** YAML documents (`---`) per file. */
  maxDocumentsPerFile: 100,
  /** Nesting of mappings and lists in one document (the document itself is depth 1). */
  maxDepth: 32,
  /** Manifest files (*.yaml, *.yml) found under all the paths given. */
  maxFiles: 10_000,
} as const;

export type Limits = typeof LIMITS;
