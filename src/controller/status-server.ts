// The status API: read-only JSON over a unix socket (0600) in the state
// directory, or over loopback. GET /v1/status is the whole document;
// ?watch=1 streams it (server-sent events). A browser asking for / gets the
// dashboard (status/dashboard/).

import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import type { Command, CommandResult } from '../reconcile/index.js';
import type { StatusDoc } from '../status/doc.js';
import type { PruneReport } from './image-gc.js';
import { loopbackHost, serveAsset, StatusStreams } from '../status/dashboard/serve.js';

export type Listen = { socket: string } | { host: string; port: number };

/** More read-only endpoints on the same listener (metrics, events): each answers its own paths and returns true, or false to pass. */
export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;

export function parseListen(value: string): Listen {
  const m = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):(\d{1,5})$/.exec(value);
  if (m) return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  if (/^[\d.]+:\d+$/.test(value) || /^[^/]*:\d+$/.test(value)) {
    throw new Error(`--listen ${value}: the status API only listens on loopback (127.0.0.1:PORT) or a unix socket path`);
  }
  return { socket: value };
}

/** The controller's commands (`fogctl rollout undo|pause|resume`): served on the unix socket only. */
export type ControlHandler = (service: string, cmd: Command) => CommandResult;

const CONTROL_PATH = /^\/v1\/rollouts\/([a-z0-9][a-z0-9-]*)\/(undo|pause|resume|restart)$/;

/** `fogctl images prune`: POST /v1/images/prune {node?, dryRun?}, on the unix socket only. */
export type PruneHandler = (req: { node?: string; dryRun: boolean }) => Promise<{ ok: true; report: PruneReport } | { ok: false; message: string }>;
const PRUNE_PATH = '/v1/images/prune';

/**
 * `onStatus`: told after each controller pass, so that streams push at once
 * (without it they look every second). `routes`: more endpoints beside the
 * status document (metrics, events). `control`: POST
 * /v1/rollouts/SERVICE/{undo,pause,resume}, answered only on a unix socket
 * (whose 0600 mode is the access control); a TCP listener refuses it.
 */
export async function serveStatus(
  listen: Listen,
  doc: () => StatusDoc,
  onStatus?: (cb: () => void) => () => void,
  routes: readonly Route[] = [],
  control?: ControlHandler,
  prune?: PruneHandler,
): Promise<Server> {
  const streams = new StatusStreams(onStatus ? { doc, onStatus } : { doc });
  const server = createServer((req, res) => {
    if (req.method === 'POST' && new URL(req.url ?? '/', 'http://local').pathname === PRUNE_PATH) {
      handlePrune(req, res, 'socket' in listen ? prune : undefined);
      return;
    }
    if (req.method === 'POST' && CONTROL_PATH.test(new URL(req.url ?? '/', 'http://local').pathname)) {
      handleControl(req, res, 'socket' in listen ? control : undefined);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'the status API is read-only; commands are POST /v1/rollouts/SERVICE/undo|pause|resume|restart and POST /v1/images/prune, on the unix socket' }));
      return;
    }
    const url = new URL(req.url ?? '/', 'http://local');
    if (!('socket' in listen) && !loopbackHost(req)) {
      res.writeHead(421, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'the status API answers only to loopback host names (localhost, 127.0.0.1)' }));
      return;
    }
    if (serveAsset(req, res, url.pathname) || streams.handle(req, res, url)) return;
    if (routes.some((route) => route(req, res, url))) return;
    if (url.pathname === '/v1/status' || url.pathname === '/') {
      const body = JSON.stringify(doc());
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
      return;
    }
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: `no such endpoint ${url.pathname}; try /v1/status` }));
  });
  // A socket someone still answers on is theirs: never unlinked from under a running controller.
  if ('socket' in listen && (await answers(listen.socket))) {
    throw new Error(`--listen ${listen.socket}: another process (a running fogctl run?) answers on this socket; stop it, or listen elsewhere`);
  }
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    if ('socket' in listen) {
      mkdirSync(dirname(listen.socket), { recursive: true, mode: 0o700 });
      rmSync(listen.socket, { force: true });
      // Created with a umask so the socket is never world-connectable, even briefly.
      const old = process.umask(0o177);
      server.listen(listen.socket, () => {
        process.umask(old);
        chmodSync(listen.socket, 0o600);
        resolveListen();
      });
    } else {
      server.listen(listen.port, listen.host, () => resolveListen());
    }
  });
  // close() waits for every open connection, and a stream never ends by itself: end them first.
  const close = server.close.bind(server);
  server.close = (cb) => {
    streams.close();
    return close(cb);
  };
  return server;
}

/** A JSON reply. */
function replier(res: ServerResponse): (code: number, body: unknown) => void {
  return (code, body) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
}

/** A command's JSON body (at most 4 KiB read; empty means {}), or a 400 that shows `example`. */
function readCommand<T>(req: IncomingMessage, res: ServerResponse, example: string, then: (body: T) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= 4096) chunks.push(c);
  });
  req.on('end', () => {
    let body = {} as T;
    try {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text !== '') body = JSON.parse(text) as T;
    } catch {
      replier(res)(400, { error: `the body must be JSON, e.g. ${example}` });
      return;
    }
    then(body);
  });
}

function handleControl(req: IncomingMessage, res: ServerResponse, control: ControlHandler | undefined): void {
  const reply = replier(res);
  if (control === undefined) {
    reply(403, { error: "rollout commands are accepted only on the controller's unix socket (mode 0600), not on a TCP listener: use --server <state-dir>/fogctl.sock" });
    return;
  }
  const [, service, kind] = CONTROL_PATH.exec(new URL(req.url ?? '/', 'http://local').pathname)!;
  readCommand<{ toRevision?: unknown }>(req, res, '{"toRevision": 2}', (body) => {
    const to = body.toRevision;
    if (to !== undefined && (typeof to !== 'number' || !Number.isInteger(to) || to < 1)) {
      reply(400, { error: `toRevision ${JSON.stringify(to)} must be a revision number (1 or more)` });
      return;
    }
    const cmd: Command = kind === 'undo' ? (to !== undefined ? { kind: 'undo', toRevision: to } : { kind: 'undo' }) : { kind: kind as 'pause' | 'resume' | 'restart' };
    const r = control(service!, cmd);
    if (r.ok) reply(200, { ok: true, service, command: kind, phase: r.entry.phase, ...(r.entry.pinned !== undefined ? { pinned: r.entry.pinned } : {}) });
    else reply(409, { error: r.message });
  });
}

function handlePrune(req: IncomingMessage, res: ServerResponse, prune: PruneHandler | undefined): void {
  const reply = replier(res);
  if (prune === undefined) {
    reply(403, { error: "images prune is accepted only on the controller's unix socket (mode 0600), not on a TCP listener: use --server <state-dir>/fogctl.sock" });
    return;
  }
  readCommand<{ node?: unknown; dryRun?: unknown }>(req, res, '{"node": "press-1", "dryRun": true}', (body) => {
    if ((body.node !== undefined && typeof body.node !== 'string') || (body.dryRun !== undefined && typeof body.dryRun !== 'boolean')) {
      reply(400, { error: 'node must be a node name and dryRun true or false' });
      return;
    }
    prune({ ...(body.node !== undefined ? { node: body.node } : {}), dryRun: body.dryRun === true }).then(
      (r) => (r.ok ? reply(200, r.report) : reply(409, { error: r.message })),
      (err: unknown) => reply(500, { error: (err as Error).message }),
    );
  });
}

function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ path: socket });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}
