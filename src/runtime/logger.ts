// One root logger; each component takes a child with a fixed `component`
// binding. JSON (for journald/Loki) when stderr is not a terminal or with
// --log-format json; on a terminal one readable line per event
// (pino-pretty's single-line mode). Env values never reach a log line:
// actions are logged by name only, and the redact paths are a second net.

import { pino, type Logger } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The --log-level and --log-format values (or FOG_LOG_LEVEL / FOG_LOG_FORMAT), checked: the error names the flag and the values it takes. */
export function checkLogFlags(level: string | undefined, format: string | undefined): string | undefined {
  const lv = level ?? env('FOG_LOG_LEVEL');
  const fm = format ?? env('FOG_LOG_FORMAT');
  const from = (flag: string, envName: string, given: string | undefined) => (given !== undefined ? flag : envName);
  if (lv !== undefined && !(LOG_LEVELS as readonly string[]).includes(lv)) return `${from('--log-level', 'FOG_LOG_LEVEL', level)} ${lv}: must be one of ${LOG_LEVELS.join(', ')}`;
  if (fm !== undefined && !(LOG_FORMATS as readonly string[]).includes(fm)) return `${from('--log-format', 'FOG_LOG_FORMAT', format)} ${fm}: must be one of ${LOG_FORMATS.join(', ')}`;
  return undefined;
}

/** An environment variable; set but empty counts as not set. */
const env = (name: string) => process.env[name] || undefined;

/** pretty: false/true forces JSON/readable; undefined follows `format`, then FOG_LOG_FORMAT, then whether stderr is a terminal. */
export function rootLogger(opts: { level?: string; pretty?: boolean; format?: string; destination?: number } = {}): Logger {
  const level = opts.level ?? env('FOG_LOG_LEVEL') ?? 'info';
  const format = opts.format ?? env('FOG_LOG_FORMAT') ?? 'auto';
  const readable = opts.pretty ?? (format === 'pretty' || (format !== 'json' && process.stderr.isTTY === true));
  const base = { level, base: { pid: process.pid }, redact: { paths: ['*.env', '*.*.env', 'env', '*.value'], censor: '[redacted]' } };
  if (readable) {
    // In this thread, synchronously (no transport worker: its own heap was ~10 MB of RSS).
    // Loaded only for a terminal: a service logging JSON never pays for it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
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
