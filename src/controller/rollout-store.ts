// The rollout book on disk: <state-dir>/rollouts.json (mode 0600), so that
// revisions, failed revisions, pins and pauses survive a controller restart.
// Written whole to a temporary file and renamed (a crash leaves the old or
// the new book, never half of one). Revisions keep the full container shape,
// env values included: the file stays in the 0700 state directory and is
// never shown; the status document carries only image, hash and source.

import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RolloutBook, ServiceRollout } from '../api/types.js';
import type { Logger } from '../runtime/logger.js';

export const ROLLOUTS_FILE = 'rollouts.json';

interface BookFile {
  apiVersion: 'fog/v1';
  kind: 'RolloutBook';
  services: ServiceRollout[];
}

export class RolloutStore {
  private readonly path: string;
  private last?: RolloutBook;

  constructor(
    stateDir: string,
    private readonly log: Logger,
  ) {
    this.path = join(stateDir, ROLLOUTS_FILE);
  }

  /** The saved book; an unreadable file is reported and treated as empty (revisions start again, nothing running is touched). */
  load(): RolloutBook {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ file: this.path, err }, 'cannot read the rollout book; starting with no revision history');
      return (this.last = new Map());
    }
    try {
      const doc = JSON.parse(text) as Partial<BookFile>;
      if (doc.kind !== 'RolloutBook' || !Array.isArray(doc.services)) throw new Error('not a fog/v1 RolloutBook');
      const book = new Map<string, ServiceRollout>();
      for (const s of doc.services) {
        // A rollout in progress gets a fresh progress deadline: monotonic times mean nothing across processes.
        const { startedAt: _gone, ...rest } = s;
        book.set(s.service, rest);
      }
      return (this.last = book);
    } catch (err) {
      this.log.warn({ file: this.path, err: (err as Error).message }, 'the rollout book is damaged; starting with no revision history (the damaged file is overwritten on the next change)');
      return (this.last = new Map());
    }
  }

  /** Writes the book when it is not the one written last. */
  save(book: RolloutBook): void {
    if (book === this.last) return;
    const doc: BookFile = { apiVersion: 'fog/v1', kind: 'RolloutBook', services: [...book.values()].map(({ startedAt: _s, ...rest }) => rest) };
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(doc, null, 1)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
    this.last = book;
  }
}
