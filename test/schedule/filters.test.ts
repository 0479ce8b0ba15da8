// Table tests: one node, one request, the wanted verdict and its text.
import { describe, expect, it } from 'vitest';
import type { ObservedNode } from '../../src/api/types.js';
import { placementRequest } from '../../src/reconcile/index.js';
import { buildNodeInfos, Scheduler, type NodeInfo } from '../../src/schedule/index.js';
import { explainUnschedulable, formatRejection, reasonKey } from '../../src/status/text.js';
import { constraint, desiredState, facts, fogNode, Gi, managed, Mi, service, SETTINGS, type NodeOpts, type SpecOpts } from '../reconcile/model.js';

function infos(nodes: { name: string; o?: NodeOpts; obs?: Partial<ObservedNode> }[], now = 100_000): NodeInfo[] {
  return buildNodeInfos(
    nodes.map((n) => fogNode(n.name, n.o)),
    nodes.map((n) => ({ name: n.name, reachable: true, since: 0, lastSeen: now, facts: facts(n.o), containers: [], ...n.obs })),
    SETTINGS,
    now,
  );
}

const cases: { name: string; node?: NodeOpts; obs?: Partial<ObservedNode>; svc: SpecOpts; filter?: string; text?: string }[] = [
  { name: 'fits', svc: { resources: { cpu: 500, memory: 512 * Mi } } },
  {
    name: 'unreachable',
    obs: { reachable: false, since: 99_000, lastSeen: 98_500, error: 'connection refused' },
    svc: {},
    filter: 'NodeReachable',
    text: 'unreachable (last seen 1.5s ago: connection refused)',
  },
  { name: 'cordoned', node: { unschedulable: true }, svc: {}, filter: 'NodeSchedulable', text: 'node is cordoned (unschedulable)' },
  {
    name: 'label constraint',
    node: { labels: { zone: 'line2' } },
    svc: { placement: { constraints: [constraint('node.labels.zone == line1')] } },
    filter: 'NodeConstraint',
    text: 'node.labels.zone == line1 (zone is line2)',
  },
  {
    name: 'manifest label overrides engine label',
    node: { labels: { zone: 'line1' }, engineLabels: { zone: 'line2' } },
    svc: { placement: { constraints: [constraint('node.labels.zone == line1')] } },
  },
  {
    name: 'capacity override feeds constraints',
    node: { memory: 8 * Gi, capacity: { memory: 1 * Gi } },
    svc: { placement: { constraints: [constraint('node.memory >= 2Gi')] } },
    filter: 'NodeConstraint',
    text: 'node.memory >= 2Gi (memory is 1Gi)',
  },
  { name: 'name constraint', svc: { placement: { constraints: [constraint('node.name == press-1')] } }, filter: 'NodeNameConstraint', text: 'node.name == press-1 (name is press-2)' },
  { name: 'missing device', node: { devices: ['/dev/video0'] }, svc: { devices: ['/dev/ttyUSB0'] }, filter: 'NodeDevices', text: 'missing device /dev/ttyUSB0' },
  {
    name: 'insufficient memory',
    node: { memory: 2 * Gi },
    obs: { containers: [managed('other', 0, 'h', { resources: { memory: 1536 * Mi } }, 'elsewhere')] },
    svc: { resources: { memory: 1 * Gi } },
    filter: 'NodeResources',
    text: 'insufficient memory (needs 1Gi, 512Mi free)',
  },
  { name: 'insufficient cpu', node: { cpu: 1000 }, svc: { resources: { cpu: 1500 } }, filter: 'NodeResources', text: 'insufficient cpu (needs 1500m, 1 free)' },
  {
    name: 'maxPerNode',
    obs: { containers: [managed('web', 0, 'h'), managed('web', 1, 'h')] },
    svc: { placement: { maxPerNode: 2 } },
    filter: 'MaxPerNode',
    text: 'already runs 2 replica(s) (maxPerNode 2)',
  },
  { name: 'affinity', svc: { placement: { affinity: ['mqtt-broker'] } }, filter: 'ServiceAffinity', text: 'no replica of mqtt-broker on the node (affinity)' },
  { name: 'affinity met', obs: { containers: [managed('mqtt-broker', 0, 'h')] }, svc: { placement: { affinity: ['mqtt-broker'] } } },
  {
    name: 'anti-affinity',
    obs: { containers: [managed('historian', 0, 'h')] },
    svc: { placement: { antiAffinity: ['historian'] } },
    filter: 'ServiceAntiAffinity',
    text: 'runs a replica of historian (anti-affinity)',
  },
  {
    name: 'host port, bridge',
    obs: { containers: [managed('x', 0, 'h', { hostPorts: ['tcp/8080'] }, 'other')] },
    svc: { ports: [{ container: 80, host: 8080, protocol: 'tcp' }] },
    filter: 'HostPorts',
    text: 'host port tcp/8080 already in use',
  },
  {
    name: 'host port, host network',
    obs: { containers: [managed('x', 0, 'h', { hostPorts: ['udp/5000'] }, 'other')] },
    svc: { network: 'host', ports: [{ container: 5000, protocol: 'udp' }] },
    filter: 'HostPorts',
    text: 'host port udp/5000 already in use',
  },
  { name: 'bridge port without host mapping binds nothing', obs: { containers: [managed('x', 0, 'h', { hostPorts: ['tcp/80'] }, 'other')] }, svc: { ports: [{ container: 80, protocol: 'tcp' }] } },
];

describe('filters', () => {
  for (const c of cases) {
    it(c.name, () => {
      const [node] = infos([{ name: 'press-2', o: c.node, obs: c.obs }]);
      const sched = new Scheduler([node!]);
      const r = sched.prepare(placementRequest(service('web', c.svc))).check(node!);
      expect(r?.filter).toBe(c.filter);
      if (r !== undefined) expect(formatRejection(r, 100_000)).toBe(c.text);
    });
  }

  it('reports the first filter in pipeline order', () => {
    const [node] = infos([{ name: 'n', o: { unschedulable: true, devices: [] } }]);
    const r = new Scheduler([node!]).prepare(placementRequest(service('web', { devices: ['/dev/ttyUSB0'] }))).check(node!);
    expect(r?.filter).toBe('NodeSchedulable');
  });
});

describe('explainUnschedulable', () => {
  it('counts nodes per reason, kube-scheduler style', () => {
    const nodes = infos([
      { name: 'press-1', o: { devices: [] } },
      { name: 'press-2', o: { devices: [] } },
      { name: 'press-3', o: { devices: ['/dev/ttyUSB0'], memory: 512 * Mi } },
      { name: 'press-4', o: { devices: ['/dev/ttyUSB0'] }, obs: { reachable: false, since: 99_000, lastSeen: 99_000 } },
    ]);
    const p = new Scheduler(nodes).prepare(placementRequest(service('plc-gw', { devices: ['/dev/ttyUSB0'], resources: { memory: 1 * Gi } })));
    const u = explainUnschedulable({ slot: 0, totalNodes: nodes.length, verdicts: p.rejections() }, 100_000);
    expect(u.message).toBe('0/4 nodes eligible: 2 missing device /dev/ttyUSB0, 1 insufficient memory (needs 1Gi, 512Mi free), 1 unreachable');
    expect(u.counts).toEqual({ 'missing device /dev/ttyUSB0': 2, 'insufficient memory': 1, unreachable: 1 });
    expect(u.slot).toBe(0);
    expect(u.perNode.map((x) => `${x.node}: ${x.message}`)).toEqual([
      'press-1: missing device /dev/ttyUSB0',
      'press-2: missing device /dev/ttyUSB0',
      'press-3: insufficient memory (needs 1Gi, 512Mi free)',
      'press-4: unreachable (last seen 1.0s ago)',
    ]);
  });

  it('shows the largest free amount when several nodes lack room', () => {
    const nodes = infos([
      { name: 'a', o: { memory: 512 * Mi } },
      { name: 'b', o: { memory: 768 * Mi } },
    ]);
    const p = new Scheduler(nodes).prepare(placementRequest(service('x', { resources: { memory: 1 * Gi } })));
    expect(explainUnschedulable({ totalNodes: 2, verdicts: p.rejections() }, 0).message).toBe('0/2 nodes eligible: 2 insufficient memory (needs 1Gi, at most 768Mi free)');
  });

  it('keys every rejection kind', () => {
    expect(reasonKey({ filter: 'NodeConstraint', constraint: 'node.arch == arm64', detail: 'arch is amd64' })).toBe('not matching node.arch == arm64');
    expect(reasonKey({ filter: 'HostPorts', port: 'tcp/80' })).toBe('host port tcp/80 in use');
    expect(reasonKey({ filter: 'MaxPerNode', max: 1, running: 1 })).toBe('at maxPerNode 1');
  });
});

describe('placement scoring', () => {
  const place = (nodes: NodeInfo[], svc: SpecOpts, n: number): string[] => {
    const p = new Scheduler(nodes).prepare(placementRequest(service('web', svc)));
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const node = p.pick();
      if (node === undefined) break;
      p.assign(node);
      out.push(node.name);
    }
    return out;
  };

  it('spreads across the spread label first, then least reserved, then name', () => {
    const nodes = infos([
      { name: 'a1', o: { labels: { zone: 'a' } } },
      { name: 'a2', o: { labels: { zone: 'a' } } },
      { name: 'b1', o: { labels: { zone: 'b' } } },
    ]);
    expect(place(nodes, { placement: { spread: 'zone' }, resources: { cpu: 1000 } }, 5)).toEqual(['a1', 'b1', 'a2', 'b1', 'a1']);
  });

  it('without spread, prefers nodes with fewer replicas of the service, then the least reserved', () => {
    const nodes = infos([
      { name: 'big', o: { cpu: 8000 } },
      { name: 'small', o: { cpu: 2000 } },
      { name: 'tiny', o: { cpu: 1000 }, obs: { containers: [managed('other', 0, 'h', { resources: { cpu: 500 } }, 'x')] } },
    ]);
    expect(place(nodes, { resources: { cpu: 500 } }, 6)).toEqual(['big', 'small', 'tiny', 'big', 'small', 'big']);
  });

  it('spreads services that reserve nothing', () => {
    const nodes = infos([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    expect(place(nodes, {}, 4)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('stops when no node fits, and never over-commits', () => {
    const nodes = infos([{ name: 'a', o: { cpu: 2000 } }]);
    expect(place(nodes, { resources: { cpu: 1000 } }, 5)).toEqual(['a', 'a']);
  });

  it('evaluates class-scoped filters once per equivalence class', () => {
    const nodes = infos(Array.from({ length: 50 }, (_, i) => ({ name: `n${i}`, o: { labels: { zone: i % 2 ? 'a' : 'b' } } })));
    expect(new Set(nodes.map((n) => n.classId)).size).toBe(2);
    expect(place(nodes, { placement: { constraints: [constraint('node.labels.zone == a')] } }, 3)).toEqual(['n1', 'n11', 'n13']);
    expect(place(nodes, { placement: { constraints: [constraint('node.labels.zone == c')] } }, 1)).toEqual([]);
  });
});

export { desiredState };
