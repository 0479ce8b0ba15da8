// Asks a registry (Distribution API v2) what a tag points at: the manifest's
// digest and, for an image index (OCI index or Docker manifest list), the
// platforms it has; for a single manifest, the platform in its config.
// Loopback registries are spoken to over plain HTTP (as dockerd does for
// 127.0.0.0/8), every other over HTTPS. Basic auth, and the token flow
// (`Www-Authenticate: Bearer realm=…`) that Docker Hub and most registries
// use. Credentials go only into request headers, never into a message.

import { parseImageRef } from '../api/image-ref.js';
import type { ImageResolution } from '../api/types.js';
import type { Credentials } from './registry-auth.js';

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

/** `unreachable`: no answer at all (name, connection, timeout), as opposed to an answer that refuses. */
export type Resolved = { ok: true; resolution: ImageResolution } | { ok: false; why: string; auth?: true; unreachable?: true };

interface Manifest {
  mediaType?: string;
  manifests?: { digest: string; platform?: { os?: string; architecture?: string; variant?: string } }[];
  config?: { digest: string };
}

function apiBase(registry: string): string {
  if (registry === 'docker.io') return 'https://registry-1.docker.io';
  const host = registry.replace(/:\d+$/, '');
  const loopback = host === 'localhost' || /^127\./.test(host) || host === '[::1]';
  return `${loopback ? 'http' : 'https'}://${registry}`;
}

/** Resolves `image` (a tag) to its digest and platforms; `timeoutMs` per request. */
export async function resolveTag(image: string, creds: Credentials | undefined, timeoutMs = 5_000): Promise<Resolved> {
  const ref = parseImageRef(image);
  const base = `${apiBase(ref.registry)}/v2/${ref.repository}`;
  let authorization: string | undefined;
  const get = async (path: string, accept: string): Promise<Response> => {
    const ask = () => fetch(`${base}/${path}`, { headers: { accept, ...(authorization ? { authorization } : {}) }, signal: AbortSignal.timeout(timeoutMs) });
    let res = await ask();
    if (res.status === 401 && authorization === undefined) {
      authorization = await challenge(res.headers.get('www-authenticate') ?? '', creds, timeoutMs);
      if (authorization !== undefined) res = await ask();
    }
    return res;
  };
  try {
    const res = await get(`manifests/${ref.tag ?? 'latest'}`, ACCEPT);
    if (res.status === 401 || res.status === 403)
      return {
        ok: false,
        auth: true,
        why: `registry ${ref.registry} answered ${res.status} for ${ref.repository}${creds === undefined ? ' (no credentials configured for it)' : ' (credentials refused)'}`,
      };
    if (res.status !== 200) return { ok: false, why: `registry ${ref.registry} answered ${res.status} for ${ref.repository}:${ref.tag ?? 'latest'}` };
    const text = await res.text();
    const digest = res.headers.get('docker-content-digest') ?? `sha256:${await sha256(text)}`;
    const m = JSON.parse(text) as Manifest;
    let platforms: string[] | undefined;
    if (Array.isArray(m.manifests)) {
      // Attestation entries (unknown/unknown) are no platform.
      platforms = m.manifests.flatMap((x) =>
        x.platform?.os && x.platform.architecture && x.platform.os !== 'unknown' ? [platformName(x.platform.os, x.platform.architecture, x.platform.variant)] : [],
      );
    } else if (m.config?.digest) {
      const c = await get(`blobs/${m.config.digest}`, '*/*');
      if (c.status === 200) {
        const cfg = (await c.json()) as { os?: string; architecture?: string; variant?: string };
        if (cfg.os && cfg.architecture) platforms = [platformName(cfg.os, cfg.architecture, cfg.variant)];
      }
    }
    return { ok: true, resolution: { digest, ...(platforms !== undefined && platforms.length > 0 ? { platforms: [...new Set(platforms)].sort() } : {}) } };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return { ok: false, unreachable: true, why: `registry ${ref.registry} cannot be asked: ${e.cause?.code ?? e.cause?.message ?? e.message}` };
  }
}

function platformName(os: string, arch: string, variant?: string): string {
  return variant ? `${os}/${arch}/${variant}` : `${os}/${arch}`;
}

async function sha256(text: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(text).digest('hex');
}

/** The Authorization value for a 401's challenge: Basic with the credentials, or a Bearer token from the realm. */
async function challenge(header: string, creds: Credentials | undefined, timeoutMs: number): Promise<string | undefined> {
  const basic = creds && `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  if (/^basic/i.test(header)) return basic;
  if (!/^bearer/i.test(header)) return undefined;
  const params = new Map([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
  const realm = params.get('realm');
  if (realm === undefined) return undefined;
  const url = new URL(realm);
  for (const k of ['service', 'scope']) if (params.has(k)) url.searchParams.set(k, params.get(k)!);
  const res = await fetch(url, { headers: basic ? { authorization: basic } : {}, signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) return undefined;
  const body = (await res.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  return token === undefined ? undefined : `Bearer ${token}`;
}
