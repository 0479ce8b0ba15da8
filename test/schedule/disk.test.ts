// Disk as a placement input: `resources.disk` against a Node's capacity.disk
// (or its data root's size), and the data root's free space against
// --disk-pressure. Table tests: node, request, wanted verdict and its text.
import { describe, expect, it } from 'vitest';
import type { DiskThreshold, ObservedNode } from '../../src/api/types.js';
import { placementRequest } from '../../src/reconcile/index.js';
import { buildNodeInfos, Scheduler } from '../../src/schedule/index.js';
import { belowThreshold } from '../../src/schedule/nodes.js';
import { explainUnschedulable, formatRejection } from '../../src/status/text.js';
import { facts, fogNode, Gi, managed, Mi, service, SETTINGS, type NodeOpts, type SpecOpts } from '../reconcile/model.js';

const PRESSURE: DiskThreshold = { percent: 5, bytes: 500 * Mi };

function node(o: NodeOpts | undefined, obs: Partial<ObservedNode> | undefined, pressure: DiskThreshold | null = PRESSURE) {
  const settings = pressure === null ? SETTINGS : { ...SETTINGS, diskPressure: pressure };
  const [info] = buildNodeInfos([fogNode('press-1', o)], [{ name: 'press-1', reachable: true, since: 0, lastSeen: 0, facts: facts(o), containers: [], ...obs }], settings, 0);
  return info!;
}

const cases: { name: string; node?: NodeOpts; obs?: Partial<ObservedNode>; pressure?: DiskThreshold | null; svc: SpecOpts; filter?: string; text?: string }[] = [
  { name: 'fits under capacity.disk', node: { capacity: { disk: 2 * Gi } }, svc: { resources: { disk: 1 * Gi } } },
  {
    name: 'capacity.disk smaller than the request',
    node: { capacity: { disk: 200 * Mi } },
    svc: { resources: { disk: 1 * Gi } },
    filter: 'NodeResources',
    text: 'insufficient disk (needs 1Gi, 200Mi free)',
  },
  {
    name: 'reservations of running containers count (ours and others)',
    node: { capacity: { disk: 2 * Gi } },
    obs: { containers: [managed('historian', 0, 'h', { resources: { disk: 1536 * Mi } }, 'other')] },
    svc: { resources: { disk: 1 * Gi } },
    filter: 'NodeResources',
    text: 'insufficient disk (needs 1Gi, 512Mi free)',
  },
  {
    name: 'without capacity.disk, the data root size is the capacity',
    obs: { disk: { free: 50 * Gi, total: 800 * Mi } },
    svc: { resources: { disk: 1 * Gi } },
    filter: 'NodeResources',
    text: 'insufficient disk (needs 1Gi, 800Mi free)',
  },
  { name: 'unknown disk capacity (engine over TCP) is not checked', svc: { resources: { disk: 100 * Gi } } },
  {
    name: 'data root below 500Mi free: disk pressure',
    obs: { disk: { free: 300 * Mi, total: 100 * Gi } },
    svc: {},
    filter: 'NodeDiskPressure',
    text: "disk pressure (300Mi of 100Gi free on the engine's data root; free space, or let image GC run: fogctl images prune --node NODE)",
  },
  { name: 'big disk: below 5% but above 500Mi free is no pressure (the smaller bound counts)', obs: { disk: { free: 4 * Gi, total: 100 * Gi } }, svc: {} },
  { name: 'small disk: below 5% free is pressure', obs: { disk: { free: 400 * Mi, total: 8 * Gi } }, svc: {}, filter: 'NodeDiskPressure' },
  { name: 'small disk: above 5% free is no pressure', obs: { disk: { free: 450 * Mi, total: 8 * Gi } }, svc: {} },
  { name: 'percentage alone', pressure: { percent: 5 }, obs: { disk: { free: 4 * Gi, total: 100 * Gi } }, svc: {}, filter: 'NodeDiskPressure' },
  { name: 'no --disk-pressure: never pressure', obs: { disk: { free: 1, total: 100 * Gi } }, pressure: null, svc: {} },
  { name: 'disk pressure comes before capacity', node: { capacity: { disk: 1 } }, obs: { disk: { free: 1, total: 100 * Gi } }, svc: { resources: { disk: Gi } }, filter: 'NodeDiskPressure' },
];

describe('disk filters', () => {
  for (const c of cases) {
    it(c.name, () => {
      const info = node(c.node, c.obs, c.pressure === undefined ? PRESSURE : c.pressure);
      const r = new Scheduler([info]).prepare(placementRequest(service('web', c.svc))).check(info);
      expect(r?.filter).toBe(c.filter);
      if (r !== undefined && c.text !== undefined) expect(formatRejection(r, 0)).toBe(c.text);
    });
  }

  it('counts disk pressure as its own cause, kube-scheduler style', () => {
    const a = node(undefined, { disk: { free: 10 * Mi, total: 10 * Gi } });
    const p = new Scheduler([a]).prepare(placementRequest(service('web', {})));
    expect(explainUnschedulable({ totalNodes: 1, verdicts: p.rejections() }, 0).message).toBe('0/1 nodes eligible: 1 disk pressure');
  });

  it('places replicas until the reserved disk is used up, never beyond', () => {
    const info = node({ capacity: { disk: 2 * Gi } }, undefined);
    const p = new Scheduler([info]).prepare(placementRequest(service('web', { resources: { disk: 700 * Mi } })));
    let placed = 0;
    for (let n = p.pick(); n !== undefined && placed < 10; n = p.pick()) {
      p.assign(n);
      placed++;
    }
    expect(placed).toBe(2);
    expect(info.reserved.disk).toBe(1400 * Mi);
  });

  it('threshold: the smaller bound counts', () => {
    expect(belowThreshold({ free: 400 * Mi, total: 1000 * Gi }, { bytes: 500 * Mi })).toBe(true);
    expect(belowThreshold({ free: 40 * Gi, total: 1000 * Gi }, { percent: 5 })).toBe(true);
    expect(belowThreshold({ free: 40 * Gi, total: 1000 * Gi }, { percent: 5, bytes: 500 * Mi })).toBe(false);
    expect(belowThreshold({ free: 400 * Mi, total: 1000 * Gi }, { percent: 5, bytes: 500 * Mi })).toBe(true);
    expect(belowThreshold({ free: 0, total: 1000 * Gi }, {})).toBe(false);
  });
});
