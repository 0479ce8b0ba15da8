// Registry credentials from a Docker config.json (`fogctl run --registry-auth
// FILE`): `auths` per registry host, each with `auth` (base64 of
// user:password) or `username`/`password`. Credential helpers (`credsStore`,
// `credHelpers`) are not run. The file is read again when its modification
// time changes, so a corrected password is used by the next pull.
//
// The secrets stay in this object: errors name the file and the registry,
// never a user name or password; toJSON() hides them from any log call.

import { readFileSync, statSync } from 'node:fs';
import { DOCKER_HUB } from '../api/image-ref.js';

export interface Credentials {
  username: string;
  password: string;
}

export class RegistryAuthError extends Error {}

/** `https://index.docker.io/v1/`, `index.docker.io`, `registry-1.docker.io` → `docker.io`; `https://h:5000/x` → `h:5000`. */
export function registryKey(raw: string): string {
  const host = raw
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}

/** Parses config.json text; errors say where and what is allowed. */
export function parseDockerConfig(text: string, file: string): Map<string, Credentials> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new RegistryAuthError(`${file}: not JSON (${(err as Error).message}); want a Docker config.json: {"auths": {"registry.example:5000": {"auth": "<base64 of user:password>"}}}`);
  }
  const auths = (doc as { auths?: unknown })?.auths;
  if (auths === undefined || auths === null || typeof auths !== 'object' || Array.isArray(auths))
    throw new RegistryAuthError(`${file}: no "auths" object; want {"auths": {"HOST[:PORT]": {"auth": "<base64 of user:password>"} or {"username": …, "password": …}}}`);
  const out = new Map<string, Credentials>();
  for (const [host, entry] of Object.entries(auths as Record<string, unknown>)) {
    const e = (entry ?? {}) as { auth?: unknown; username?: unknown; password?: unknown };
    let creds: Credentials | undefined;
    if (typeof e.auth === 'string' && e.auth !== '') {
      const plain = Buffer.from(e.auth, 'base64').toString('utf8');
      const colon = plain.indexOf(':');
      if (colon <= 0) throw new RegistryAuthError(`${file}: auths."${host}".auth is not base64 of user:password`);
      creds = { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
    } else if (typeof e.username === 'string' && typeof e.password === 'string') creds = { username: e.username, password: e.password };
    else throw new RegistryAuthError(`${file}: auths."${host}" has neither "auth" nor "username" and "password" (credential helpers are not supported)`);
    out.set(registryKey(host), creds);
  }
  return out;
}

export class RegistryAuth {
  private creds = new Map<string, Credentials>();
  private mtime = -1;

  /** Reads `file` now (throws RegistryAuthError on a bad one). */
  constructor(readonly file: string) {
    this.reload(true);
  }

  private reload(strict: boolean): void {
    let m: number;
    try {
      m = statSync(this.file).mtimeMs;
    } catch (err) {
      if (strict) throw new RegistryAuthError(`${this.file}: cannot read the registry credentials (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      return;
    }
    if (m === this.mtime) return;
    try {
      this.creds = parseDockerConfig(readFileSync(this.file, 'utf8'), this.file);
      this.mtime = m;
    } catch (err) {
      // A file being rewritten keeps the last good credentials.
      if (strict) throw err;
    }
  }

  /** The credentials for a registry host (as in an image reference), if the file has any. */
  forRegistry(registry: string): Credentials | undefined {
    this.reload(false);
    return this.creds.get(registryKey(registry));
  }

  /** The X-Registry-Auth header value Docker's POST /images/create takes: URL-safe base64 of JSON, padded (Go's base64.URLEncoding; Node's base64url drops the padding). */
  header(registry: string): string | undefined {
    const c = this.forRegistry(registry);
    if (c === undefined) return undefined;
    return Buffer.from(JSON.stringify({ username: c.username, password: c.password, serveraddress: registry }))
      .toString('base64')
      .replace(/\+/g, '-')
      .replace(/\//g, '_');
  }

  toJSON(): string {
    return `[registry credentials from ${this.file}]`;
  }
}
