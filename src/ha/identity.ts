// Who a controller is: host, pid and start time. Carried by every container
// it creates (label fog.controller) and by its lease key in etcd, so that a
// person (and another controller) can tell who acted.

import { hostname } from 'node:os';

export interface ControllerIdentity {
  host: string;
  pid: number;
  /** Wall-clock ms when the process started acting as a controller. */
  start: number;
  /** The desired folder, to tell a person which controller this is. */
  desired: string;
}

export function identityOf(desired: string, start: number): ControllerIdentity {
  return { host: hostname(), pid: process.pid, start, desired };
}

/** `host/pid/start` (ISO time): the label value, unique per process. */
export function identityText(id: Pick<ControllerIdentity, 'host' | 'pid' | 'start'>): string {
  return `${id.host}/${id.pid}/${new Date(id.start).toISOString()}`;
}

/**
 * Whether the controller named by a label value may still be running: false
 * only for a process of this host that is gone (so a create that a SIGKILLed
 * predecessor had in flight is not taken for a rival). Another host's, or a
 * pid that exists: maybe.
 */
export function mayBeAlive(identity: string): boolean {
  const m = /^(.*)\/(\d+)\/[^/]+$/.exec(identity);
  if (!m || m[1] !== hostname()) return true;
  try {
    process.kill(Number(m[2]), 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
