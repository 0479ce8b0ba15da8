// One client per fog node's Docker Engine. Every Docker API call of the
// project lives here, each with a deadline: a hung (SIGSTOPped) daemon accepts
// connections and never answers, and dockerode waits forever by default.
//
// The modem's own `timeout` is an idle timeout that would also cut the
// long-lived /events stream, so deadlines are per call, as AbortSignals.

import { readFileSync } from 'node:fs';
import Docker from 'dockerode';
import type DockerModem from 'docker-modem';
import type { IncomingMessage } from 'node:http';
import type { FogNode } from '../api/types.js';

/**
 * Why a call failed. `config`: the endpoint cannot be used as written (never
 * retried). `timeout`: no answer within the deadline. `connection`: refused,
 * reset, socket missing. `http`: the engine answered with an error status.
 */
export type EngineErrorKind = 'config' | 'timeout' | 'connection' | 'http';

export class EngineError extends Error {
  constructor(
    readonly kind: EngineErrorKind,
    message: string,
    /** HTTP status for `http`; the errno code (ECONNREFUSED, ...) for `connection`. */
    readonly status?: number,
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export interface EngineOptions {
  /** Deadline of every ordinary call, ms. */
  callTimeoutMs: number;
  /** Deadline of an image pull, ms. Default 5 minutes. */
  pullTimeoutMs?: number;
}

/** The container fields of GET /containers/json that we read. */
export interface EngineContainerSummary {
  Id: string;
  Names?: string[];
  Image: string;
  Labels?: Record<string, string> | null;
  State?: string;
}

/** The fields of GET /containers/{id}/json that we read. */
export interface EngineContainer {
  Id: string;
  Name: string;
  State: {
    Status: string;
    Running: boolean;
    ExitCode: number;
    StartedAt: string;
    FinishedAt: string;
    Health?: { Status: string } | null;
  };
  RestartCount: number;
  Config: { Image: string; Labels?: Record<string, string> | null; ExposedPorts?: Record<string, unknown> | null };
  HostConfig: {
    NanoCpus?: number;
    Memory?: number;
    NetworkMode?: string;
    PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
  };
}

export interface EngineInfo {
  Name: string;
  Architecture: string;
  OSType: string;
  NCPU: number;
  MemTotal: number;
  Labels?: string[] | null;
  ServerVersion?: string;
  /** The engine's wall clock, RFC 3339 with nanoseconds. */
  SystemTime: string;
}

export interface EngineImage {
  RepoTags?: string[] | null;
}

/** One message of GET /events. */
export interface EngineEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

export interface EventStream {
  close(): void;
}

type Dial = Pick<DockerModem, 'dial'>;

interface CallSpec {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean>;
  body?: unknown;
  /** Status codes that mean success. */
  ok: readonly number[];
  timeoutMs?: number;
  stream?: boolean;
  signal?: AbortSignal;
}

/** How the modem is reached: parsed from a Node's spec, TLS files read. */
export function dockerOptions(node: Pick<FogNode, 'metadata' | 'spec'>): Docker.DockerOptions {
  const { endpoint, tls, insecure } = node.spec;
  const name = node.metadata.name;
  if (endpoint.startsWith('unix://')) {
    const socketPath = endpoint.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw new EngineError('config', `node ${name}: endpoint ${endpoint} must be unix:///absolute/path`);
    return { socketPath };
  }
  if (!endpoint.startsWith('tcp://')) {
    throw new EngineError('config', `node ${name}: endpoint ${endpoint} is neither unix:// nor tcp://`);
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new EngineError('config', `node ${name}: endpoint ${endpoint} is not a valid tcp:// address`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (tls) {
    let files: { ca: Buffer; cert: Buffer; key: Buffer };
    try {
      files = { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
    } catch (err) {
      throw new EngineError('config', `node ${name}: cannot read TLS files: ${(err as Error).message}`);
    }
    // protocol set explicitly: the modem would silently pick http if a file were missing.
    return { host, port: url.port || 2376, protocol: 'https', ...files };
  }
  if (!insecure) {
    throw new EngineError(
      'config',
      `node ${name}: ${endpoint} has no tls (ca, cert, key); refusing plain tcp to a Docker Engine (anyone on the network could run containers). Add spec.tls, or spec.insecure: true to allow it`,
    );
  }
  return { host, port: url.port || 2375, protocol: 'http' };
}

/** A Docker Engine client with a deadline on every call. */
export class Engine {
  private constructor(
    readonly node: string,
    private readonly modem: Dial,
    private readonly opts: EngineOptions,
  ) {}

  /** A client for `node` reached with dockerode's connection options. */
  static connect(node: string, options: Docker.DockerOptions, opts: EngineOptions): Engine {
    return new Engine(node, new Docker(options).modem as Dial, opts);
  }

  /** The client for a Node manifest; throws EngineError('config') for an endpoint it must not use. */
  static forNode(node: FogNode, opts: EngineOptions): Engine {
    return Engine.connect(node.metadata.name, dockerOptions(node), opts);
  }

  /** The same connection with other deadlines. */
  withOptions(opts: Partial<EngineOptions>): Engine {
    return new Engine(this.node, this.modem, { ...this.opts, ...opts });
  }

  get callTimeoutMs(): number {
    return this.opts.callTimeoutMs;
  }

  async ping(): Promise<void> {
    await this.call({ method: 'GET', path: '/_ping', ok: [200] });
  }

  info(): Promise<EngineInfo> {
    return this.call({ method: 'GET', path: '/info', ok: [200] });
  }

  listContainers(): Promise<EngineContainerSummary[]> {
    return this.call({ method: 'GET', path: '/containers/json', query: { all: true }, ok: [200] });
  }

  listImages(): Promise<EngineImage[]> {
    return this.call({ method: 'GET', path: '/images/json', ok: [200] });
  }

  /** undefined when there is no such container. */
  async inspectContainer(idOrName: string): Promise<EngineContainer | undefined> {
    try {
      return await this.call({ method: 'GET', path: `/containers/${encodeURIComponent(idOrName)}/json`, ok: [200] });
    } catch (err) {
      if (err instanceof EngineError && err.status === 404) return undefined;
      throw err;
    }
  }

  async createContainer(name: string, body: object): Promise<string> {
    const res = await this.call<{ Id: string }>({ method: 'POST', path: '/containers/create', query: { name }, body, ok: [200, 201] });
    return res.Id;
  }

  /** 'already' when it was running (304). */
  startContainer(id: string): Promise<'started' | 'already'> {
    return this.notModified({ method: 'POST', path: `/containers/${encodeURIComponent(id)}/start`, ok: [204] }, 'started');
  }

  /** Waits up to `timeoutSec` for the process to exit, then kills it; 'already' when it was not running. */
  stopContainer(id: string, timeoutSec: number): Promise<'stopped' | 'already'> {
    return this.notModified(
      { method: 'POST', path: `/containers/${encodeURIComponent(id)}/stop`, query: { t: timeoutSec }, ok: [204], timeoutMs: this.opts.callTimeoutMs + timeoutSec * 1000 },
      'stopped',
    );
  }

  async removeContainer(id: string): Promise<void> {
    await this.call({ method: 'DELETE', path: `/containers/${encodeURIComponent(id)}`, query: { force: false }, ok: [204] });
  }

  /** Pulls `ref`; errors reported inside the progress stream become EngineError('http', 500). */
  async pullImage(ref: string): Promise<void> {
    const { repo, tag } = splitImageRef(ref);
    const timeoutMs = this.opts.pullTimeoutMs ?? 300_000;
    const signal = AbortSignal.timeout(timeoutMs);
    const res = await this.call<IncomingMessage>({ method: 'POST', path: '/images/create', query: { fromImage: repo, tag }, ok: [200], stream: true, signal, timeoutMs });
    const text = await readAll(res, signal).catch((err: unknown) => {
      throw toEngineError(err, timeoutMs);
    });
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let msg: { error?: string; errorDetail?: { message?: string } };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        continue;
      }
      if (msg.error) throw new EngineError('http', msg.errorDetail?.message ?? msg.error, 500);
    }
  }

  /**
   * Follows GET /events filtered to containers. `onEnd` is called once when
   * the stream ends or fails for any reason other than close().
   */
  watchEvents(onEvent: (e: EngineEvent) => void, onData: () => void, onEnd: (err?: Error) => void): EventStream {
    const abort = new AbortController();
    let closed = false;
    let ended = false;
    const end = (err?: Error) => {
      if (ended || closed) return;
      ended = true;
      clearTimeout(connectTimer);
      abort.abort();
      onEnd(err);
    };
    // Until the headers arrive the call has the ordinary deadline; afterwards silence is normal.
    const connectTimer = setTimeout(() => end(new EngineError('timeout', `no answer from /events within ${this.opts.callTimeoutMs} ms`)), this.opts.callTimeoutMs);
    const filters = JSON.stringify({ type: ['container'] });
    this.call<IncomingMessage>({ method: 'GET', path: '/events', query: { filters }, ok: [200], stream: true, signal: abort.signal, timeoutMs: 0 }).then(
      (res) => {
        clearTimeout(connectTimer);
        if (closed || ended) {
          res.destroy();
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          onData();
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            try {
              onEvent(JSON.parse(line) as EngineEvent);
            } catch {
              // a malformed line is skipped; the next full observe corrects any miss
            }
          }
        });
        res.on('end', () => end(new EngineError('connection', 'event stream ended')));
        res.on('error', (err) => end(toEngineError(err, 0)));
        res.on('close', () => end(new EngineError('connection', 'event stream closed')));
      },
      (err: unknown) => end(toEngineError(err, this.opts.callTimeoutMs)),
    );
    return {
      close: () => {
        closed = true;
        clearTimeout(connectTimer);
        abort.abort();
      },
    };
  }

  private async notModified<T extends string>(spec: CallSpec, done: T): Promise<T | 'already'> {
    try {
      await this.call(spec);
      return done;
    } catch (err) {
      if (err instanceof EngineError && err.status === 304) return 'already';
      throw err;
    }
  }

  /** The one place a request is sent. timeoutMs 0: no deadline (streams, cancelled by `signal`). */
  private call<T>(spec: CallSpec): Promise<T> {
    const timeoutMs = spec.timeoutMs ?? this.opts.callTimeoutMs;
    const signals = [spec.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
    const abortSignal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const statusCodes: Record<number, boolean> = {};
    for (const c of spec.ok) statusCodes[c] = true;
    // `_body: {}` keeps the modem from sending the query as a body (start rejects bodies).
    const options = { _query: spec.query ?? {}, _body: spec.body ?? {} };
    const sep = '?';
    return new Promise<T>((resolve, reject) => {
      this.modem.dial(
        { path: spec.path + sep, method: spec.method, options, statusCodes, isStream: spec.stream ?? false, ...(abortSignal ? { abortSignal } : {}) },
        (err, data) => (err ? reject(toEngineError(err, timeoutMs)) : resolve(data as T)),
      );
    });
  }
}

function toEngineError(err: unknown, timeoutMs: number): EngineError {
  if (err instanceof EngineError) return err;
  const e = err as Error & { statusCode?: number; json?: unknown; code?: string; name?: string };
  if (typeof e.statusCode === 'number') {
    const json = e.json as { message?: string } | null | undefined;
    const message = json && typeof json === 'object' && !Buffer.isBuffer(json) && typeof json.message === 'string' ? json.message : e.message;
    return new EngineError('http', message.trim(), e.statusCode);
  }
  if (e.name === 'AbortError' || e.name === 'TimeoutError' || e.code === 'ABORT_ERR' || e.code === 'ECONNABORTED') {
    return new EngineError('timeout', `no answer within ${timeoutMs} ms`);
  }
  return new EngineError('connection', e.message || String(err), undefined, e.code);
}

function readAll(res: IncomingMessage, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onAbort = () => res.destroy(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    signal.addEventListener('abort', onAbort, { once: true });
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.on('end', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(text);
    });
    res.on('error', reject);
  });
}

/** `repo[:tag][@digest]` → fromImage/tag as the API wants them (a port in the registry is not a tag). */
export function splitImageRef(ref: string): { repo: string; tag: string } {
  if (ref.includes('@')) return { repo: ref, tag: '' };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}
