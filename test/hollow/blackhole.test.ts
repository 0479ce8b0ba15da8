// The hollow server's black-hole fault (a pulled cable in front of a node that
// runs on): a request, on a new connection or one already open, gets no
// answer and no error, so only the client's own timeout ends it; open event
// streams go silent; lifting the fault delivers what was held, in order, and
// new requests are answered again.

import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, get, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHollowFleet, type HollowFleet } from '../../hack/hollow/fleet.js';

const NODE = 'bh';
let dir: string;
let fleet: HollowFleet;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/hb-');
  fleet = await startHollowFleet({ count: 1, dir, name: () => NODE });
});

afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Pending {
  /** The body, or 'error:CODE' / 'error:MESSAGE'. */
  answer: Promise<string>;
  answered: () => boolean;
  giveUp: () => void;
}

/** GET path on the node's socket; the caller decides when to give up. */
function request(path: string, agent: Agent | false): Pending {
  let done = false;
  const req = get({ socketPath: fleet.nodes[0]!.socket, path, agent });
  const answer = new Promise<string>((resolve) => {
    req.on('response', (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        done = true;
        resolve(body);
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      done = true;
      resolve(`error:${e.code ?? e.message}`);
    });
  });
  return { answer, answered: () => done, giveUp: () => req.destroy() };
}

/** The answer within ms, or 'timeout' (the client gives up). */
async function within(p: Pending, ms: number): Promise<string> {
  const timer = new Promise<string>((r) => setTimeout(() => r('timeout'), ms));
  const r = await Promise.race([p.answer, timer]);
  if (r === 'timeout') p.giveUp();
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('black hole: no answer on new or open connections, silent events; lifted, the held answers and events arrive', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    // A connection already open before the cable is pulled.
    expect(await within(request('/_ping', agent), 2_000)).toBe('OK');
    const events: string[] = [];
    const stream = get({ socketPath: fleet.nodes[0]!.socket, path: '/events', agent: false });
    await new Promise<void>((resolve, reject) => {
      stream.on('response', (res) => {
        res.setEncoding('utf8');
        res.on('data', (c: string) => events.push(...c.split('\n').filter(Boolean)));
        resolve();
      });
      stream.on('error', reject);
    });

    await fleet.setFault(NODE, 'blackhole');
    // A new connection: the client times out (no answer, no error).
    expect(await within(request('/_ping', false), 500)).toBe('timeout');
    // The open keep-alive connection: silent too. Kept waiting across the lift.
    const open = request('/version', agent);
    await sleep(500);
    expect(open.answered()).toBe(false);
    // The node runs on behind the black hole: its events wait, unseen.
    const engine = fleet.engine(NODE);
    const c = engine.create('behind-the-hole', { Image: 'fog/busybox:latest' });
    engine.start(c.id);
    await sleep(200);
    expect(events).toEqual([]);

    await fleet.setFault(NODE, 'up');
    expect(JSON.parse(await within(open, 2_000)).ApiVersion).toBeTruthy();
    await sleep(100);
    expect(events.map((e) => (JSON.parse(e) as { Action: string }).Action)).toEqual(['create', 'start']);
    expect(await within(request('/_ping', false), 2_000)).toBe('OK');
    stream.destroy();
  } finally {
    agent.destroy();
  }
});

it('black hole then down then up: the socket comes back and answers', async () => {
  await fleet.setFault(NODE, 'blackhole');
  await fleet.setFault(NODE, 'down');
  expect(await within(request('/_ping', false), 1_000)).toMatch(/^error:(ECONNREFUSED|ENOENT)$/);
  await fleet.setFault(NODE, 'blackhole');
  expect(await within(request('/_ping', false), 500)).toBe('timeout');
  await fleet.setFault(NODE, 'up');
  expect(await within(request('/_ping', false), 2_000)).toBe('OK');
});
