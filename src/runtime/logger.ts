// One root logger; each component takes a child with a fixed `component`
// binding. JSON by default (for journald/Loki), readable on a terminal.
// Env values never reach a log line: actions are logged by name only.

import { pino, type Logger } from 'pino';

export type { Logger };

export function rootLogger(opts: { level?: string; pretty?: boolean; destination?: number } = {}): Logger {
  const level = opts.level ?? process.env.FOG_LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? (process.stderr.isTTY === true && process.env.FOG_LOG_FORMAT !== 'json');
  const base = { level, base: { pid: process.pid }, redact: { paths: ['*.env', '*.*.env', 'env', '*.value'], censor: '[redacted]' } };
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } });
  }
  return pino(base, pino.destination({ fd: opts.destination ?? 2, sync: true }));
}
