// Policy decisions as tables: what a service asks, what a node (and the
// controller) allows, and the answer; the never-allowed mounts; the refusal
// and the Unschedulable text as reconcile reports them; and the container
// config the executor sends.

import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type NodeAllow, type ObservedNode, type Policy } from '../../src/api/types.js';
import { redactAction, redactActionWith, redactEnv, secretName } from '../../src/api/redact.js';
import { createBody, securityConfig } from '../../src/apply/container-config.js';
import { DEFAULT_POLICY, parsePolicyFlags } from '../../src/cli/policy-flags.js';
import { reconcile } from '../../src/reconcile/index.js';
import { effectiveAllow, neverAllowedReason, NOTHING_ALLOWED, policyRejection, refusal, securityRequest, underPrefix } from '../../src/schedule/security.js';
import { formatPolicyRejection, policyReasonKey } from '../../src/status/text.js';
import { showStatus } from '../../src/status/doc.js';
import { NO_HISTORY } from '../../src/api/types.js';
import { containerShape, containerSpec } from '../../src/reconcile/index.js';
import { node, service } from './support.js';

const allow = (a: Partial<NodeAllow>): NodeAllow => ({ ...NOTHING_ALLOWED, ...a });

describe('what a node allows (SecurityPolicy filter)', () => {
  const cases: [string, string, Partial<NodeAllow>, string | undefined][] = [
    ['plain service, nothing allowed', '', {}, undefined],
    ['named volume needs nothing', '  volumes: [tally:/var/lib/tally]\n', {}, undefined],
    ['privileged, not allowed', '  security: {privileged: true}\n', {}, 'privileged not allowed'],
    ['privileged, allowed', '  security: {privileged: true}\n', { privileged: true }, undefined],
    ['hostPID, not allowed', '  security: {hostPID: true}\n', { privileged: true }, 'hostPID not allowed'],
    ['hostPID, allowed', '  security: {hostPID: true}\n', { hostPID: true }, undefined],
    ['hostIPC, not allowed', '  security: {hostIPC: true}\n', { hostPID: true }, 'hostIPC not allowed'],
    ['hostIPC, allowed', '  security: {hostIPC: true}\n', { hostIPC: true }, undefined],
    ['capability, not allowed', '  security: {capAdd: [NET_ADMIN]}\n', { capabilities: ['SYS_TIME'] }, 'capability NET_ADMIN not allowed'],
    ['capability, allowed (CAP_ prefix, any case)', '  security: {capAdd: [cap_net_admin]}\n', { capabilities: ['NET_ADMIN'] }, undefined],
    ['capability, ALL allowed', '  security: {capAdd: [SYS_ADMIN]}\n', { capabilities: ['ALL'] }, undefined],
    ['capability ALL needs ALL', '  security: {capAdd: [ALL]}\n', { capabilities: ['SYS_ADMIN'] }, 'capability ALL not allowed'],
    ['host path, nothing allowed', '  volumes: [/data/line1:/data]\n', {}, 'host path /data/line1 not allowed'],
    ['host path under an allowed prefix', '  volumes: [/data/line1:/data]\n', { hostPaths: ['/data'] }, undefined],
    ['host path equal to the prefix', '  volumes: [/data:/data]\n', { hostPaths: ['/data'] }, undefined],
    ['a prefix is a path prefix, not a string prefix', '  volumes: [/database:/db]\n', { hostPaths: ['/data'] }, 'host path /database not allowed'],
    ['/etc with /data allowed', '  volumes: [/etc:/etc:ro]\n', { hostPaths: ['/data'] }, 'host path /etc not allowed'],
    ['read-only does not make a path allowed', '  volumes: [{source: /etc, target: /etc, readOnly: true}]\n', {}, 'host path /etc not allowed'],
    ['privileged is checked first', '  security: {privileged: true, capAdd: [NET_ADMIN]}\n  volumes: [/etc:/x]\n', {}, 'privileged not allowed'],
  ];
  it.each(cases)('%s', (_name, spec, a, want) => {
    const req = securityRequest(service('svc', spec));
    const r = req === undefined ? undefined : policyRejection(req, allow(a), 'press-2');
    expect(r === undefined ? undefined : policyReasonKey(r)).toBe(want);
  });

  it('asks nothing of a plain service (the fast path)', () => {
    expect(securityRequest(service('svc', '  volumes: [v:/v]\n  devices: [/dev/ttyUSB0]\n'))).toBeUndefined();
  });

  it('says how to allow it, per node', () => {
    const r = (spec: string, a: Partial<NodeAllow> = {}) => formatPolicyRejection(policyRejection(securityRequest(service('svc', spec))!, allow(a), 'press-2')!);
    expect(r('  security: {privileged: true}\n')).toBe('privileged not allowed on press-2 (set spec.allow.privileged on the Node or run the controller with --allow-privileged)');
    expect(r('  security: {hostPID: true}\n')).toBe('hostPID not allowed on press-2 (set spec.allow.hostPID on the Node or run the controller with --allow-host-pid)');
    expect(r('  volumes: [/etc:/etc]\n', { hostPaths: ['/data'] })).toBe(
      'host path /etc not allowed on press-2 (allowed: /data; add a prefix to spec.allow.hostPaths on the Node or run the controller with --allow-host-paths)',
    );
    expect(r('  security: {capAdd: [NET_ADMIN]}\n')).toMatch(/^capability NET_ADMIN not allowed on press-2 \(allowed: none; .*--allow-capabilities NET_ADMIN\)$/);
  });

  it('or-s the node allowance with the controller policy', () => {
    const policy: Policy = { allow: allow({ privileged: true, hostPaths: ['/var/log'], capabilities: ['SYS_TIME'] }), secretPattern: '' };
    expect(effectiveAllow(allow({ hostPaths: ['/data'], capabilities: ['NET_ADMIN'] }), policy)).toEqual({
      privileged: true,
      hostPID: false,
      hostIPC: false,
      capabilities: ['NET_ADMIN', 'SYS_TIME'],
      hostPaths: ['/data', '/var/log'],
    });
    expect(effectiveAllow(undefined, undefined)).toEqual(NOTHING_ALLOWED);
    expect(effectiveAllow(undefined, DEFAULT_POLICY)).toEqual(NOTHING_ALLOWED);
  });

  it('matches prefixes by path component', () => {
    expect([underPrefix('/data', '/data'), underPrefix('/data/x', '/data'), underPrefix('/database', '/data'), underPrefix('/etc', '/')]).toEqual([true, true, false, true]);
  });
});

describe('never allowed, whatever is allowed', () => {
  const cases: [string, RegExp | undefined][] = [
    ['/', /host root filesystem/],
    ['/var/run/docker.sock', /engine socket/],
    ['/run/docker.sock', /engine socket/],
    ['/srv/engines/docker.sock', /engine socket/],
    ['/run/containerd/containerd.sock', /engine socket/],
    ['/var/run', /contains \/var\/run\/docker\.sock/],
    ['/run', /contains \/run\/docker\.sock/],
    ['/var', /contains/],
    ['/var/lib/docker/volumes', /engine socket or its state/],
    ['/proc', /under \/proc/],
    ['/proc/1/root', /under \/proc/],
    ['/sys/class/gpio', /under \/sys/],
    ['/dev', /under \/dev/],
    ['/dev/ttyUSB0', /use spec\.devices/],
    ['/tmp/fleet/n1', /contains \/tmp\/fleet\/n1\/docker\.sock/],
    ['/data/../var/run/docker.sock', /not a normalised/],
    ['/data', undefined],
    ['/var/log', undefined],
    ['/etc', undefined],
    ['/srv/docker-data', undefined],
  ];
  it.each(cases)('%s', (source, want) => {
    const why = neverAllowedReason(source, ['/tmp/fleet/n1/docker.sock']);
    if (want === undefined) expect(why).toBeUndefined();
    else expect(why).toMatch(want);
  });

  it('refuses the service as a whole, naming each volume', () => {
    const s = service('svc', '  volumes: [/data:/data, /var/run/docker.sock:/var/run/docker.sock, "/:/host:ro"]\n');
    expect(refusal(s)).toEqual([
      'spec.volumes[1]: /var/run/docker.sock is a container engine socket: it gives root on the node and is never mounted',
      'spec.volumes[2]: the host root filesystem / is never mounted',
    ]);
    expect(refusal(service('ok', '  volumes: [/data:/data]\n'))).toEqual([]);
  });
});

describe('in reconcile', () => {
  const observed = (name: string): ObservedNode => ({
    name,
    reachable: true,
    since: 0,
    lastSeen: 0,
    facts: { engineName: name, arch: 'amd64', os: 'linux', cpu: 4000, memory: 8 << 30, labels: {} },
    containers: [],
  });
  const nodes = ['press-1', 'press-2', 'press-3'];
  const world = (spec: string, opts: { allow?: Partial<NodeAllow>; policy?: Policy } = {}) => {
    const out = reconcile(
      {
        nodes: nodes.map((n) => node(n, n === 'press-3' && opts.allow ? { allow: allow(opts.allow) } : {})),
        services: [service('svc', spec)],
        settings: { ...DEFAULT_SETTINGS, ...(opts.policy ? { policy: opts.policy } : {}) },
      },
      { nodes: nodes.map(observed) },
      NO_HISTORY,
      1_000,
    );
    return { ...out, status: showStatus(out.status, 1_000) };
  };

  it('refuses a never-allowed service outright: condition Refused, reason PolicyRefused, no action at all', () => {
    for (const policy of [undefined, { allow: allow({ privileged: true, hostPaths: ['/'] }), secretPattern: '' }]) {
      const out = world('  replicas: 2\n  volumes: [/var/run/docker.sock:/var/run/docker.sock]\n', policy ? { policy } : {});
      expect(out.actions).toEqual([]);
      const st = out.status.services[0]!;
      expect(st.conditions).toContainEqual({
        type: 'Refused',
        status: true,
        reason: 'PolicyRefused',
        note: { code: 'PolicyRefused', reasons: [expect.stringContaining('/var/run/docker.sock')] },
        message: 'refused by the security policy: spec.volumes[0]: /var/run/docker.sock is a container engine socket: it gives root on the node and is never mounted',
      });
      expect(st).toMatchObject({ desired: 2, ready: 0 });
      expect(out.status.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'PolicyRefused', object: 'service/svc' }));
    }
  });

  it('leaves a service unschedulable where nothing allows it, counting nodes per cause', () => {
    const out = world('  security: {privileged: true}\n');
    expect(out.actions).toEqual([]);
    expect(out.status.services[0]!.unschedulable).toMatchObject({
      message: '0/3 nodes eligible: 3 privileged not allowed',
      perNode: [
        { node: 'press-1', filter: 'SecurityPolicy', message: 'privileged not allowed on press-1 (set spec.allow.privileged on the Node or run the controller with --allow-privileged)' },
        expect.anything(),
        expect.anything(),
      ],
    });
  });

  it('places it on the one node that allows it, or anywhere with the controller flag', () => {
    const onNode = world('  security: {privileged: true}\n', { allow: { privileged: true } });
    expect(onNode.actions.map((a) => [a.type, a.node])).toEqual([['create', 'press-3']]);
    const anywhere = world('  replicas: 3\n  security: {privileged: true}\n', { policy: { allow: allow({ privileged: true }), secretPattern: '' } });
    expect(anywhere.actions.map((a) => a.node).sort()).toEqual(nodes);
    const paths = world('  volumes: [/etc:/etc]\n', { allow: { hostPaths: ['/data'] } });
    expect(paths.status.services[0]!.unschedulable?.message).toBe('0/3 nodes eligible: 3 host path /etc not allowed');
  });

  it('replaces a replica when its security settings change (they are part of the spec hash)', () => {
    const a = world('  security: {privileged: true}\n', { allow: { privileged: true } }).status.services[0]!.specHash;
    const b = world('', { allow: { privileged: true } }).status.services[0]!.specHash;
    const c = world('  security: {privileged: false}\n', { allow: { privileged: true } }).status.services[0]!.specHash;
    expect(a).not.toBe(b);
    expect(c).not.toBe(a);
  });
});

describe('the container config', () => {
  const spec = (text: string) => {
    const s = service('svc', text);
    return containerSpec('c', s, 0, 'h', 'n1', containerShape(s));
  };
  const body = (text: string) => createBody(spec(text)) as { HostConfig: Record<string, unknown> };

  it('keeps Docker defaults and adds no-new-privileges for a plain service', () => {
    expect(body('').HostConfig).toMatchObject({ Privileged: false, CapAdd: [], CapDrop: [], SecurityOpt: ['no-new-privileges'], Devices: [], Binds: [] });
    expect(body('').HostConfig).not.toHaveProperty('PidMode');
    expect(body('').HostConfig).not.toHaveProperty('IpcMode');
  });

  it('sets only what the spec asks', () => {
    expect(body('  security: {privileged: true}\n').HostConfig).toMatchObject({ Privileged: true, SecurityOpt: [] });
    expect(body('  security: {hostPID: true, hostIPC: true, capAdd: [NET_ADMIN, cap_sys_time]}\n').HostConfig).toMatchObject({
      Privileged: false,
      PidMode: 'host',
      IpcMode: 'host',
      CapAdd: ['NET_ADMIN', 'SYS_TIME'],
      SecurityOpt: ['no-new-privileges'],
    });
    expect(securityConfig({})).toEqual({ Privileged: false, CapAdd: [], CapDrop: [], SecurityOpt: ['no-new-privileges'] });
  });

  it('maps exactly the devices the spec names', () => {
    expect(body('  devices: [/dev/ttyUSB0]\n').HostConfig.Devices).toEqual([{ PathOnHost: '/dev/ttyUSB0', PathInContainer: '/dev/ttyUSB0', CgroupPermissions: 'rwm' }]);
  });
});

describe('the controller flags', () => {
  it('parses them into a Policy', () => {
    expect(parsePolicyFlags({})).toEqual({ ok: true, policy: DEFAULT_POLICY });
    expect(parsePolicyFlags({ allowPrivileged: true, allowCapabilities: 'sys_time, CAP_NET_ADMIN', allowHostPaths: '/var/log,/data/', secretPattern: '^PIN$' })).toEqual({
      ok: true,
      policy: { allow: { privileged: true, hostPID: false, hostIPC: false, capabilities: ['NET_ADMIN', 'SYS_TIME'], hostPaths: ['/data', '/var/log'] }, secretPattern: '^PIN$' },
    });
  });

  it('refuses bad values with the flag named', () => {
    expect(parsePolicyFlags({ allowCapabilities: 'NET_ADMN' })).toEqual({ ok: false, error: '--allow-capabilities: "NET_ADMN" is not a Linux capability, did you mean "NET_ADMIN"?' });
    expect(parsePolicyFlags({ allowHostPaths: 'data' })).toMatchObject({ ok: false, error: expect.stringMatching(/^--allow-host-paths: "data" must be an absolute path/) });
    expect(parsePolicyFlags({ allowHostPaths: '/data/../etc' })).toMatchObject({ ok: false });
    expect(parsePolicyFlags({ secretPattern: '(' })).toMatchObject({ ok: false, error: expect.stringMatching(/^--secret-pattern "\(" is not a valid regular expression/) });
  });
});

describe('the secret pattern (--secret-pattern)', () => {
  const env = [
    { name: 'DB_PASSWORD', value: 'p', secret: false },
    { name: 'OPCUA_PIN', value: '1234', secret: false },
    { name: 'DECLARED', value: 'd', secret: true },
    { name: 'LINE', value: 'line1', secret: false },
  ];
  it('adds to PASSWORD|SECRET|TOKEN|KEY, case-insensitively, and never takes away', () => {
    expect(redactEnv(env).map((e) => e.value)).toEqual(['[secret]', '1234', '[secret]', 'line1']);
    expect(redactEnv(env, secretName('pin$')).map((e) => e.value)).toEqual(['[secret]', '[secret]', '[secret]', 'line1']);
    expect(redactEnv(env, secretName('^LINE$')).map((e) => e.value)).toEqual(['[secret]', '1234', '[secret]', '[secret]']);
  });

  it('hides every value when the pattern does not compile', () => {
    expect(redactEnv(env, secretName('(')).every((e) => e.value === '[secret]')).toBe(true);
  });

  it('redacts planned creates with it', () => {
    const s = service('svc', '  env:\n    OPCUA_PIN: "1234"\n    LINE: l\n');
    const create = {
      type: 'create',
      node: 'n',
      service: 'svc',
      slot: 0,
      reason: 'Scheduled',
      note: { code: 'Scheduled', slot: 0, container: 'c', node: 'n' },
      start: true,
      container: containerSpec('c', s, 0, 'h', 'n', containerShape(s)),
    } as const;
    expect(redactActionWith(secretName('PIN'))(create)).toMatchObject({
      container: {
        env: [
          { name: 'OPCUA_PIN', value: '[secret]' },
          { name: 'LINE', value: 'l' },
        ],
      },
    });
    expect(redactAction(create)).toMatchObject({
      container: {
        env: [
          { name: 'OPCUA_PIN', value: '1234' },
          { name: 'LINE', value: 'l' },
        ],
      },
    });
  });
});
