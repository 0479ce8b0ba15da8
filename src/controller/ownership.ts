// What is on the nodes but not ours: a person's own containers and other
// clusters' (another controller sharing the node). Shown by
// `fogctl get replicas --all`; never adopted, stopped or removed.

import { isOurs, LABEL, type ObservedState, type UnmanagedContainer } from '../api/types.js';

/** Containers on reachable nodes that do not carry this cluster's ownership labels, sorted by node and name. */
export function unmanagedContainers(observed: ObservedState, cluster: string): UnmanagedContainer[] {
  const out: UnmanagedContainer[] = [];
  for (const n of observed.nodes) {
    if (!n.reachable) continue;
    for (const c of n.containers) {
      if (isOurs(c.labels, cluster)) continue;
      const owner = c.labels[LABEL.cluster];
      const u: UnmanagedContainer = { node: n.name, id: c.id, name: c.name, image: c.image, state: c.state };
      if (owner !== undefined) u.owner = owner;
      out.push(u);
    }
  }
  return out.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
