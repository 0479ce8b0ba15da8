// The dashboard over HTTP: its files (read from ./ui beside this module, so
// `fogctl` finds them wherever it is installed; nothing from the internet)
// and the live status as server-sent events. Read-only like the rest of the
// status API.
//
//   GET /                      the page (for a browser; JSON clients still get /v1/status there)
//   GET /ui/app.js, /ui/app.css
//   GET /v1/dashboard          the dashboard view (view.ts) as JSON
//   GET /v1/dashboard?watch=1  the same as text/event-stream, one `status` event per change
//   GET /v1/status?watch=1     the status document as text/event-stream
//
// A stream gets the current state at once, then one `status` event after
// each controller pass, at most one per 500 ms, and a `heartbeat` event every
// 15 s: the line stays open through proxies, and the page can tell a quiet
// controller from a lost one.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusDoc } from '../doc.js';
import { dashboardView } from './view.js';

const UI = new URL('./ui/', import.meta.url);
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ui/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};
/** Only what the controller serves: no inline code, no other origin. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const SECURITY_HEADERS = { 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' };

export const MIN_PUSH_INTERVAL_MS = 500;
export const HEARTBEAT_MS = 15_000;

const cache = new Map<string, Buffer>();
function asset(file: string): Buffer {
  let body = cache.get(file);
  if (body === undefined) {
    body = readFileSync(new URL(file, UI));
    cache.set(file, body);
  }
  return body;
}

/** Whether a request for `/` wants the page rather than the JSON document that `/` has always served. */
export function wantsPage(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('text/html');
}

/** Serves a dashboard file if `pathname` names one. */
export function serveAsset(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
  const f = FILES[pathname];
  if (f === undefined || (pathname === '/' && !wantsPage(req))) return false;
  const body = asset(f.file);
  res.writeHead(200, { 'content-type': f.type, 'content-length': body.length, 'cache-control': 'no-cache', ...SECURITY_HEADERS });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

/**
 * On a TCP listener, a page of another site could reach loopback through DNS
 * rebinding; its requests then name that site in Host. Only loopback names pass.
 */
export function loopbackHost(req: IncomingMessage): boolean {
  const host = (req.headers.host ?? '').toLowerCase();
  return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);
}

/** Answers with a server-sent event stream (for HEAD: only its headers); false when nothing more is to be written. */
export function openEventStream(req: IncomingMessage, res: ServerResponse): boolean {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  if (req.method === 'HEAD') {
    res.end();
    return false;
  }
  res.socket?.setNoDelay(true);
  res.write('retry: 2000\n\n');
  return true;
}

export interface StatusSource {
  doc(): StatusDoc;
  /** Called after every pass; returns the unsubscribe. Without it, streams look every second. */
  onStatus?(cb: () => void): () => void;
}

type Render = (doc: StatusDoc) => unknown;

/** The live streams of one listener: each client is told after each pass, at most every 500 ms. */
export class StatusStreams {
  private readonly clients = new Map<ServerResponse, Render>();
  private lastPush = 0;
  private pending?: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

  constructor(private readonly source: StatusSource) {
    if (source.onStatus) this.unsubscribe = source.onStatus(() => this.changed());
    else {
      const poll = setInterval(() => this.changed(), 1_000);
      poll.unref();
      this.unsubscribe = () => clearInterval(poll);
    }
    this.heartbeat = setInterval(() => {
      for (const res of this.clients.keys()) res.write('event: heartbeat\ndata: {}\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Serves the JSON or stream routes; false when `url` is not one of them. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const render: Render | undefined = url.pathname === '/v1/dashboard' ? dashboardView : url.pathname === '/v1/status' ? (d) => d : undefined;
    if (render === undefined) return false;
    const watch = url.searchParams.get('watch');
    if (!(watch === '1' || watch === 'true' || (req.headers.accept ?? '').includes('text/event-stream'))) {
      if (url.pathname === '/v1/status') return false;
      const body = JSON.stringify(render(this.source.doc()));
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    }
    if (!openEventStream(req, res)) return true;
    res.write(event(render(this.source.doc())));
    this.clients.set(res, render);
    const drop = () => this.clients.delete(res);
    res.on('close', drop);
    res.on('error', drop);
    return true;
  }

  /** The status may have changed: push now, or as soon as 500 ms have passed since the last push. */
  changed(): void {
    if (this.clients.size === 0 || this.pending) return;
    const wait = this.lastPush + MIN_PUSH_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.push();
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.push();
    }, wait);
    this.pending.unref();
  }

  private push(): void {
    this.lastPush = Date.now();
    if (this.clients.size === 0) return;
    const doc = this.source.doc();
    const made = new Map<Render, string>();
    for (const [res, render] of this.clients) {
      let text = made.get(render);
      if (text === undefined) made.set(render, (text = event(render(doc))));
      res.write(text);
    }
  }

  close(): void {
    this.unsubscribe();
    clearInterval(this.heartbeat);
    if (this.pending) clearTimeout(this.pending);
    for (const res of this.clients.keys()) res.end();
    this.clients.clear();
  }
}

function event(value: unknown): string {
  return `event: status\ndata: ${JSON.stringify(value)}\n\n`;
}
