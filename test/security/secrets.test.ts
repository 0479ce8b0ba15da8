// Secret env values never leave the controller except towards the engine. A
// real `fogctl run` on a real node, a service with a name-secret
// (OPCUA_PASSWORD, DB_TOKEN) and a declared secret; once it runs, every way
// of looking (get -o json/yaml, describe, plan, validate, the raw status JSON,
// the whole debug log) is searched for the values: none may appear. The
// container itself must have them.

import Docker from 'dockerode';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchStatus } from '../../src/controller/status-client.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { nodeManifest, runFogctl, startController, tempDir, waitFor, writeManifest, type RunningController } from '../e2e/harness.js';

const U = `UNIQUE${process.pid}x${Date.now().toString(36)}`;
const VALUES = { OPCUA_PASSWORD: `hunter2-${U}`, PLAIN_NAME: `s3cr3t-${U}`, DB_TOKEN: `tok-${U}` };

let fleet: Fleet;
let desired: string;
let state: string;
let ctl: RunningController;

beforeAll(async () => {
  fleet = await startFleet([{ name: 'sec-1' }]);
  desired = tempDir('fog-sec-desired-');
  state = tempDir('fog-sec-state-');
  writeManifest(desired, 'nodes/sec-1.yaml', nodeManifest('sec-1', fleet.node('sec-1').socket, { zone: 'line1' }));
  writeManifest(
    desired,
    'services/collector.yaml',
    `apiVersion: fog/v1
kind: Service
metadata:
  name: collector
spec:
  image: fog/busybox:latest
  network: none
  command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
  env:
    LINE: line1
    OPCUA_PASSWORD: ${VALUES.OPCUA_PASSWORD}
    PLAIN_NAME: {value: ${VALUES.PLAIN_NAME}, secret: true}
    DB_TOKEN: ${VALUES.DB_TOKEN}
`,
  );
  ctl = startController({ desired, stateDir: state, cluster: 'sec', extra: ['--log-level', 'trace'] });
});

afterAll(async () => {
  await ctl?.stop();
  await fleet?.stop();
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
    // Another cluster name: the plan would create everything, env included.
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
    for (const [label, text] of Object.entries(outputs)) {
      for (const [name, value] of Object.entries(VALUES)) expect(text.includes(value) || text.includes(U), `${label} shows ${name}`).toBe(false);
    }

    // The engine has them: they were only kept from everyone else.
    const docker = new Docker({ socketPath: fleet.node('sec-1').socket });
    const [summary] = await docker.listContainers({ all: true, filters: { label: ['fog.service=collector'] } });
    const env = (await docker.getContainer(summary!.Id).inspect()).Config.Env;
    for (const [name, value] of Object.entries(VALUES)) expect(env).toContain(`${name}=${value}`);
  });
});
