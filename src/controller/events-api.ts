// The controller's events over the status API, as `kubectl get events` reads
// them: GET /v1/events is the list (oldest first), GET /v1/events?watch=1
// streams it as server-sent events: the list at once, then after each pass
// the events that are new or repeated since (a repeat carries its count),
// and a comment line every 15 s so a quiet controller is told from a lost one.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventView } from '../status/doc.js';
import { openEventStream } from '../status/dashboard/serve.js';

export interface EventList {
  apiVersion: 'fog/v1';
  kind: 'EventList';
  /** Monotonic and wall time when the list was made: an event's age is clock.now - time. */
  clock: { now: number; wall: number };
  events: EventView[];
}

export interface EventSource {
  events(): EventList;
  /** Called after every pass; returns the unsubscribe. */
  onStatus(cb: () => void): () => void;
}

const HEARTBEAT_MS = 15_000;

export class EventStreams {
  /** Each client with the newest event time it was sent. */
  private readonly clients = new Map<ServerResponse, number>();
  private readonly unsubscribe: () => void;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly source: EventSource) {
    this.unsubscribe = source.onStatus(() => this.push());
    this.heartbeat = setInterval(() => {
      for (const res of this.clients.keys()) res.write(': heartbeat\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Serves /v1/events; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    if (url.pathname !== '/v1/events') return false;
    const list = this.source.events();
    const watch = url.searchParams.get('watch');
    if (!(watch === '1' || watch === 'true')) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(list));
      return true;
    }
    if (!openEventStream(req, res)) return true;
    res.write(frame(list));
    this.clients.set(res, newest(list.events));
    const drop = () => this.clients.delete(res);
    res.on('close', drop);
    res.on('error', drop);
    return true;
  }

  private push(): void {
    if (this.clients.size === 0) return;
    const list = this.source.events();
    for (const [res, sent] of this.clients) {
      const fresh = list.events.filter((e) => e.time > sent);
      if (fresh.length === 0) continue;
      res.write(frame({ ...list, events: fresh }));
      this.clients.set(res, newest(fresh));
    }
  }

  close(): void {
    this.unsubscribe();
    clearInterval(this.heartbeat);
    for (const res of this.clients.keys()) res.end();
    this.clients.clear();
  }
}

const newest = (events: readonly EventView[]) => events.reduce((t, e) => Math.max(t, e.time), Number.NEGATIVE_INFINITY);
const frame = (list: EventList) => `event: events\ndata: ${JSON.stringify(list)}\n\n`;
