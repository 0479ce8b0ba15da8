// Linux capability names, as Docker's CapAdd takes them (capabilities(7)).
// Written with or without `CAP_`, any case; held upper case without the prefix.

import { closest } from './validate.js';

export const CAPABILITIES: readonly string[] = [
  'AUDIT_CONTROL',
  'AUDIT_READ',
  'AUDIT_WRITE',
  'BLOCK_SUSPEND',
  'BPF',
  'CHECKPOINT_RESTORE',
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'IPC_LOCK',
  'IPC_OWNER',
  'KILL',
  'LEASE',
  'LINUX_IMMUTABLE',
  'MAC_ADMIN',
  'MAC_OVERRIDE',
  'MKNOD',
  'NET_ADMIN',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_RAW',
  'PERFMON',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_CHROOT',
  'SYS_MODULE',
  'SYS_NICE',
  'SYS_PACCT',
  'SYS_PTRACE',
  'SYS_RAWIO',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'SYSLOG',
  'WAKE_ALARM',
];

const KNOWN: ReadonlySet<string> = new Set([...CAPABILITIES, 'ALL']);

/** `cap_net_admin` → `NET_ADMIN`; an unknown name is an error with the nearest known one. */
export function parseCapability(text: string): { ok: true; value: string } | { ok: false; error: string } {
  const value = text.toUpperCase().replace(/^CAP_/, '');
  if (KNOWN.has(value)) return { ok: true, value };
  const near = closest(value, [...KNOWN]);
  return { ok: false, error: `${JSON.stringify(text)} is not a Linux capability${near ? `, did you mean "${near}"?` : ' (see capabilities(7); write NET_ADMIN or CAP_NET_ADMIN)'}` };
}

/** Sorted, unique. */
export function capabilitySet(names: readonly string[]): string[] {
  return [...new Set(names)].sort();
}
