// Free space of an engine's data root (DockerRootDir from /info). The Docker
// API does not report it; for an engine on a unix socket of this host the
// data root is a local path, so statfs answers. Over TCP it cannot be known.

import { statfs } from 'node:fs/promises';
import type { DiskSpace } from '../api/types.js';

/** The data root's space, or undefined when it cannot be known (not a unix socket, no root reported, statfs failed). */
export async function dataRootSpace(endpoint: string, root: string | undefined): Promise<DiskSpace | undefined> {
  if (!endpoint.startsWith('unix://') || root === undefined || root === '') return undefined;
  try {
    const s = await statfs(root);
    // bavail: what an unprivileged writer may still use, as df shows it.
    return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
  } catch {
    return undefined;
  }
}

/**
 * The previous reading while the new one is within a small margin of it
 * (1/200 of the total, at least 16Mi): the node's observation stays the same
 * object, so a pass with nothing else new is still skipped.
 */
export function settledSpace(prev: DiskSpace | undefined, next: DiskSpace | undefined): DiskSpace | undefined {
  if (prev === undefined || next === undefined || prev.total !== next.total) return next;
  return Math.abs(prev.free - next.free) < Math.max(16 * 2 ** 20, next.total / 200) ? prev : next;
}
