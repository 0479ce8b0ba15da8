// Watches the desired folder and calls back once per burst of changes.
// The folder itself may be a symlink that GitOps sync swaps atomically, so
// its parent is watched (one level) for that swap as well.

import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import { basename, dirname, resolve } from 'node:path';

export interface Watch {
  close(): Promise<void>;
}

export function watchDesired(dir: string, debounceMs: number, onChange: () => void): Watch {
  const abs = resolve(dir);
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, debounceMs);
  };
  const inner: FSWatcher = chokidarWatch(abs, {
    ignoreInitial: true,
    followSymlinks: true,
    ignored: (p: string) => basename(p).startsWith('.') && p !== abs,
  });
  const name = basename(abs);
  const outer: FSWatcher = chokidarWatch(dirname(abs), {
    ignoreInitial: true,
    depth: 0,
    followSymlinks: false,
    ignored: (p: string) => p !== dirname(abs) && basename(p) !== name,
  });
  for (const w of [inner, outer]) {
    w.on('all', fire);
    w.on('error', fire);
  }
  return {
    async close() {
      if (timer) clearTimeout(timer);
      await Promise.all([inner.close(), outer.close()]);
    },
  };
}
