// The loader's security fields: Service spec.security and Node spec.allow,
// their defaults (absent: nothing asked, nothing allowed) and their errors at file:line:col.

import { describe, expect, it } from 'vitest';
import type { FogNode, Service } from '../../src/api/types.js';
import { formatError, loadText } from '../../src/manifest/index.js';

const svcDoc = (spec: string) => `apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: svc\nspec:\n  image: fog/busybox:latest\n${spec}`;
const nodeDoc = (spec: string) => `apiVersion: fog/v1\nkind: Node\nmetadata:\n  name: n1\nspec:\n  endpoint: unix:///run/fog/n1.sock\n${spec}`;
const errors = (text: string) => loadText('t.yaml', text).errors.map(formatError);
/** Exactly one error, starting with `want` (file:line:col: message). */
function expectOneError(text: string, want: string): void {
  const got = errors(text);
  expect(got).toHaveLength(1);
  expect(got[0]!.startsWith(want), got[0]).toBe(true);
}
const one = <T>(text: string): T => {
  const r = loadText('t.yaml', text);
  expect(r.errors.map(formatError)).toEqual([]);
  return r.objects[0] as T;
};

describe('Service spec.security', () => {
  it('is absent unless written (every field at its secure default)', () => {
    expect(one<Service>(svcDoc('')).spec.security).toBeUndefined();
  });

  it('fills defaults and normalises capability names', () => {
    expect(one<Service>(svcDoc('  security: {}\n')).spec.security).toEqual({ privileged: false, hostPID: false, hostIPC: false, capAdd: [] });
    expect(one<Service>(svcDoc('  security:\n    hostPID: true\n    capAdd: [sys_time, CAP_NET_ADMIN, NET_ADMIN]\n')).spec.security).toEqual({
      privileged: false,
      hostPID: true,
      hostIPC: false,
      capAdd: ['NET_ADMIN', 'SYS_TIME'],
    });
  });

  it.each([
    ['  security:\n    privileged: yes\n', 't.yaml:8:17: spec.security.privileged must be true or false, got "yes"'],
    ['  security:\n    hostPid: true\n', 't.yaml:8:5: unknown field "hostPid" in spec.security, did you mean "hostPID"?'],
    ['  security:\n    capAdd: [NET_ADMIN, NET_ADMN]\n', 't.yaml:8:25: spec.security.capAdd[1]: "NET_ADMN" is not a Linux capability, did you mean "NET_ADMIN"?'],
    ['  security:\n    capAdd: [CAP-X]\n', 't.yaml:8:14: spec.security.capAdd[0] must be a capability name like NET_ADMIN, got "CAP-X"'],
    ['  security:\n    capAdd: NET_ADMIN\n', 't.yaml:8:13: spec.security.capAdd must be a list of capability names like [NET_ADMIN, SYS_TIME], got "NET_ADMIN"'],
    ['  volumes: [/data/../etc:/etc]\n', 't.yaml:7:13: spec.volumes[0] has source "/data/../etc": write the host path without . or .. segments and //'],
    ['  volumes:\n    - source: //etc\n      target: /etc\n', 't.yaml:8:15: spec.volumes[0].source has source "//etc": write the host path without . or .. segments and //'],
  ])('%j is an error at its position', (spec, want) => expectOneError(svcDoc(spec), want));
});

describe('Node spec.allow', () => {
  it('is absent unless written (nothing allowed)', () => {
    expect(one<FogNode>(nodeDoc('')).spec.allow).toBeUndefined();
  });

  it('fills defaults, normalises capabilities and paths', () => {
    expect(one<FogNode>(nodeDoc('  allow:\n    privileged: true\n    capabilities: [net_admin]\n    hostPaths: [/var/log, /data/, /data]\n')).spec.allow).toEqual({
      privileged: true,
      hostPID: false,
      hostIPC: false,
      capabilities: ['NET_ADMIN'],
      hostPaths: ['/data', '/var/log'],
    });
  });

  it.each([
    ['  allow:\n    hostPaths: [data]\n', 't.yaml:8:17: spec.allow.hostPaths[0] must be an absolute host path like /data, got "data"'],
    ['  allow:\n    hostPaths: [/data/./x]\n', 't.yaml:8:17: spec.allow.hostPaths[0] is "/data/./x": write it without . or .. segments and //'],
    ['  allow:\n    capabilities: [NOPE]\n', 't.yaml:8:20: spec.allow.capabilities[0]: "NOPE" is not a Linux capability'],
    ['  allow:\n    privileged: 1\n', 't.yaml:8:17: spec.allow.privileged must be true or false, got 1'],
    ['  allow: true\n', 't.yaml:7:10: spec.allow must be a mapping with privileged, hostPID, hostIPC, capabilities and hostPaths, got true'],
  ])('%j is an error at its position', (spec, want) => expectOneError(nodeDoc(spec), want));
});
