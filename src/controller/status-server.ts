// The status API: read-only JSON over a unix socket (0600) in the state
// directory, or over loopback. GET /v1/status is the whole document;
// ?watch=1 streams it (server-sent events). A browser asking for / gets the
// dashboard (status/dashboard/).

import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { StatusDoc } from '../status/doc.js';
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

/** `onStatus`: told after each controller pass, so that streams push at once (without it they look every second). */
export async function serveStatus(listen: Listen, doc: () => StatusDoc, onStatus?: (cb: () => void) => () => void, routes: readonly Route[] = []): Promise<Server> {
  const streams = new StatusStreams(onStatus ? { doc, onStatus } : { doc });
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'the status API is read-only' }));
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
