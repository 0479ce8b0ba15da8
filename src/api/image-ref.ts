// Image references as Docker reads them: `[registry/]path[:tag][@digest]`.
// The first path component is a registry when it has a `.` or a `:` or is
// `localhost`; otherwise the image is on Docker Hub (`library/` for one-part
// names). Pure: used by the reconcile (pinning), the executor (which
// credentials go with a pull) and the registry client.

export interface ImageRef {
  /** Registry host[:port] as written, or `docker.io`. */
  registry: string;
  /** The repository path in the registry's API (`library/busybox` on Docker Hub). */
  repository: string;
  /** The name without tag or digest, as written (`127.0.0.1:5000/fog/app`, `busybox`). */
  name: string;
  tag?: string;
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';

export function parseImageRef(ref: string): ImageRef {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  const hasRegistry = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasRegistry ? first : DOCKER_HUB;
  let repository = hasRegistry ? rest.slice(slash + 1) : rest;
  if (!hasRegistry && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, repository, name: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** `name@digest`: the reference a pinned replica is created from (the tag is dropped: Docker ignores it beside a digest). */
export function pinnedRef(image: string, digest: string): string {
  return `${parseImageRef(image).name}@${digest}`;
}

/** The reference new replicas of a revision are created from: pinned when it has a digest, else as written. */
export function revisionImage(rev: { readonly shape: { readonly image: string }; readonly digest?: string }): string {
  return rev.digest !== undefined ? pinnedRef(rev.shape.image, rev.digest) : rev.shape.image;
}

/** Whether the reference names content by digest already (nothing to resolve). */
export function isDigestRef(image: string): boolean {
  return image.includes('@sha256:');
}

/** Whether a platform list (`os/arch[/variant]`) has a variant a node of this os and arch can run. */
export function platformFits(platforms: readonly string[], os: string, arch: string): boolean {
  return platforms.some((p) => {
    const [pOs, pArch] = p.split('/');
    return pOs === os && pArch === arch;
  });
}

/** A reference's repository in Docker's short form (Docker Hub's host and `library/` dropped), its tag and its digest. */
export function shortRef(ref: string): { repo: string; tag?: string; digest?: string } {
  let r = ref.trim();
  for (const hub of ['docker.io/', 'index.docker.io/', 'registry-1.docker.io/']) if (r.startsWith(hub)) r = r.slice(hub.length);
  if (r.startsWith('library/')) r = r.slice('library/'.length);
  const at = r.indexOf('@');
  const name = at >= 0 ? r.slice(0, at) : r;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return {
    repo: colon > slash ? name.slice(0, colon) : name,
    ...(colon > slash ? { tag: name.slice(colon + 1) } : {}),
    ...(at >= 0 ? { digest: r.slice(at + 1) } : {}),
  };
}

/** Docker's short name for what a reference points at: `repo@digest` when it has one, else `repo:tag` (`:latest` when none): `busybox` is `docker.io/library/busybox:latest`. */
export function normaliseRef(ref: string): string {
  const { repo, tag, digest } = shortRef(ref);
  return digest !== undefined ? `${repo}@${digest}` : `${repo}:${tag ?? 'latest'}`;
}

/** The forms a reference is listed under (RepoTags, RepoDigests): a `repo:tag@digest` gives both `repo:tag` and `repo@digest`. */
export function imageRefForms(ref: string): string[] {
  const { repo, tag, digest } = shortRef(ref);
  const out: string[] = [];
  if (tag !== undefined || digest === undefined) out.push(`${repo}:${tag ?? 'latest'}`);
  if (digest !== undefined) out.push(`${repo}@${digest}`);
  return out;
}

/** The digest an image was pulled by under `ref`'s repository (its RepoDigests), if it was pulled at all: an imported image has none. */
export function repoDigest(image: { readonly repoDigests: readonly string[] } | undefined, ref: string): string | undefined {
  const repo = shortRef(ref).repo;
  for (const d of image?.repoDigests ?? []) {
    const r = shortRef(d);
    if (r.repo === repo && r.digest !== undefined) return r.digest;
  }
  return undefined;
}
