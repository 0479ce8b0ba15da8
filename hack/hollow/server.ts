// The Docker Engine API surface of one hollow node, on its own unix socket:
// node:http over the model in engine.ts, with per-call latency and faults.
// Paths are accepted with and without the `/v1.NN` prefix, as dockerd does.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { rmSync } from 'node:fs';
import type { HollowEngine } from './engine.js';
import { ApiError, ZERO_TIME, dockerTime, imageId, type EngineEvent, type HollowContainer } from './engine.js';

export const API_VERSION = '1.41';
export const SERVER_VERSION = '20.10.24';

/**
 * What is wrong with a node. `down`: the socket is closed (connection
 * refused). `hung`: connections are accepted and never answered, open event
 * streams go silent and the events they would have carried are lost (a
 * SIGSTOPped dockerd); `up` releases the held calls.
 * `blackhole`: a pulled cable between the controller and a node that runs on.
 * Nothing crosses in either direction: connections are accepted (a unix
 * socket cannot drop a SYN; the client sees the same silence), no request is
 * answered, on new or already-open connections, and open event streams go
 * silent while the engine's containers live on. Lifting it (`up` or
 * `errorRate`) is the cable plugged back in: what was held arrives in order,
 * as TCP would deliver it after a short partition: held calls are answered,
 * the events of the silent time reach streams that are still open. A client
 * that gave up and closed its connection gets nothing.
 * `errorRate`: that fraction of ordinary calls answers 500.
 */
export type Fault = 'up' | 'down' | 'hung' | 'blackhole' | { errorRate: number };

/** Faults under which nothing is answered. */
const silent = (f: Fault) => f === 'hung' || f === 'blackhole';

export interface HollowServerOptions {
  /** Delay before each answer (and before the headers of a stream), ms. */
  latencyMs: number;
}

export class HollowServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly streams = new Set<ServerResponse>();
  private held: Array<() => void> = [];
  /** Event lines written during a black hole, per open stream, delivered when it is lifted. */
  private readonly backlog = new Map<ServerResponse, string[]>();
  private fault: Fault = 'up';
  /** Calls answered, by `METHOD /path-pattern`: what the controller costs a node. */
  readonly calls = new Map<string, number>();

  constructor(
    readonly engine: HollowEngine,
    readonly socket: string,
    private readonly opts: HollowServerOptions,
  ) {}

  get name(): string {
    return this.engine.config.name;
  }

  async listen(): Promise<void> {
    if (this.server) return;
    rmSync(this.socket, { force: true });
    const server = createServer({ keepAlive: true }, (req, res) => this.admit(req, res));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socket, () => resolve());
    });
    this.server = server;
  }

  /** Closes the socket and every connection on it (a dockerd that died). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    this.streams.clear();
    this.backlog.clear();
    this.held = [];
    await closed;
    rmSync(this.socket, { force: true });
  }

  async setFault(fault: Fault): Promise<void> {
    const was = this.fault;
    this.fault = fault;
    if (fault === 'down') return this.close();
    if (was === 'down') await this.listen();
    if (!silent(fault)) {
      for (const [res, lines] of this.backlog) if (!res.destroyed && !res.writableEnded) res.write(lines.join(''));
      this.backlog.clear();
      const held = this.held;
      this.held = [];
      for (const go of held) go();
    }
  }

  private admit(req: IncomingMessage, res: ServerResponse): void {
    const go = () => {
      if (this.opts.latencyMs > 0) setTimeout(() => this.handle(req, res), this.opts.latencyMs);
      else this.handle(req, res);
    };
    if (silent(this.fault)) this.held.push(go);
    else go();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (silent(this.fault)) {
      this.held.push(() => this.handle(req, res));
      return;
    }
    if (res.destroyed) return;
    const url = new URL(req.url ?? '/', 'http://hollow');
    const path = url.pathname.replace(/^\/v1\.\d+(?=\/)/, '');
    const method = req.method ?? 'GET';
    const fault = this.fault;
    const stream = path === '/events';
    if (typeof fault === 'object' && !stream && path !== '/_ping' && Math.random() < fault.errorRate) {
      drain(req, () => send(res, 500, { message: 'hollow: injected engine error' }));
      return;
    }
    drain(req, (body) => {
      try {
        this.route(method, path, url.searchParams, body, res);
      } catch (err) {
        if (err instanceof ApiError) send(res, err.status, { message: err.message });
        else send(res, 500, { message: (err as Error).message });
      }
    });
  }

  private count(key: string): void {
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
  }

  private route(method: string, path: string, q: URLSearchParams, body: string, res: ServerResponse): void {
    const e = this.engine;
    let m: RegExpExecArray | null;
    if (path === '/_ping' && (method === 'GET' || method === 'HEAD')) {
      this.count('GET /_ping');
      res.writeHead(200, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' });
      res.end(method === 'HEAD' ? undefined : 'OK');
      return;
    }
    if (method === 'GET' && path === '/version') return this.ok(res, 'GET /version', versionDoc(e));
    if (method === 'GET' && path === '/info') return this.ok(res, 'GET /info', infoDoc(e));
    if (method === 'GET' && path === '/containers/json') {
      const all = truthy(q.get('all'));
      const filters = parseFilters(q.get('filters'));
      const list = [...e.containers.values()].filter((c) => (all || c.status === 'running') && matchContainer(c, filters)).sort((a, b) => b.created - a.created);
      return this.ok(res, 'GET /containers/json', list.map(summary));
    }
    if (method === 'POST' && path === '/containers/create') {
      const c = e.create(q.get('name') ?? undefined, parseBody(body));
      this.count('POST /containers/create');
      return send(res, 201, { Id: c.id, Warnings: [] });
    }
    if ((m = /^\/containers\/([^/]+)\/json$/.exec(path)) && method === 'GET') return this.ok(res, 'GET /containers/{id}/json', inspect(e.find(decodeURIComponent(m[1]!))));
    if ((m = /^\/containers\/([^/]+)\/(start|stop|kill|restart)$/.exec(path)) && method === 'POST') {
      const id = decodeURIComponent(m[1]!);
      const op = m[2]!;
      this.count(`POST /containers/{id}/${op}`);
      if (op === 'start') return void (e.start(id) === 'already' ? none(res, 304) : none(res, 204));
      if (op === 'stop') return void (e.stop(id) === 'already' ? none(res, 304) : none(res, 204));
      if (op === 'kill') {
        e.kill(id, q.get('signal') ?? 'SIGKILL');
        return none(res, 204);
      }
      e.stop(id);
      e.start(id);
      return none(res, 204);
    }
    if ((m = /^\/containers\/([^/]+)$/.exec(path)) && method === 'DELETE') {
      e.remove(decodeURIComponent(m[1]!), truthy(q.get('force')));
      this.count('DELETE /containers/{id}');
      return none(res, 204);
    }
    if (method === 'GET' && path === '/events') return this.events(q, res);
    if (method === 'GET' && path === '/images/json') {
      return this.ok(
        res,
        'GET /images/json',
        [...e.images]
          .sort()
          .map((ref) => ({ Id: imageId(ref), RepoTags: [ref], RepoDigests: [], ParentId: '', Created: 0, Size: 1_000_000, SharedSize: -1, VirtualSize: 1_000_000, Labels: null, Containers: -1 })),
      );
    }
    if ((m = /^\/images\/(.+)\/json$/.exec(path)) && method === 'GET') {
      const ref = decodeURIComponent(m[1]!);
      const found = [...e.images].find((i) => i === ref || i === `${ref}:latest` || imageId(i) === ref);
      if (!found) throw new ApiError(404, `No such image: ${ref}`);
      return this.ok(res, 'GET /images/{name}/json', {
        Id: imageId(found),
        RepoTags: [found],
        RepoDigests: [],
        Architecture: 'amd64',
        Os: 'linux',
        Size: 1_000_000,
        Config: { Cmd: ['sh'], Labels: null },
      });
    }
    if (method === 'POST' && path === '/images/create') {
      const repo = q.get('fromImage') ?? '';
      const tag = q.get('tag') ?? '';
      e.pull(repo, tag);
      this.count('POST /images/create');
      res.writeHead(200, { ...HEADERS, 'Content-Type': 'application/json' });
      res.write(`${JSON.stringify({ status: `Pulling from ${repo}`, id: tag || 'latest' })}\r\n`);
      res.end(`${JSON.stringify({ status: `Status: Downloaded newer image for ${repo}:${tag || 'latest'}` })}\r\n`);
      return;
    }
    throw new ApiError(404, 'page not found');
  }

  private ok(res: ServerResponse, key: string, doc: unknown): void {
    this.count(key);
    send(res, 200, doc);
  }

  /**
   * `GET /events`, as dockerd 20.10 answers it: the events it still holds
   * from `since` first, then new ones as they happen; with `until`, only
   * those up to it, and the answer ends at `until` (at once when it is past).
   * Times are Docker's `seconds[.nanoseconds]`.
   */
  private events(q: URLSearchParams, res: ServerResponse): void {
    this.count('GET /events');
    const filters = parseFilters(q.get('filters'));
    const since = eventTimeMs(q.get('since'));
    const until = eventTimeMs(q.get('until'));
    if (since !== undefined && until !== undefined && until < since) {
      send(res, 400, { message: `\`since\` time (${q.get('since')}) cannot be after \`until\` time (${q.get('until')})` });
      return;
    }
    res.writeHead(200, { ...HEADERS, 'Content-Type': 'application/json' });
    res.flushHeaders();
    const write = (line: string) => {
      if (res.destroyed || res.writableEnded) return;
      // Behind a black hole the node goes on; its lines wait in the "network" (TCP's send buffer).
      if (this.fault !== 'blackhole') res.write(line);
      else if (this.backlog.has(res)) this.backlog.get(res)!.push(line);
      else this.backlog.set(res, [line]);
    };
    // A pipelined poll is handled here as soon as it is read (node:http), before the one ahead of it ends; dockerd starts it only then. So `since` bounds the live events too.
    const inRange = (ev: EngineEvent) => (until === undefined || ev.timeNano / 1e6 <= until) && (since === undefined || ev.timeNano / 1e6 >= since) && matchEvent(ev, filters);
    if (since !== undefined) for (const ev of this.engine.recent) if (ev.timeNano / 1e6 >= since && inRange(ev)) write(`${JSON.stringify(ev)}\n`);
    if (until !== undefined && until <= Date.now()) {
      res.end();
      return;
    }
    this.streams.add(res);
    const off = this.engine.onEvent((ev) => {
      // A hung daemon sends nothing; the events it would have sent are lost, as with a real stream that is cut.
      if (this.fault === 'hung' || !inRange(ev)) return;
      write(`${JSON.stringify(ev)}\n`);
    });
    // dockerd ends the answer at `until`; a hung or cut-off one only once it runs (or is reached) again.
    // An answer still queued behind another (pipelined) gets no 'close' of its own when the connection goes.
    const socket = res.req.socket;
    const done = () => {
      socket?.off('close', done);
      clearTimeout(timer);
      off();
      this.streams.delete(res);
      this.backlog.delete(res);
    };
    const end = () => {
      if (res.destroyed || res.writableEnded) return;
      if (silent(this.fault)) this.held.push(end);
      else {
        done();
        res.end();
      }
    };
    const timer = until === undefined ? undefined : setTimeout(end, until - Date.now());
    res.on('close', done);
    socket?.once('close', done);
  }
}

/** Docker's `seconds[.nanoseconds]` as ms since the epoch; undefined when absent. */
function eventTimeMs(text: string | null): number | undefined {
  if (text === null || text === '') return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text);
  if (!m) throw new ApiError(400, `invalid timestamp '${text}'`);
  return Number(m[1]) * 1000 + Number((m[2] ?? '').padEnd(9, '0')) / 1e6;
}

const HEADERS = { 'Api-Version': API_VERSION, 'Docker-Experimental': 'false', Ostype: 'linux', Server: `Docker/${SERVER_VERSION} (linux)` };

function send(res: ServerResponse, status: number, doc: unknown): void {
  if (res.destroyed) return;
  const text = `${JSON.stringify(doc)}\n`;
  res.writeHead(status, { ...HEADERS, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function none(res: ServerResponse, status: 204 | 304): void {
  if (res.destroyed) return;
  res.writeHead(status, HEADERS);
  res.end();
}

function drain(req: IncomingMessage, then: (body: string) => void): void {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (body += c));
  req.on('end', () => then(body));
}

function parseBody(body: string): Record<string, unknown> {
  if (!body.trim()) return {};
  try {
    const v = JSON.parse(body) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // answered below, as dockerd does
  }
  throw new ApiError(400, 'invalid JSON body');
}

const truthy = (v: string | null) => v !== null && v !== '' && v !== '0' && v !== 'false';

type Filters = Map<string, string[]>;

/** Docker's filter syntax: `{"label":["a=b"]}` or the older `{"label":{"a=b":true}}`. */
export function parseFilters(text: string | null): Filters {
  const out: Filters = new Map();
  if (!text) return out;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ApiError(400, `invalid filter '${text}'`);
  }
  for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    out.set(k, Array.isArray(v) ? v.map(String) : Object.keys(v ?? {}));
  }
  return out;
}

function matchLabels(labels: Readonly<Record<string, string>>, wanted: readonly string[] | undefined): boolean {
  return (wanted ?? []).every((f) => {
    const eq = f.indexOf('=');
    return eq < 0 ? f in labels : labels[f.slice(0, eq)] === f.slice(eq + 1);
  });
}

function matchContainer(c: HollowContainer, f: Filters): boolean {
  const any = (key: string, test: (v: string) => boolean) => !f.has(key) || f.get(key)!.some(test);
  return matchLabels(c.config.Labels, f.get('label')) && any('name', (v) => new RegExp(v).test(`/${c.name}`)) && any('id', (v) => c.id.startsWith(v)) && any('status', (v) => v === c.status);
}

function matchEvent(ev: EngineEvent, f: Filters): boolean {
  const any = (key: string, test: (v: string) => boolean) => !f.has(key) || f.get(key)!.some(test);
  return (
    any('type', (v) => v === ev.Type) &&
    any('event', (v) => v === ev.Action || ev.Action.startsWith(`${v}:`)) &&
    any('container', (v) => ev.Actor.ID.startsWith(v) || ev.Actor.Attributes.name === v) &&
    matchLabels(ev.Actor.Attributes, f.get('label'))
  );
}

// --- documents ---------------------------------------------------------------

function versionDoc(e: HollowEngine) {
  return {
    Platform: { Name: '' },
    Components: [{ Name: 'Engine', Version: SERVER_VERSION, Details: { ApiVersion: API_VERSION, Arch: 'amd64', Experimental: 'false', GoVersion: 'go1.19', MinAPIVersion: '1.12', Os: 'linux' } }],
    Version: SERVER_VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: '1.12',
    GitCommit: 'hollow',
    GoVersion: 'go1.19',
    Os: 'linux',
    Arch: 'amd64',
    KernelVersion: `hollow-${e.config.name}`,
    BuildTime: '2023-01-01T00:00:00.000000000+00:00',
  };
}

function infoDoc(e: HollowEngine) {
  const cs = [...e.containers.values()];
  return {
    ID: `HOLLOW:${e.config.name}`,
    Containers: cs.length,
    ContainersRunning: cs.filter((c) => c.status === 'running').length,
    ContainersPaused: cs.filter((c) => c.status === 'paused').length,
    ContainersStopped: cs.filter((c) => c.status !== 'running' && c.status !== 'paused').length,
    Images: e.images.size,
    Driver: 'hollow',
    Name: e.config.name,
    Labels: Object.entries(e.config.labels).map(([k, v]) => `${k}=${v}`),
    NCPU: e.config.ncpu,
    MemTotal: e.config.memTotal,
    Architecture: e.config.architecture ?? 'x86_64',
    OSType: 'linux',
    OperatingSystem: 'Hollow Linux',
    KernelVersion: 'hollow',
    ServerVersion: SERVER_VERSION,
    SystemTime: dockerTime(),
    DockerRootDir: '/var/lib/docker',
    Swarm: { LocalNodeState: 'inactive' },
    Warnings: null,
  };
}

function statusText(c: HollowContainer): string {
  const ago = (iso?: string) => {
    const s = iso ? Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000)) : 0;
    return s < 1 ? 'Less than a second' : s === 1 ? '1 second' : `${s} seconds`;
  };
  switch (c.status) {
    case 'running':
      return `Up ${ago(c.startedAt)}${c.health ? ` (${c.health === 'starting' ? 'health: starting' : c.health})` : ''}`;
    case 'restarting':
      return `Restarting (${c.exitCode}) ${ago(c.finishedAt)} ago`;
    case 'exited':
      return `Exited (${c.exitCode}) ${ago(c.finishedAt)} ago`;
    default:
      return c.status === 'created' ? 'Created' : c.status;
  }
}

function command(c: HollowContainer): string {
  const cmd = c.config.Cmd as string[] | null | undefined;
  return (cmd ?? ['sh']).join(' ');
}

function summary(c: HollowContainer) {
  const hc = c.hostConfig;
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: c.imageId,
    Command: command(c),
    Created: Math.floor(c.created / 1000),
    Ports: [],
    Labels: c.config.Labels,
    State: c.status,
    Status: statusText(c),
    HostConfig: { NetworkMode: hc.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  };
}

function inspect(c: HollowContainer) {
  const cmd = (c.config.Cmd as string[] | null | undefined) ?? ['sh'];
  return {
    Id: c.id,
    Created: new Date(c.created).toISOString().replace('Z', '000000Z'),
    Path: cmd[0] ?? 'sh',
    Args: cmd.slice(1),
    State: {
      Status: c.status,
      Running: c.status === 'running' || c.status === 'paused' || c.status === 'restarting',
      Paused: c.status === 'paused',
      Restarting: c.status === 'restarting',
      OOMKilled: false,
      Dead: c.status === 'dead',
      Pid: c.status === 'running' ? 4242 : 0,
      ExitCode: c.exitCode,
      Error: c.error,
      StartedAt: c.startedAt ?? ZERO_TIME,
      FinishedAt: c.finishedAt ?? ZERO_TIME,
      ...(c.health ? { Health: { Status: c.health, FailingStreak: 0, Log: [] } } : {}),
    },
    Image: c.imageId,
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: 'hollow',
    Platform: 'linux',
    HostConfig: c.hostConfig,
    Mounts: [],
    Config: c.config,
    NetworkSettings: { Ports: {}, Networks: {} },
  };
}
