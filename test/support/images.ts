// A fresh image for tests and benches: the fleet's busybox plus one layer of
// `mb` MB of random data (so no engine has its layers, and a pull moves real
// bytes), committed on one test engine. Random data does not compress: the
// bytes a registry serves are about the layer's size.

import Docker from 'dockerode';
import { TEST_IMAGE } from './fleet.js';

/** Builds `repo:tag` on the engine at `socket`; returns its image id. */
export async function buildFreshImage(socket: string, repo: string, tag: string, mb: number): Promise<string> {
  const docker = new Docker({ socketPath: socket });
  const c = await docker.createContainer({
    Image: TEST_IMAGE,
    Cmd: ['sh', '-c', `dd if=/dev/urandom of=/blob bs=1048576 count=${mb} 2>/dev/null; echo ${repo}:${tag} > /made-for`],
    Labels: { 'fog.test': 'image-build' },
  });
  try {
    await c.start();
    const done = (await c.wait()) as { StatusCode: number };
    if (done.StatusCode !== 0) throw new Error(`building ${repo}:${tag}: the layer's command exited ${done.StatusCode}`);
    const got = (await c.commit({ repo, tag, changes: ['CMD ["sh", "-c", "trap \'exit 0\' TERM; while true; do sleep 1; done"]'] })) as { Id: string };
    return got.Id;
  } finally {
    await c.remove({ force: true });
  }
}

/** The image's repo:tag names on an engine (none when it is not there). */
export async function imageTags(socket: string): Promise<string[]> {
  const list = await new Docker({ socketPath: socket }).listImages();
  return list.flatMap((i) => i.RepoTags ?? []);
}
