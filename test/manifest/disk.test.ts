// resources.disk and capacity.disk: quantities like memory, with located errors that say disk.
import { describe, expect, it } from 'vitest';
import { formatError, loadText } from '../../src/manifest/index.js';

const node = (capacity: string) => `apiVersion: fog/v1\nkind: Node\nmetadata:\n  name: press-1\nspec:\n  endpoint: unix:///run/d.sock\n  capacity: ${capacity}\n`;
const svc = (resources: string) => `apiVersion: fog/v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  image: fog/busybox:latest\n  resources: ${resources}\n`;

describe('disk quantities in manifests', () => {
  it('reads resources.disk and capacity.disk as bytes', () => {
    const [s] = loadText('s.yaml', svc('{disk: 512Mi}')).objects;
    const [n] = loadText('n.yaml', node('{disk: 2Gi, cpu: 1}')).objects;
    expect(s?.kind === 'Service' && s.spec.resources).toEqual({ disk: 512 * 2 ** 20 });
    expect(n?.kind === 'Node' && n.spec.capacity).toEqual({ cpu: 1000, disk: 2 * 2 ** 30 });
  });

  it('refuses a bad disk quantity with its place and what is allowed', () => {
    expect(loadText('s.yaml', svc('{disk: 1GB}')).errors.map(formatError)).toEqual([
      's.yaml:7:21: spec.resources.disk must be a disk quantity: unit "GB" is not allowed; write Gi (powers of 1024) or G (powers of 1000), got "1GB"',
    ]);
    expect(loadText('n.yaml', node('{disk: lots}')).errors.map(formatError)[0]).toMatch(/^n\.yaml:7:20: spec\.capacity\.disk must be a disk quantity like 512Mi/);
  });
});
