// How fogctl finds and reads a running controller's status. Never hangs:
// every request has a timeout.

import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { StatusDoc } from '../status/doc.js';
import { parseListen } from './status-server.js';

export const DEFAULT_STATE_DIR = '.fog';
export const SOCKET_NAME = 'fogctl.sock';

/** --server flag, then FOG_SERVER, then ./.fog/fogctl.sock (where `fogctl run` listens by default). */
export function resolveServer(flag?: string): string {
  return flag ?? process.env.FOG_SERVER ?? join(process.env.FOG_STATE_DIR ?? DEFAULT_STATE_DIR, SOCKET_NAME);
}

export type StatusFetch = { ok: true; doc: StatusDoc } | { ok: false; reason: string };

/** Where to send a request to the controller at `server`, or why there is nowhere. */
function endpoint(server: string): { ok: true; target: { socketPath: string } | { host: string; port: number } } | { ok: false; reason: string } {
  let listen;
  try {
    listen = parseListen(server);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  if ('socket' in listen && !existsSync(listen.socket)) {
    return { ok: false, reason: `no controller is listening at ${listen.socket} (start one with \`fogctl run\`, or point --server / FOG_SERVER at it)` };
  }
  return { ok: true, target: 'socket' in listen ? { socketPath: listen.socket } : { host: listen.host, port: listen.port } };
}

export async function fetchStatus(server: string, timeoutMs = 3_000): Promise<StatusFetch> {
  const at = endpoint(server);
  if (!at.ok) return at;
  const target = at.target;
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/v1/status', method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ ok: true, doc: JSON.parse(Buffer.concat(chunks).toString('utf8')) as StatusDoc });
        } catch {
          resolve({ ok: false, reason: `the controller at ${server} answered with something that is not a status document` });
        }
      });
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, reason: `the controller at ${server} did not answer within ${timeoutMs} ms` });
    });
    req.on('error', (err) => resolve({ ok: false, reason: `cannot reach the controller at ${server}: ${err.message} (is \`fogctl run\` running?)` }));
    req.end();
  });
}

export type ControlReply = { ok: true; body: Record<string, unknown> } | { ok: false; reason: string };

/** POST a rollout command to the controller's unix socket. */
export async function postCommand(server: string, path: string, body: unknown, timeoutMs = 5_000): Promise<ControlReply> {
  const at = endpoint(server);
  if (!at.ok) return at;
  const target = at.target;
  const payload = JSON.stringify(body ?? {});
  return new Promise((resolve) => {
    const req = request({ ...target, path, method: 'POST', timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          resolve({ ok: false, reason: `the controller at ${server} answered ${res.statusCode} with something that is not JSON` });
          return;
        }
        if (res.statusCode === 200) resolve({ ok: true, body: parsed });
        else resolve({ ok: false, reason: typeof parsed.error === 'string' ? parsed.error : `the controller answered ${res.statusCode}` });
      });
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, reason: `the controller at ${server} did not answer within ${timeoutMs} ms` });
    });
    req.on('error', (err) => resolve({ ok: false, reason: `cannot reach the controller at ${server}: ${err.message} (is \`fogctl run\` running?)` }));
    req.end(payload);
  });
}
