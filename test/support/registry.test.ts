// The test registry itself: auth, pushes, an engine pulling from it, the
// blob byte count, an arm64-only index, kill/start, cleanup.

import Docker from 'dockerode';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, TEST_IMAGE, type Fleet } from './fleet.js';
import { MEDIA, startRegistry, type Registry } from './registry.js';

const AUTH = { user: 'plant', password: 'pin-test-pw' };

let fleet: Fleet;
let reg: Registry;
let engine: Docker;

beforeAll(async () => {
  [fleet, reg] = await Promise.all([startFleet([{ name: 'r1' }]), startRegistry({ auth: AUTH })]);
  engine = new Docker({ socketPath: fleet.node('r1').socket });
});

afterAll(async () => {
  await Promise.allSettled([reg?.stop(), fleet?.stop()]);
});

async function pull(ref: string, auth?: { username: string; password: string }): Promise<void> {
  const stream = await engine.pull(ref, auth ? { authconfig: { ...auth, serveraddress: reg.host } } : {});
  // An error after the stream began (no matching manifest, say) comes as an event, not as err.
  const events = await new Promise<{ error?: string }[]>((resolve, reject) =>
    engine.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => (err ? reject(err) : resolve(out))),
  );
  const failed = events.find((e) => e.error);
  if (failed) throw new Error(failed.error);
}

describe('test registry (docker-registry)', () => {
  it('asks for credentials and takes a push from a test engine', async () => {
    expect((await fetch(`${reg.url}/v2/`)).status).toBe(401);
    const digest = await reg.pushFromEngine(fleet.node('r1').socket, TEST_IMAGE, 'fog/app:v1');
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await reg.digest('fog/app', 'v1')).toBe(digest);
  });

  it('serves a pull to an engine that has none of the layers, and counts the blob bytes exactly', async () => {
    await engine.getImage(TEST_IMAGE).remove();
    reg.resetCounters();
    await expect(pull(`${reg.host}/fog/app:v1`, { username: AUTH.user, password: 'wrong' })).rejects.toThrow(/unauthorized|no basic auth|authentication required/i);
    await pull(`${reg.host}/fog/app:v1`, { username: AUTH.user, password: AUTH.password });
    const img = await engine.getImage(`${reg.host}/fog/app:v1`).inspect();
    expect(img.RepoDigests).toEqual([`${reg.host}/fog/app@${await reg.digest('fog/app', 'v1')}`]);
    // What the manifest says the blobs weigh is what the access log counted.
    const m = (await (
      await fetch(`${reg.url}/v2/fog/app/manifests/v1`, { headers: { accept: MEDIA.dockerManifest, authorization: `Basic ${Buffer.from(`${AUTH.user}:${AUTH.password}`).toString('base64')}` } })
    ).json()) as { config: { size: number }; layers: { size: number }[] };
    const expected = m.config.size + m.layers.reduce((a, l) => a + l.size, 0);
    expect(expected).toBeGreaterThan(100_000);
    expect(reg.blobBytesServed()).toBe(expected);
  });

  it('holds an arm64-only index that an amd64 engine cannot pull', async () => {
    const v1 = await reg.digest('fog/app', 'v1');
    const index = await reg.pushIndex('fog/app', 'arm-only', [{ digest: v1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }]);
    expect(await reg.digest('fog/app', 'arm-only')).toBe(index);
    await expect(pull(`${reg.host}/fog/app:arm-only`, { username: AUTH.user, password: AUTH.password })).rejects.toThrow(/no matching manifest/i);
  });

  it('comes back with its data after a kill, and stop() removes everything', async () => {
    const v1 = await reg.digest('fog/app', 'v1');
    await reg.kill();
    expect(reg.running()).toBe(false);
    await expect(fetch(`${reg.url}/v2/`)).rejects.toThrow();
    await reg.start();
    expect(await reg.digest('fog/app', 'v1')).toBe(v1);
    await reg.stop();
    expect(existsSync(reg.dir)).toBe(false);
    await expect(fetch(`${reg.url}/v2/`)).rejects.toThrow();
  });
});
