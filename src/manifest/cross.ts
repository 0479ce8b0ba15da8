// Checks over the whole set of objects: unique names, references that
// resolve, no dependsOn cycles. An object that fails one is dropped, and so,
// in turn, is any service that refers to it: what is returned is closed
// under references, so the scheduler never meets a name it cannot find.

import type { FogObject, LoadError, Service } from '../api/types.js';
import { loadError, type ErrorCode } from './errors.js';
import type { SourceDoc } from './parse.js';

export interface Located {
  object: FogObject;
  doc: SourceDoc;
}

const id = (o: FogObject) => `${o.kind}/${o.metadata.name}`;
const REFERENCES = [
  ['dependsOn', (s: Service) => s.spec.dependsOn, ['spec', 'dependsOn']],
  ['affinity', (s: Service) => s.spec.placement.affinity, ['spec', 'placement', 'affinity']],
  ['antiAffinity', (s: Service) => s.spec.placement.antiAffinity, ['spec', 'placement', 'antiAffinity']],
] as const;

/** `invalid`: names of services that were written but dropped for their own errors. */
export function crossCheck(items: Located[], invalid: ReadonlySet<string>): { kept: Located[]; errors: LoadError[] } {
  const errors: LoadError[] = [];
  const fail = (item: Located, path: readonly (string | number)[], code: ErrorCode, message: string) => errors.push(loadError(item.doc.pos(path), code, message, id(item.object)));

  const byId = new Map<string, Located[]>();
  for (const item of items) byId.set(id(item.object), [...(byId.get(id(item.object)) ?? []), item]);
  let kept: Located[] = [];
  for (const [name, group] of byId) {
    if (group.length === 1) kept.push(group[0]!);
    else {
      const places = group.map((g) => `${g.object.source.file}:${g.object.source.line}`).join(', ');
      for (const g of group) {
        fail(g, ['metadata', 'name'], 'duplicate-object', `${name} is defined ${group.length} times (${places}); none of them is used`);
      }
    }
  }

  // Dropping a service can break a reference elsewhere: repeat until nothing changes.
  const dropped = new Set(invalid);
  for (const [name, group] of byId) if (group.length > 1 && name.startsWith('Service/')) dropped.add(name.slice('Service/'.length));
  for (let changed = true; changed;) {
    const before = kept.length;
    const names = new Set(kept.filter((k) => k.object.kind === 'Service').map((k) => k.object.metadata.name));
    kept = kept.filter((item) => {
      if (item.object.kind !== 'Service') return true;
      let ok = true;
      for (const [field, get, path] of REFERENCES) {
        get(item.object).forEach((ref, i) => {
          if (names.has(ref)) return;
          ok = false;
          const why = dropped.has(ref) ? 'which has errors and is not used' : 'which is not defined';
          fail(item, [...path, i], 'unknown-reference', `spec.${path.length === 3 ? 'placement.' : ''}${field}[${i}] names service "${ref}", ${why}`);
        });
      }
      if (!ok) dropped.add(item.object.metadata.name);
      return ok;
    });
    const cycles = dependencyCycles(kept.flatMap((k) => (k.object.kind === 'Service' ? [k.object] : [])));
    kept = kept.filter((item) => {
      const cycle = item.object.kind === 'Service' ? cycles.get(item.object.metadata.name) : undefined;
      if (!cycle) return true;
      const at = (item.object as Service).spec.dependsOn.indexOf(cycle[1]!);
      fail(item, ['spec', 'dependsOn', at], 'dependency-cycle', `spec.dependsOn makes a cycle: ${cycle.join(' → ')}`);
      dropped.add(item.object.metadata.name);
      return false;
    });
    changed = kept.length < before;
  }
  return { kept, errors };
}

/**
 * For each service on a dependsOn cycle, the cycle as seen from it
 * (a → b → a). Iterative colouring DFS: no recursion, whatever the depth.
 */
export function dependencyCycles(services: readonly Service[]): Map<string, string[]> {
  const deps = new Map(services.map((s) => [s.metadata.name, s.spec.dependsOn]));
  const state = new Map<string, 'open' | 'done'>();
  const result = new Map<string, string[]>();
  for (const root of [...deps.keys()].sort()) {
    if (state.has(root)) continue;
    const stack: { name: string; next: number }[] = [{ name: root, next: 0 }];
    state.set(root, 'open');
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const edges = deps.get(top.name) ?? [];
      if (top.next >= edges.length) {
        state.set(top.name, 'done');
        stack.pop();
        continue;
      }
      const to = edges[top.next++]!;
      if (!deps.has(to)) continue;
      if (state.get(to) === 'open') {
        const loop = stack.slice(stack.findIndex((f) => f.name === to)).map((f) => f.name);
        for (let i = 0; i < loop.length; i++) {
          const member = loop[i]!;
          if (!result.has(member)) result.set(member, [...loop.slice(i), ...loop.slice(0, i), member]);
        }
      } else if (!state.has(to)) {
        state.set(to, 'open');
        stack.push({ name: to, next: 0 });
      }
    }
  }
  return result;
}
