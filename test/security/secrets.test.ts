// Secret env values never leave the controller except towards the engine. A
// real `fogctl run` on a real node, a service with a name-secret
// (OPCUA_PASSWORD, DB_TOKEN) and a declared secret; once it runs, every way
// of looking (get -o json/yaml, describe, plan, validate, the raw status JSON,
// the whole debug log) is searched for the values: none may appear. The
// container itself must have them. The same for the registry password of
// `--registry-auth` (the image comes from a real registry with basic auth):
// neither it nor its base64 form may appear anywhere.

import Docker from 'dockerode';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchStatus } from '../../src/controller/status-client.js';
import { startFleet, TEST_IMAGE, type Fleet } from '../support/fleet.js';
import { startRegistry, type Registry } from '../support/registry.js';
import { nodeManifest, runFogctl, startController, tempDir, waitFor, writeManifest, type RunningController } from '../e2e/harness.js';

const U = `UNIQUE${process.pid}x${Date.now().toString(36)}`;
const VALUES = { OPCUA_PASSWORD: `hunter2-${U}`, PLAIN_NAME: `s3cr3t-${U}`, DB_TOKEN: `tok-${U}` };
const REG_AUTH = { user: 'plant', password: `regpw-${U}` };
const REG_SECRETS = { password: REG_AUTH.password, basic: Buffer.from(`${REG_AUTH.user}:${REG_AUTH.password}`).toString('base64') };

let fleet: Fleet;
let desired: string;
let state: string;
let ctl: RunningController;
let reg: Registry;

beforeAll(async () => {
  [fleet, reg] = await Promise.all([startFleet([{ name: 'sec-1' }]), startRegistry({ auth: REG_AUTH })]);
  await reg.pushFromEngine(fleet.node('sec-1').socket, TEST_IMAGE, 'fog/collector:v1');
  desired = tempDir('fog-sec-desired-');
  state = tempDir('fog-sec-state-');
  const authFile = reg.writeDockerConfig(state);
  writeManifest(desired, 'nodes/sec-1.yaml', nodeManifest('sec-1', fleet.node('sec-1').socket, { zone: 'line1' }));
  writeManifest(
    desired,
    'services/collector.yaml',
    `apiVersion: fog/v1
kind: Service
metadata:
  name: collector
spec:
  image: ${reg.host}/fog/collector:v1
  network: none
  command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
  env:
    LINE: line1
    OPCUA_PASSWORD: ${VALUES.OPCUA_PASSWORD}
    PLAIN_NAME: {value: ${VALUES.PLAIN_NAME}, secret: true}
    DB_TOKEN: ${VALUES.DB_TOKEN}
`,
  );
  ctl = startController({ desired, stateDir: state, cluster: 'sec', extra: ['--log-level', 'trace', '--registry-auth', authFile] });
});

afterAll(async () => {
  await ctl?.stop();
  await Promise.allSettled([fleet?.stop(), reg?.stop()]);
  for (const d of [desired, state]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('secret env values', () => {
  it('appear in no status, event, fogctl output or log line, and only in the container', async () => {
    await waitFor('collector to run', async () => (await ctl.status())?.status.services.find((s) => s.name === 'collector' && s.ready === 1), 40_000);
    const server = ['--server', ctl.socket];
    const outputs: Record<string, string> = {};
    const fogctl = async (label: string, args: string[], codes = [0]) => {
      const r = await runFogctl(args);
      expect(codes, `${label}: exit ${r.code}\n${r.stderr}`).toContain(r.code);
      outputs[label] = r.stdout + r.stderr;
    };
    await fogctl('get services -o json', ['get', 'services', '-o', 'json', ...server]);
    await fogctl('get services -o wide', ['get', 'services', '-o', 'wide', ...server]);
    await fogctl('get replicas -o yaml', ['get', 'replicas', '-o', 'yaml', ...server]);
    await fogctl('describe service', ['describe', 'service', 'collector', ...server]);
    await fogctl('plan -o json', ['plan', '--desired', desired, '-o', 'json', ...server], [0, 2]);
    // Another cluster name: the plan would create everything, env included. The node got the image by digest (the
    // pin), untagged; tagged as a person would, it is there for the plan, which then plans creates rather than a pull.
    const docker = new Docker({ socketPath: fleet.node('sec-1').socket });
    const [pinned] = (await docker.listImages()).filter((i) => (i.RepoDigests ?? []).some((d) => d.startsWith(`${reg.host}/fog/collector@`)));
    await docker.getImage(pinned!.Id).tag({ repo: `${reg.host}/fog/collector`, tag: 'v1' });
    await fogctl('plan (creates) -o json', ['plan', '--desired', desired, '--cluster', 'elsewhere', '-o', 'json'], [2]);
    await fogctl('plan (creates) -o yaml', ['plan', '--desired', desired, '--cluster', 'elsewhere', '-o', 'yaml'], [2]);
    await fogctl('validate -o json', ['validate', '-o', 'json', desired]);
    await fogctl('validate', ['validate', desired]);
    const raw = await fetchStatus(ctl.socket, 2_000);
    expect(raw.ok).toBe(true);
    outputs['raw status'] = JSON.stringify(raw);
    await ctl.stop();
    outputs['controller log'] = ctl.logs();

    // The checks are not vacuous: the outputs do show the service, its env names and the planned creates.
    expect(outputs['describe service']).toMatch(/OPCUA_PASSWORD=\[secret\]/);
    expect(outputs['describe service']).toMatch(/LINE=line1/);
    expect(outputs['plan (creates) -o json']).toMatch(/"DB_TOKEN"/);
    expect(outputs['controller log']).toMatch(/"component":"executor".*"msg":"create sec_collector-0-/);
    // The image came through the registry with the credentials: the tag was resolved there and the replica pulled by digest.
    expect(outputs['controller log']).toMatch(/"msg":"image tag resolved"/);
    expect(outputs['describe service']).toContain(`${reg.host}/fog/collector@sha256:`);
    for (const [label, text] of Object.entries(outputs)) {
      for (const [name, value] of Object.entries({ ...VALUES, ...REG_SECRETS })) expect(text.includes(value) || text.includes(U), `${label} shows ${name}`).toBe(false);
    }

    // The engine has them: they were only kept from everyone else.
    const [summary] = await docker.listContainers({ all: true, filters: { label: ['fog.service=collector'] } });
    const env = (await docker.getContainer(summary!.Id).inspect()).Config.Env;
    for (const [name, value] of Object.entries(VALUES)) expect(env).toContain(`${name}=${value}`);
  });
});
