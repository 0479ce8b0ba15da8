// Schema and normalisation: every default, every short form, every derived value.

import { describe, expect, it } from 'vitest';
import type { FogNode, Service } from '../../src/api/types.js';
import { DEFAULTS, formatError, loadText, NODE_SCHEMA, SERVICE_SCHEMA } from '../../src/manifest/index.js';

function one<T>(text: string): T {
  const r = loadText('t.yaml', text);
  expect(r.errors.map(formatError)).toEqual([]);
  expect(r.objects).toHaveLength(1);
  return r.objects[0] as T;
}
const service = (spec: string, meta = '') => one<Service>(`apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: svc\n${meta}spec:\n  image: fog/busybox:latest\n${spec}`);
const node = (spec: string) => one<FogNode>(`apiVersion: fog/v1\nkind: Node\nmetadata:\n  name: n1\nspec:\n${spec}`);
const errors = (text: string) => loadText('t.yaml', text).errors.map(formatError);

describe('Service defaults', () => {
  it('fills every default for a minimal service', () => {
    const s = service('');
    expect(s).toEqual({
      kind: 'Service',
      metadata: { name: 'svc', labels: {}, annotations: {} },
      spec: {
        image: 'fog/busybox:latest',
        env: [],
        ports: [],
        network: 'bridge',
        volumes: [],
        mode: 'replicated',
        replicas: 1,
        resources: {},
        devices: [],
        placement: { constraints: [], affinity: [], antiAffinity: [], onNodeReturn: 'keep-replacement' },
        dependsOn: [],
        restart: { policy: 'always', maxRetries: 5 },
        update: { parallelism: 1, order: 'stop-first', delay: 0, monitor: 10_000, maxFailureRatio: 0, failureAction: 'rollback', progressDeadline: 600_000, windows: [], canary: 0, autoPromote: true },
        stopGracePeriod: 10,
      },
      source: { file: 't.yaml', line: 1, col: 1 },
    });
    expect(s.spec.command).toBeUndefined();
    expect(s.spec.healthcheck).toBeUndefined();
  });

  it('fills healthcheck defaults and turns a string test into CMD-SHELL', () => {
    const s = service('  healthcheck:\n    test: wget -q localhost\n');
    expect(s.spec.healthcheck).toEqual({ test: ['CMD-SHELL', 'wget -q localhost'], interval: 10_000, timeout: 5_000, retries: 3, startPeriod: 0 });
    expect(DEFAULTS.healthInterval).toBe(10_000);
  });

  it('keeps a CMD list and parses every duration', () => {
    const s = service('  healthcheck:\n    test: [CMD, wget, -q, x]\n    interval: 1m30s\n    timeout: 500ms\n    retries: 0\n    startPeriod: 2\n  stopGracePeriod: 1m\n  update:\n    delay: 1.5s\n');
    expect(s.spec.healthcheck).toEqual({ test: ['CMD', 'wget', '-q', 'x'], interval: 90_000, timeout: 500, retries: 0, startPeriod: 2000 });
    expect(s.spec.stopGracePeriod).toBe(60);
    expect(s.spec.update.delay).toBe(1500);
  });

  it('runs a string command with /bin/sh -c', () => {
    expect(service('  command: echo hi && sleep 5\n').spec.command).toEqual(['/bin/sh', '-c', 'echo hi && sleep 5']);
    expect(service('  command: [sleep, "5"]\n').spec.command).toEqual(['sleep', '5']);
  });

  it('stringifies env values, keeps numbers as written, and hides secrets', () => {
    const s = service(
      '  env:\n    A: x\n    VERSION: 1.10\n    ON: true\n    N: 0x1F\n    DB_PASSWORD: p\n    api_token: t\n    SshKey: k\n    PLAIN:\n      value: v\n    HIDDEN:\n      value: 42\n      secret: true\n',
    );
    expect(s.spec.env).toEqual([
      { name: 'A', value: 'x', secret: false },
      { name: 'VERSION', value: '1.10', secret: false },
      { name: 'ON', value: 'true', secret: false },
      { name: 'N', value: '0x1F', secret: false },
      { name: 'DB_PASSWORD', value: 'p', secret: true },
      { name: 'api_token', value: 't', secret: true },
      { name: 'SshKey', value: 'k', secret: true },
      { name: 'PLAIN', value: 'v', secret: false },
      { name: 'HIDDEN', value: '42', secret: true },
    ]);
  });

  it('reads ports in every form, tcp by default', () => {
    const s = service('  ports:\n    - "8080:80"\n    - "1883"\n    - 5683/udp\n    - 9000\n    - container: 53\n      host: 5353\n      protocol: udp\n    - container: 81\n');
    expect(s.spec.ports).toEqual([
      { container: 80, host: 8080, protocol: 'tcp' },
      { container: 1883, protocol: 'tcp' },
      { container: 5683, protocol: 'udp' },
      { container: 9000, protocol: 'tcp' },
      { container: 53, host: 5353, protocol: 'udp' },
      { container: 81, protocol: 'tcp' },
    ]);
  });

  it('allows one host port for tcp and udp, but not twice for one protocol', () => {
    expect(service('  ports: ["53:53/udp", "53:53"]\n').spec.ports).toHaveLength(2);
    const spec = 'apiVersion: fog/v1\nkind: Service\nmetadata: {name: s}\nspec:\n  image: x\n  network: host\n  ports: [1883, "1883:1883"]\n';
    expect(errors(spec)).toEqual(['t.yaml:7:17: spec.ports[1]: host port 1883/tcp is already used by spec.ports[0]']);
  });

  it('reads volumes in both forms: bind for host paths, volume for names', () => {
    const s = service('  volumes:\n    - /srv/data:/data\n    - cache:/cache:ro\n    - logs:/logs:rw\n    - source: /etc/fog\n      target: /etc/fog\n      readOnly: true\n');
    expect(s.spec.volumes).toEqual([
      { source: '/srv/data', target: '/data', readOnly: false, type: 'bind' },
      { source: 'cache', target: '/cache', readOnly: true, type: 'volume' },
      { source: 'logs', target: '/logs', readOnly: false, type: 'volume' },
      { source: '/etc/fog', target: '/etc/fog', readOnly: true, type: 'bind' },
    ]);
  });

  it('parses resources, restart forms, update and placement', () => {
    const s = service(
      '  mode: global\n  resources: {cpu: 500m, memory: 256Mi}\n  restart: on-failure\n  update: {parallelism: 2, order: start-first}\n  placement:\n    constraints: ["node.labels.zone == line1"]\n    spread: zone\n    maxPerNode: 2\n    onNodeReturn: keep-original\n',
    );
    expect(s.spec.mode).toBe('global');
    expect(s.spec.resources).toEqual({ cpu: 500, memory: 256 * 1024 * 1024 });
    expect(s.spec.restart).toEqual({ policy: 'on-failure', maxRetries: 5 });
    expect(s.spec.update).toMatchObject({ parallelism: 2, order: 'start-first', delay: 0 });
    expect(s.spec.placement).toMatchObject({ spread: 'zone', maxPerNode: 2, onNodeReturn: 'keep-original' });
    expect(s.spec.placement.constraints[0]).toMatchObject({ text: 'node.labels.zone == line1', op: '==', subject: { kind: 'label', key: 'zone' } });
    expect(service('  restart: {policy: never}\n').spec.restart).toEqual({ policy: 'never', maxRetries: 5 });
    expect(service('  resources: {cpu: 2, memory: 1Gi}\n').spec.resources).toEqual({ cpu: 2000, memory: 2 ** 30 });
  });

  it('keeps labels and annotations', () => {
    const s = service('', '  labels:\n    zone: line1\n    example.com/tier: "1"\n  annotations:\n    note: anything, even spaces\n');
    expect(s.metadata).toEqual({ name: 'svc', labels: { zone: 'line1', 'example.com/tier': '1' }, annotations: { note: 'anything, even spaces' } });
  });
});

describe('Node defaults', () => {
  it('fills every default for a unix socket node', () => {
    expect(node('  endpoint: unix:///var/run/docker.sock\n').spec).toEqual({
      endpoint: 'unix:///var/run/docker.sock',
      insecure: false,
      address: '127.0.0.1',
      devices: [],
      capacity: {},
      unschedulable: false,
    });
  });

  it('takes the address from a tcp endpoint, with tls or insecure', () => {
    const tls = node('  endpoint: tcp://10.0.0.5:2376\n  tls: {ca: /c, cert: /e, key: /k}\n').spec;
    expect(tls).toMatchObject({ address: '10.0.0.5', insecure: false, tls: { ca: '/c', cert: '/e', key: '/k' } });
    expect(node('  endpoint: tcp://press-1.local:2375\n  insecure: true\n').spec).toMatchObject({ address: 'press-1.local', insecure: true });
    expect(node('  endpoint: "tcp://[fd00::5]:2375"\n  insecure: true\n').spec.address).toBe('fd00::5');
  });

  it('keeps an explicit address, devices, capacity and the cordon', () => {
    const s = node('  endpoint: unix:///x.sock\n  address: 192.168.1.20\n  devices: [/dev/ttyUSB0]\n  capacity: {cpu: 1.5, memory: 512Mi}\n  unschedulable: true\n').spec;
    expect(s).toMatchObject({ address: '192.168.1.20', devices: ['/dev/ttyUSB0'], capacity: { cpu: 1500, memory: 512 * 2 ** 20 }, unschedulable: true });
  });
});

describe('the schemas', () => {
  it('are draft 2020-12 documents that forbid unknown fields everywhere', () => {
    for (const schema of [NODE_SCHEMA, SERVICE_SCHEMA]) {
      expect(schema).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', additionalProperties: false });
      const stack: unknown[] = [schema];
      while (stack.length > 0) {
        const s = stack.pop() as Record<string, unknown>;
        if (s.type === 'object' && s.properties) expect(s.additionalProperties, JSON.stringify(s).slice(0, 80)).toBe(false);
        for (const v of Object.values(s)) if (v && typeof v === 'object') stack.push(v);
      }
    }
  });

  it('reports every problem in a document, not just the first', () => {
    const text = 'apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: Bad_Name\nspec:\n  image: x\n  replicas: many\n  netwrok: host\n';
    expect(errors(text)).toEqual([
      't.yaml:4:9: metadata.name must be a DNS-1123 label: 1-63 characters of a-z, 0-9 and -, starting and ending with a letter or digit, got "Bad_Name"',
      't.yaml:8:3: unknown field "netwrok" in spec, did you mean "network"?',
      't.yaml:7:13: spec.replicas must be an integer >= 0, got "many"',
    ]);
  });

  it('points constraint errors into the string, quoted or not', () => {
    const base = 'apiVersion: fog/v1\nkind: Service\nmetadata: {name: s}\nspec:\n  image: x\n  placement:\n    constraints:\n';
    const [plain] = errors(`${base}      - node.labels.zone = a\n`);
    const [quoted] = errors(`${base}      - "node.labels.zone = a"\n`);
    expect(plain).toMatch(/^t\.yaml:8:26: /);
    expect(quoted).toMatch(/^t\.yaml:8:27: /);
  });

  it('reads the safe-rollout fields, and points window errors into the string', () => {
    const s = service(
      '  update:\n    monitor: 3s\n    maxFailureRatio: 0.5\n    failureAction: pause\n    progressDeadline: 2m\n    canary: 1\n    autoPromote: false\n    windows: ["Mon-Fri 22:00-06:00 Europe/Berlin", "Daily 12:00-13:00 UTC"]\n',
    );
    expect(s.spec.update).toMatchObject({ monitor: 3_000, maxFailureRatio: 0.5, failureAction: 'pause', progressDeadline: 120_000, canary: 1, autoPromote: false });
    expect(s.spec.update.windows.map((w) => [w.days, w.start, w.end, w.zone])).toEqual([
      [[1, 2, 3, 4, 5], 22 * 60, 6 * 60, 'Europe/Berlin'],
      [[0, 1, 2, 3, 4, 5, 6], 12 * 60, 13 * 60, 'UTC'],
    ]);
    const base = 'apiVersion: fog/v1\nkind: Service\nmetadata: {name: s}\nspec:\n  image: x\n  update:\n    windows:\n';
    const [bad] = errors(`${base}      - "Mo 22:00-06:00 UTC"\n`);
    expect(bad).toMatch(/^t\.yaml:8:10: spec\.update\.windows\[0\] "Mo 22:00-06:00 UTC" is not a maintenance window: unknown day "Mo": use Mon, Tue/);
    const [zone] = errors(`${base}      - "Mon 22:00-06:00 Mars/Olympus"\n`);
    expect(zone).toMatch(/^t\.yaml:8:26: .*Mars\/Olympus/);
    expect(errors(`${base}      - "Mon 22:00-06:00 UTC"\n    failureAction: revert\n`)).toEqual([expect.stringMatching(/spec\.update\.failureAction must be rollback, pause or continue/)]);
  });

  it('drops only the bad document of a file', () => {
    const good = 'apiVersion: fog/v1\nkind: Service\nmetadata: {name: good}\nspec: {image: x}\n';
    const r = loadText('t.yaml', `${good}---\napiVersion: fog/v1\nkind: Service\nmetadata: {name: bad}\nspec: {image: x, replicas: -1}\n`);
    expect(r.objects.map((o) => o.metadata.name)).toEqual(['good']);
    expect(r.errors).toEqual([expect.objectContaining({ line: 9, object: 'Service/bad', code: 'schema' })]);
  });

  it('drops the whole file on a YAML syntax error', () => {
    const good = 'apiVersion: fog/v1\nkind: Service\nmetadata: {name: good}\nspec: {image: x}\n';
    const r = loadText('t.yaml', `${good}---\nkey: [unclosed\n`);
    expect(r.objects).toEqual([]);
    expect(r.errors[0]).toMatchObject({ code: 'yaml-syntax', line: 7 });
  });

  it('reads YAML 1.2: on, yes and no are strings, an explicit %YAML 1.2 is fine', () => {
    const s = service('  env:\n    A: on\n    B: yes\n    C: no\n');
    expect(s.spec.env.map((e) => e.value)).toEqual(['on', 'yes', 'no']);
    expect(loadText('t.yaml', '%YAML 1.2\n---\napiVersion: fog/v1\nkind: Node\nmetadata: {name: n}\nspec: {endpoint: "unix:///s"}\n').errors).toEqual([]);
  });

  it('skips empty documents and comments-only files', () => {
    expect(loadText('t.yaml', '# nothing here\n---\n---\n')).toEqual({ objects: [], errors: [] });
    expect(loadText('t.yaml', '')).toEqual({ objects: [], errors: [] });
    expect(loadText('t.yaml', '---\n~\n').errors).toEqual([expect.objectContaining({ code: 'not-a-mapping', line: 2, col: 1 })]);
  });
});
