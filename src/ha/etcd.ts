// A small etcd v3 client over etcd's JSON gateway (POST /v3/...), with
// node:http(s) so that mutual TLS takes the same ca/cert/key files as the
// engines. Every request has its own deadline; a request that fails moves on
// to the next endpoint. Only what leader election needs: lease grant,
// keep-alive and revoke, a create-if-absent transaction, a read.

import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface EtcdTls {
  ca: string;
  cert: string;
  key: string;
}

export interface EtcdOptions {
  endpoints: readonly string[];
  tls?: EtcdTls;
}

export interface KeyValue {
  value: string;
  createRevision: number;
  leaseId: string;
}

/** An etcd that did not answer, or answered with an error: the message names the endpoint and the cause. */
export class EtcdError extends Error {}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

export class EtcdClient {
  private next = 0;
  private readonly tls?: { ca: Buffer; cert: Buffer; key: Buffer };

  constructor(private readonly opts: EtcdOptions) {
    if (opts.endpoints.length === 0) throw new EtcdError('no etcd endpoint given (--ha-etcd URL[,URL…])');
    for (const e of opts.endpoints) {
      const u = new URL(e);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new EtcdError(`--ha-etcd ${e}: must be an http:// or https:// URL of an etcd client endpoint`);
      if (u.protocol === 'http:' && opts.tls) throw new EtcdError(`--ha-etcd ${e}: TLS files are given, so use https://`);
    }
    if (opts.tls) this.tls = { ca: readFileSync(opts.tls.ca), cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) };
  }

  /** A new lease of `ttlSeconds`; its id (a decimal string: etcd's ids are 64-bit). */
  async grant(ttlSeconds: number, timeoutMs: number): Promise<string> {
    const r = (await this.call('/v3/lease/grant', { TTL: ttlSeconds }, timeoutMs)) as { ID?: string; error?: string };
    if (!r.ID) throw new EtcdError(`etcd granted no lease: ${r.error ?? JSON.stringify(r)}`);
    return r.ID;
  }

  /** Renews the lease; its remaining TTL in seconds (0: the lease is gone). */
  async keepAlive(leaseId: string, timeoutMs: number): Promise<number> {
    const r = (await this.call('/v3/lease/keepalive', { ID: leaseId }, timeoutMs)) as { result?: { TTL?: string } };
    return Number(r.result?.TTL ?? 0);
  }

  /** Seconds the lease has left (etcd rounds down), or -1 when it is gone. */
  async timeToLive(leaseId: string, timeoutMs: number): Promise<number> {
    const r = (await this.call('/v3/lease/timetolive', { ID: leaseId }, timeoutMs)) as { TTL?: string };
    return Number(r.TTL ?? 0);
  }

  async revoke(leaseId: string, timeoutMs: number): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: leaseId }, timeoutMs);
  }

  /** Puts key=value on the lease if the key does not exist. Won: the revision of the put (the key's create revision). Lost: the holder's key. */
  async createIfAbsent(key: string, value: string, leaseId: string, timeoutMs: number): Promise<{ won: true; revision: number } | { won: false; holder?: KeyValue }> {
    const r = (await this.call(
      '/v3/kv/txn',
      {
        compare: [{ key: b64(key), target: 'CREATE', create_revision: '0', result: 'EQUAL' }],
        success: [{ request_put: { key: b64(key), value: b64(value), lease: leaseId } }],
        failure: [{ request_range: { key: b64(key) } }],
      },
      timeoutMs,
    )) as { header?: { revision?: string }; succeeded?: boolean; responses?: { response_range?: { kvs?: RawKv[] } }[] };
    if (r.succeeded) return { won: true, revision: Number(r.header?.revision ?? 0) };
    const kv = r.responses?.[0]?.response_range?.kvs?.[0];
    return kv ? { won: false, holder: toKv(kv) } : { won: false };
  }

  async get(key: string, timeoutMs: number): Promise<KeyValue | undefined> {
    const r = (await this.call('/v3/kv/range', { key: b64(key) }, timeoutMs)) as { kvs?: RawKv[] };
    const kv = r.kvs?.[0];
    return kv ? toKv(kv) : undefined;
  }

  /** One request, tried on each endpoint in turn (starting with the last that answered) within the deadline. */
  private async call(path: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    const errors: string[] = [];
    for (let i = 0; i < this.opts.endpoints.length; i++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const endpoint = this.opts.endpoints[(this.next + i) % this.opts.endpoints.length]!;
      try {
        const out = await this.post(endpoint, path, body, left);
        this.next = (this.next + i) % this.opts.endpoints.length;
        return out;
      } catch (err) {
        errors.push(`${endpoint}: ${(err as Error).message}`);
      }
    }
    throw new EtcdError(`etcd did not answer ${path} within ${timeoutMs} ms (${errors.join('; ') || 'no time left'})`);
  }

  private post(endpoint: string, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const url = new URL(path, endpoint);
    const data = JSON.stringify(body);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }, timeout: timeoutMs, ...(this.tls ?? {}), agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8').trim();
            let parsed: unknown;
            try {
              // Streaming endpoints (keepalive) answer one JSON object a line.
              parsed = JSON.parse(text.split('\n')[0] ?? '{}');
            } catch {
              reject(new EtcdError(`answer is not JSON (HTTP ${res.statusCode}): ${text.slice(0, 200)}`));
              return;
            }
            const err = (parsed as { error?: string | { message?: string }; message?: string }).error;
            if ((res.statusCode ?? 500) >= 400 || err) {
              reject(new EtcdError(`HTTP ${res.statusCode}: ${typeof err === 'string' ? err : (err?.message ?? (parsed as { message?: string }).message ?? text.slice(0, 200))}`));
              return;
            }
            resolve(parsed);
          });
        },
      );
      const timer = setTimeout(() => req.destroy(new EtcdError(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('timeout', () => req.destroy(new EtcdError(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(data);
    });
  }
}

interface RawKv {
  value?: string;
  create_revision?: string;
  lease?: string;
}

function toKv(kv: RawKv): KeyValue {
  return { value: unb64(kv.value), createRevision: Number(kv.create_revision ?? 0), leaseId: kv.lease ?? '0' };
}
