// When did an engine stop answering? Grace-period tests must count from that
// moment, not from before the stop command: hack/fleet.sh stop first kills the
// node's containers and then waits for dockerd to exit, which takes seconds,
// and a clock started before it would let a controller that ignores the grace
// period pass. The engine is pinged directly (not through fog) from the
// moment the stop is issued until a ping fails.

import Docker from 'dockerode';

/** Time between pings, ms. */
export const PING_EVERY_MS = 50;

export interface Outage {
  /** Date.now() when the last answered ping was sent: the engine still answered after this. */
  lastAnsweredAt: number;
  /** Date.now() when the first unanswered ping was sent: the engine no longer answered from here on. */
  stoppedAnsweringAt: number;
}

/**
 * Runs `stop` and pings the engine at `socket` meanwhile, every PING_EVERY_MS,
 * until a ping fails (refused, reset or no answer within `pingTimeoutMs`).
 * The engine stopped answering between `lastAnsweredAt` and
 * `stoppedAnsweringAt`, which are at most one ping interval plus one ping
 * round trip apart. Waits for `stop` to finish too.
 */
export async function stopAndWatch(socket: string, stop: () => Promise<void>, opts: { pingTimeoutMs?: number; deadlineMs?: number } = {}): Promise<Outage> {
  const docker = new Docker({ socketPath: socket, timeout: opts.pingTimeoutMs ?? 1_000 });
  const deadline = Date.now() + (opts.deadlineMs ?? 60_000);
  let lastAnsweredAt = Date.now();
  const stopping = stop();
  // A rejection of `stop` is reported when awaited below, not as unhandled meanwhile.
  stopping.catch(() => undefined);
  for (;;) {
    const sentAt = Date.now();
    const answered = await docker.ping().then(
      () => true,
      () => false,
    );
    if (!answered) {
      await stopping;
      return { lastAnsweredAt, stoppedAnsweringAt: sentAt };
    }
    lastAnsweredAt = sentAt;
    if (Date.now() > deadline) {
      await stopping;
      throw new Error(`the engine at ${socket} still answers ${opts.deadlineMs ?? 60_000} ms after the stop was issued`);
    }
    await new Promise((r) => setTimeout(r, PING_EVERY_MS));
  }
}
