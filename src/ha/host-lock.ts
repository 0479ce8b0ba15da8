// One `fogctl run` per state directory on a host. The lock is an abstract
// unix socket (Linux) named after the state directory's real path: binding
// it is exclusive, and the kernel releases it when the process ends however
// it ends, so a SIGKILL leaves no stale lock (as flock(2) would, which node
// does not offer). The holder answers a connection with who it is.

import { createHash } from 'node:crypto';
import { createConnection, createServer, type Server } from 'node:net';
import { realpathSync } from 'node:fs';

export interface LockHolder {
  pid: number;
  /** Wall-clock ms. */
  start: number;
  desired: string;
  cluster: string;
}

export type HostLock = { ok: true; release(): Promise<void> } | { ok: false; holder?: LockHolder; message: string };

export function lockName(stateDir: string): string {
  return `\0fogctl-run-${createHash('sha256').update(realpathSync(stateDir)).digest('hex').slice(0, 40)}`;
}

export async function acquireHostLock(stateDir: string, me: LockHolder): Promise<HostLock> {
  const name = lockName(stateDir);
  const server = createServer((sock) => {
    sock.on('error', () => undefined);
    sock.end(JSON.stringify(me));
  });
  const bound = await new Promise<true | NodeJS.ErrnoException>((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ path: name, exclusive: true }, () => resolve(true));
  });
  if (bound === true) {
    // Never keeps the process alive by itself.
    server.unref();
    return { ok: true, release: () => close(server) };
  }
  if (bound.code !== 'EADDRINUSE') return { ok: false, message: `cannot take the lock of state directory ${stateDir}: ${bound.message}` };
  const holder = await askHolder(name);
  const who = holder ? `pid ${holder.pid}, started ${new Date(holder.start).toISOString()}, desired folder ${holder.desired}, cluster ${holder.cluster}` : 'a process that did not say who it is';
  return {
    ok: false,
    ...(holder ? { holder } : {}),
    message: `another fogctl run already controls state directory ${stateDir} (${who}): two controllers of one cluster would undo each other's work. Stop that one first, or give this one its own --state-dir (and --cluster, if it manages other nodes)`,
  };
}

function close(server: Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}

function askHolder(name: string): Promise<LockHolder | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const sock = createConnection({ path: name });
    const timer = setTimeout(() => sock.destroy(), 1_000);
    sock.on('data', (d: Buffer) => (text += d.toString()));
    sock.on('error', () => resolve(undefined));
    sock.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(text) as LockHolder);
      } catch {
        resolve(undefined);
      }
    });
  });
}
