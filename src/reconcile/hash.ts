// The spec hash: FNV-1a 64 over a canonical JSON of everything that shapes a
// container. Pure JS (no node:crypto), stable across runs and platforms.

import type { ContainerSpec, EnvVar, RevisionShape, Service, ServiceSpec } from '../api/types.js';

/** JSON with sorted object keys and `undefined` fields omitted: equal values, equal text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/** FNV-1a, 64 bit, over the UTF-8 bytes of `s`, as 16 hex digits (16-bit limbs keep every product exact). */
export function fnv1a64(s: string): string {
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  const step = (byte: number): void => {
    h0 ^= byte;
    // h * 0x100000001b3 = h * 0x1b3 + (h << 40)
    const t0 = h0 * 0x1b3;
    let t1 = h1 * 0x1b3;
    let t2 = h2 * 0x1b3 + (h0 << 8);
    let t3 = h3 * 0x1b3 + (h1 << 8);
    t1 += t0 >>> 16;
    h0 = t0 & 0xffff;
    t2 += t1 >>> 16;
    h1 = t1 & 0xffff;
    t3 += t2 >>> 16;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  };
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) step(c);
    else if (c < 0x800) {
      step(0xc0 | (c >> 6));
      step(0x80 | (c & 63));
    } else if (c < 0x10000) {
      step(0xe0 | (c >> 12));
      step(0x80 | ((c >> 6) & 63));
      step(0x80 | (c & 63));
    } else {
      step(0xf0 | (c >> 18));
      step(0x80 | ((c >> 12) & 63));
      step(0x80 | ((c >> 6) & 63));
      step(0x80 | (c & 63));
    }
  }
  return hex4(h3) + hex4(h2) + hex4(h1) + hex4(h0);
}

/** Everything in a ContainerSpec that comes from the service: what the spec hash covers. */
export type ContainerShape = Omit<ContainerSpec, 'name' | 'labels'>;

/**
 * What shapes the container: image, command, env (with the resolved
 * dependency endpoints appended), ports, network, volumes, devices,
 * resources, restart, healthcheck, stopGracePeriod, security. Not replicas,
 * placement, update or mode: changing those never replaces a running replica.
 */
export function containerShape(service: Service, depEnv: readonly EnvVar[] = []): ContainerShape {
  const shape: ContainerShape = specShape(service.spec);
  if (depEnv.length > 0) shape.env = [...service.spec.env, ...depEnv];
  return shape;
}

/** The fields of a spec that shape a container, as written (what a revision keeps). */
export function specShape(s: ServiceSpec): RevisionShape {
  const shape: RevisionShape = {
    image: s.image,
    env: s.env,
    ports: s.ports,
    network: s.network,
    volumes: s.volumes,
    devices: s.devices,
    resources: s.resources,
    restart: s.restart,
    stopGracePeriod: s.stopGracePeriod,
  };
  if (s.command !== undefined) shape.command = s.command;
  if (s.healthcheck !== undefined) shape.healthcheck = s.healthcheck;
  if (s.security !== undefined) shape.security = s.security;
  if (s.restartedAt !== undefined) shape.restartedAt = s.restartedAt;
  return shape;
}

/** The hash of the container's shape (see containerShape), 16 hex digits. */
export function specHash(service: Service, depEnv: readonly EnvVar[] = []): string {
  return fnv1a64(canonicalJson(containerShape(service, depEnv)));
}
