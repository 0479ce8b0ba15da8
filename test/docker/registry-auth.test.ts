// The credentials file of `fogctl run --registry-auth`, the header dockerd
// gets, and the secrets kept out of anything printable.
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDockerConfig, RegistryAuth, registryKey } from '../../src/docker/registry-auth.js';
import { resolveTag } from '../../src/docker/registry.js';
import { freePort } from '../security/certs.js';

const dir = mkdtempSync('/tmp/fog-regauth-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('registry credentials (Docker config.json)', () => {
  it('reads auth (base64 user:password) and username/password entries, keyed by host', () => {
    const creds = parseDockerConfig(
      JSON.stringify({
        auths: {
          '127.0.0.1:5000': { auth: Buffer.from('plant:pa:ss').toString('base64') },
          'https://index.docker.io/v1/': { username: 'hub', password: 'h' },
          'https://registry.plant:443/v2/': { username: 'p', password: 'q' },
        },
      }),
      'c.json',
    );
    expect(creds.get('127.0.0.1:5000')).toEqual({ username: 'plant', password: 'pa:ss' });
    expect(creds.get('docker.io')).toEqual({ username: 'hub', password: 'h' });
    expect(creds.get('registry.plant:443')).toEqual({ username: 'p', password: 'q' });
    expect(registryKey('registry-1.docker.io')).toBe('docker.io');
  });

  it.each([
    ['{not json', /^c\.json: not JSON .*want a Docker config\.json/],
    ['{"credsStore": "desktop"}', /^c\.json: no "auths" object/],
    ['{"auths": {"r:5000": {"auth": "bm9jb2xvbg=="}}}', /^c\.json: auths\."r:5000"\.auth is not base64 of user:password$/],
    ['{"auths": {"r:5000": {}}}', /^c\.json: auths\."r:5000" has neither "auth" nor "username" and "password" \(credential helpers are not supported\)$/],
  ])('refuses %s with where and what is allowed', (text, want) => {
    expect(() => parseDockerConfig(text, 'c.json')).toThrow(want);
  });

  it('gives dockerd padded URL-safe base64 JSON, and never shows the password', () => {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ auths: { '127.0.0.1:5000': { username: 'u', password: 'p?>~' } } }));
    const auth = new RegistryAuth(file);
    const h = auth.header('127.0.0.1:5000')!;
    expect(h).toMatch(/^[A-Za-z0-9_-]+=*$/);
    expect(h.length % 4).toBe(0);
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ username: 'u', password: 'p?>~', serveraddress: '127.0.0.1:5000' });
    expect(auth.header('other:1')).toBeUndefined();
    expect(JSON.stringify({ auth })).not.toContain('p?>~');
    // A corrected file is used without a restart.
    writeFileSync(file, JSON.stringify({ auths: { '127.0.0.1:5000': { username: 'u', password: 'fixed' } } }));
    const later = Date.now() / 1000 + 5;
    utimesSync(file, later, later);
    expect(auth.forRegistry('127.0.0.1:5000')).toEqual({ username: 'u', password: 'fixed' });
  });

  it('a registry that does not answer is reported, not thrown', async () => {
    const port = await freePort();
    const r = await resolveTag(`127.0.0.1:${port}/fog/app:v1`, { username: 'u', password: 'secret-pw' }, 1_000);
    expect(r).toMatchObject({ ok: false });
    expect(!r.ok && r.why).toMatch(new RegExp(`^registry 127\\.0\\.0\\.1:${port} cannot be asked: ECONNREFUSED`));
    expect(JSON.stringify(r)).not.toContain('secret-pw');
  });
});
