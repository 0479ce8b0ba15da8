// fast-check generators of valid fog/v1 manifests, as the plain values a
// person would write (short forms and long forms mixed), for the properties.

import fc from 'fast-check';

const name = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?$/);
const labelKey = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9._-]{0,6}[a-z0-9]$/), fc.constant('example.com/zone'));
const labelValue = fc.oneof(fc.stringMatching(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?)?$/), fc.constantFrom('1.4', 'true', 'yes', '0x10', 'null'));
const text = fc.string({ maxLength: 20 });
const port = fc.integer({ min: 1, max: 65535 });
const duration = fc.oneof(fc.constantFrom('10s', '1m30s', '500ms', '2h', '0s'), fc.nat(600));
const some = <T>(arb: fc.Arbitrary<T>, max = 3) => fc.array(arb, { maxLength: max });

const metadata = fc.record(
  {
    name,
    labels: fc.dictionary(labelKey, labelValue, { maxKeys: 4 }),
    annotations: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), text, { maxKeys: 3 }),
  },
  { requiredKeys: ['name'] },
);

const env = fc.dictionary(
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/),
  fc.oneof(text, fc.integer(), fc.boolean(), fc.record({ value: fc.oneof(text, fc.integer()), secret: fc.boolean() }, { requiredKeys: ['value'] })),
  { maxKeys: 5 },
);

type RawPort = { container: number; host?: number; protocol?: 'tcp' | 'udp' };
const ports = (hostNetwork: boolean) =>
  fc
    .uniqueArray(fc.record({ container: port, host: port, protocol: fc.constantFrom('tcp', 'udp') }, { requiredKeys: ['container'] }), {
      maxLength: 4,
      selector: (p: RawPort) => `${hostNetwork ? p.container : (p.host ?? `c${p.container}`)}/${p.protocol ?? 'tcp'}`,
    })
    .chain((list) => fc.tuple(...list.map((p) => fc.boolean().map((short) => asPort(hostNetwork ? { ...p, host: undefined } : p, short)))));

function asPort(p: RawPort, short: boolean): unknown {
  if (!short) return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined));
  return `${p.host !== undefined ? `${p.host}:` : ''}${p.container}${p.protocol ? `/${p.protocol}` : ''}`;
}

const volume = fc
  .record({
    source: fc.oneof(fc.constantFrom('/srv/data', '/etc/fog'), fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/)),
    target: fc.constantFrom('/data', '/var/lib/x'),
    readOnly: fc.boolean(),
    short: fc.boolean(),
  })
  .map(({ short, ...v }) => (short ? `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}` : v));

const constraint = fc.constantFrom(
  'node.labels.zone == line1',
  'node.labels.opcua >= 1.4',
  'node.name == press-1',
  'node.arch != arm64',
  'node.memory >= 1Gi',
  'node.labels.zone in [line1, line2]',
  'node.labels.gpu exists',
  'node.labels.gpu not exists',
);

const healthcheck = fc.record(
  {
    test: fc.oneof(
      fc.string({ minLength: 1, maxLength: 20 }),
      fc.tuple(fc.constantFrom('CMD', 'CMD-SHELL'), fc.string({ minLength: 1 })).map((t) => [...t]),
    ),
    interval: duration,
    timeout: duration,
    retries: fc.nat(10),
    startPeriod: duration,
  },
  { requiredKeys: ['test'] },
);

const serviceSpec = fc.constantFrom('host', 'none', 'bridge', undefined).chain((network) =>
  fc.record(
    {
      image: fc.constantFrom('fog/busybox:latest', 'busybox', 'registry.local:5000/app@sha256:abc'),
      command: fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.array(text, { minLength: 1, maxLength: 4 })),
      env,
      ports: ports(network === 'host'),
      ...(network ? { network: fc.constant(network) } : {}),
      volumes: some(volume),
      resources: fc.record(
        {
          cpu: fc.oneof(
            fc.nat(4),
            fc.nat(4000).map((m) => `${m}m`),
            fc.constant('0.5'),
          ),
          memory: fc.oneof(
            fc.nat(1 << 30),
            fc.nat(4096).map((m) => `${m}Mi`),
          ),
        },
        { requiredKeys: [] },
      ),
      devices: some(fc.nat(9).map((n) => `/dev/ttyUSB${n}`)),
      placement: fc.record(
        {
          constraints: some(constraint),
          spread: labelKey,
          maxPerNode: fc.integer({ min: 1, max: 5 }),
          affinity: some(name),
          antiAffinity: some(name),
          onNodeReturn: fc.constantFrom('keep-replacement', 'keep-original'),
        },
        { requiredKeys: [] },
      ),
      dependsOn: some(name),
      restart: fc.oneof(
        fc.constantFrom('always', 'on-failure', 'never'),
        fc.record({ policy: fc.constantFrom('always', 'on-failure', 'never'), maxRetries: fc.nat(20) }, { requiredKeys: ['policy'] }),
      ),
      update: fc.record({ parallelism: fc.integer({ min: 1, max: 5 }), order: fc.constantFrom('start-first', 'stop-first'), delay: duration }, { requiredKeys: [] }),
      healthcheck,
      stopGracePeriod: duration,
    },
    { requiredKeys: ['image'] },
  ),
);

const scheduling = fc.oneof(fc.constant({}), fc.constant({ mode: 'global' }), fc.record({ mode: fc.constant('replicated'), replicas: fc.nat(10) }, { requiredKeys: [] }));

export const serviceManifest = fc.record({ metadata, spec: fc.tuple(serviceSpec, scheduling).map(([s, m]) => ({ ...s, ...m })) }).map((m) => ({ apiVersion: 'fog/v1', kind: 'Service', ...m }));

const nodeSpec = fc.record(
  {
    endpoint: fc.constantFrom('unix:///var/run/docker.sock', 'unix:///var/run/fog-fleet/a/docker.sock'),
    address: fc.constantFrom('10.0.0.5', 'press-1.local'),
    devices: some(fc.nat(9).map((n) => `/dev/ttyACM${n}`)),
    capacity: fc.record({ cpu: fc.oneof(fc.nat(8), fc.constant('1500m')), memory: fc.constantFrom('2Gi', '512Mi', 1_000_000) }, { requiredKeys: [] }),
    unschedulable: fc.boolean(),
  },
  { requiredKeys: ['endpoint'] },
);
const tcpNode = fc.oneof(
  fc.constant({ endpoint: 'tcp://10.0.0.7:2376', tls: { ca: '/etc/fog/ca.pem', cert: '/etc/fog/cert.pem', key: '/etc/fog/key.pem' } }),
  fc.constant({ endpoint: 'tcp://press-2.local:2375', insecure: true }),
);

export const nodeManifest = fc
  .record({
    metadata,
    spec: fc.oneof(
      nodeSpec,
      fc.tuple(nodeSpec, tcpNode).map(([s, t]) => ({ ...s, ...t })),
    ),
  })
  .map((m) => ({ apiVersion: 'fog/v1', kind: 'Node', ...m }));

export const manifest = fc.oneof(serviceManifest, nodeManifest);
