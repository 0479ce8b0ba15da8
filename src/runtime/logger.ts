// One root logger; each component takes a child with a fixed `component`
// binding. JSON (for journald/Loki) when stderr is not a terminal or with
// --log-format json; on a terminal one readable line per event
// (pino-pretty's single-line mode). Env values never reach a log line:
// actions are logged by name only, and the redact paths are a second net.

import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** A --log-level or --log-format value, checked: the error names the flag and the values it takes. */
export function checkLogFlags(level: string | undefined, format: string | undefined): string | undefined {
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) return `--log-level ${level}: must be one of ${LOG_LEVELS.join(', ')}`;
  if (format !== undefined && !(LOG_FORMATS as readonly string[]).includes(format)) return `--log-format ${format}: must be one of ${LOG_FORMATS.join(', ')}`;
  return undefined;
}

/** pretty: false/true forces JSON/readable; undefined follows `format`, then FOG_LOG_FORMAT, then whether stderr is a terminal. */
export function rootLogger(opts: { level?: string; pretty?: boolean; format?: string; destination?: number } = {}): Logger {
  const level = opts.level ?? process.env.FOG_LOG_LEVEL ?? 'info';
  const format = opts.format ?? process.env.FOG_LOG_FORMAT ?? 'auto';
  const readable = opts.pretty ?? (format === 'pretty' || (format !== 'json' && process.stderr.isTTY === true));
  const base = { level, base: { pid: process.pid }, redact: { paths: ['*.env', '*.*.env', 'env', '*.value'], censor: '[redacted]' } };
  if (readable) {
    // In this thread, synchronously (no transport worker: its own heap was ~10 MB of RSS).
    const stream = pretty({
      destination: opts.destination ?? 2,
      sync: true,
      singleLine: true,
      colorize: process.stderr.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,component',
      messageFormat: '{if component}{component}: {end}{msg}',
    });
    return pino(base, stream);
  }
  return pino(base, pino.destination({ fd: opts.destination ?? 2, sync: true }));
}
