// Bounded parallelism for engine calls: a small daemon on a fog node should
// not get every request of a big plan at once.

/** Runs `fn` over `items` with at most `limit` in flight; resolves when all are done. */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
