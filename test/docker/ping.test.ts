// The heartbeat's own line (src/docker/ping.ts) against a bare server on a
// unix socket: the request goes out whole (written straight to the socket's
// descriptor once connected), answers split over reads are put together, an
// answer that says `Connection: close` (either spelling) makes the next ping
// open a fresh connection instead of failing on the closed one, and an engine
// that never answers is a timeout.

import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PingLine, pollRequest, type PingError, type PingTicket } from '../../src/docker/ping.js';

let dir: string;
let server: net.Server;
/** Each connection the server accepted, with the requests it read. */
let conns: { requests: string[] }[];
/** How the server answers request k of a connection. */
let answer: (k: number, socket: net.Socket) => void;

beforeEach(async () => {
  dir = mkdtempSync('/tmp/ping-');
  conns = [];
  server = net.createServer((socket) => {
    const conn = { requests: [] as string[] };
    conns.push(conn);
    let buf = '';
    // A line closed while an answer is on its way (a test's end) is no error of the server's.
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        conn.requests.push(buf.slice(0, end));
        buf = buf.slice(end + 4);
        answer(conn.requests.length, socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(`${dir}/engine.sock`, r));
});

afterEach(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const OK = 'HTTP/1.1 200 OK\r\nApi-Version: 1.43\r\nContent-Length: 0\r\n\r\n';
const ping = (line: PingLine, timeoutMs = 500) => new Promise<PingError | undefined>((resolve) => line.ping(timeoutMs, resolve));

describe('PingLine', () => {
  it('pings on one kept-alive connection, whole requests, answers split over reads put together', async () => {
    answer = (k, socket) => {
      if (k === 2) {
        // The second answer arrives in two pieces.
        socket.write(OK.slice(0, 20));
        setTimeout(() => socket.write(OK.slice(20)), 30);
      } else socket.write(OK);
    };
    const line = new PingLine({ socketPath: `${dir}/engine.sock` });
    try {
      for (let i = 0; i < 4; i++) expect(await ping(line)).toBeUndefined();
      expect(conns).toHaveLength(1);
      expect(conns[0]!.requests).toHaveLength(4);
      for (const r of conns[0]!.requests) expect(r).toBe('HEAD /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: fog-heartbeat');
    } finally {
      line.close();
    }
  });

  it.each(['Connection: close', 'connection: close'])('after an answer with "%s" the next ping opens a new connection and is answered', async (header) => {
    answer = (_k, socket) => socket.end(`HTTP/1.1 200 OK\r\n${header}\r\nContent-Length: 0\r\n\r\n`);
    const line = new PingLine({ socketPath: `${dir}/engine.sock` });
    try {
      expect(await ping(line)).toBeUndefined();
      // At once, before the engine's close is read: the line must already have let the connection go.
      expect(await ping(line)).toBeUndefined();
      expect(await ping(line)).toBeUndefined();
      expect(conns.map((c) => c.requests.length)).toEqual([1, 1, 1]);
    } finally {
      line.close();
    }
  });

  it('reads every answer in place in one shared buffer: a long earlier answer left there never speaks for a shorter later one', async () => {
    // The first connection answers with long headers ending in `Connection: close`; every later one with a short 200.
    const long = `HTTP/1.1 200 OK\r\nX-Padding: ${'x'.repeat(200)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
    answer = (_k, socket) => socket.write(conns.length === 1 ? long : OK);
    const first = new PingLine({ socketPath: `${dir}/engine.sock` });
    const second = new PingLine({ socketPath: `${dir}/engine.sock` });
    try {
      expect(await ping(first)).toBeUndefined();
      // The second line's answers are shorter: the bytes after them are the first answer's, `Connection: close` included.
      for (let i = 0; i < 3; i++) expect(await ping(second)).toBeUndefined();
      expect(conns.map((c) => c.requests.length)).toEqual([1, 3]);
    } finally {
      first.close();
      second.close();
    }
  });

  it('an engine that never answers is a timeout; a status other than 200 is an http error', async () => {
    answer = () => undefined;
    const line = new PingLine({ socketPath: `${dir}/engine.sock` });
    try {
      expect(await ping(line, 200)).toMatchObject({ kind: 'timeout' });
      answer = (_k, socket) => socket.write('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n');
      expect(await ping(line)).toMatchObject({ kind: 'http', message: 'ping answered 500' });
    } finally {
      line.close();
    }
  });

  describe('long polls of the events', () => {
    const HEAD = 'HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
    const LAST = '0\r\n\r\n';
    const poll = (line: PingLine, deadlineMs = 1_000) => new Promise<PingError | undefined>((resolve) => line.attach(line.poll('/events?since=1.0&until=2.0', deadlineMs, 500, 2)!, resolve));

    it('takes every event line, however the chunks fall over reads (UTF-8 split too), ends at the last chunk, and keeps the connection', async () => {
      const events = [
        '{"Type":"container","Action":"start","Actor":{"ID":"a1"}}',
        '{"Type":"container","Action":"die","Actor":{"ID":"ä2","Attributes":{"name":"café"}}}',
        '{"Type":"image","Action":"pull"}',
      ];
      const body = HEAD + chunk(`${events[0]}\n`) + chunk(`${events[1]}\n`) + chunk(`${events[2]}\n`) + LAST;
      // Answer 1 in one write; answer 2 a byte at a time; answer 3 headers alone, then the rest.
      answer = (k, socket) => {
        if (k === 1) socket.write(body);
        else if (k === 2) {
          const bytes = Buffer.from(body);
          let i = 0;
          const next = () => {
            if (i < bytes.length) socket.write(bytes.subarray(i, ++i), () => setImmediate(next));
          };
          next();
        } else if (k === 3) {
          socket.write(HEAD);
          setTimeout(() => socket.write(body.slice(HEAD.length)), 50);
        } else socket.write(OK);
      };
      const lines: string[] = [];
      const line = new PingLine({ socketPath: `${dir}/engine.sock` }, undefined, (l) => lines.push(l));
      try {
        for (let k = 1; k <= 3; k++) {
          expect(await poll(line), `poll ${k}`).toBeUndefined();
          expect(lines.splice(0), `poll ${k}`).toEqual(events);
        }
        expect(await ping(line)).toBeUndefined();
        expect(conns).toHaveLength(1);
        expect(conns[0]!.requests.map((r) => r.split(' ').slice(0, 2).join(' '))).toEqual([
          'GET /events?since=1.0&until=2.0',
          'GET /events?since=1.0&until=2.0',
          'GET /events?since=1.0&until=2.0',
          'HEAD /_ping',
        ]);
      } finally {
        line.close();
      }
    });

    it('a poll that is not ended by its deadline is a timeout, even with events flowing; a status other than 200 is an http error; the next ping opens a fresh connection', async () => {
      const lines: string[] = [];
      answer = (k, socket) => {
        if (conns.length === 1) {
          socket.write(HEAD);
          socket.write(chunk('{"Action":"start"}\n'));
        } else socket.write(OK);
      };
      const line = new PingLine({ socketPath: `${dir}/engine.sock` }, undefined, (l) => lines.push(l));
      try {
        expect(await poll(line, 300)).toMatchObject({ kind: 'timeout' });
        expect(lines).toEqual(['{"Action":"start"}']);
        expect(await ping(line)).toBeUndefined();
        expect(conns).toHaveLength(2);
        answer = (_k, socket) => socket.write('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 22\r\n\r\n{"message":"bad time"}');
        expect(await poll(line)).toMatchObject({ kind: 'http', message: 'events poll answered 400' });
        answer = (_k, socket) => socket.write(OK);
        expect(await ping(line)).toBeUndefined();
        expect(conns).toHaveLength(3);
      } finally {
        line.close();
      }
    });
    it('pipelines: a poll sent behind the one in flight starts as it ends (its end and the next headers in one read), is answered to whoever attaches, even after it ended; a reset drops both', async () => {
      // The server answers a connection's requests in order, each when the one before has ended, as dockerd does.
      const pending: Array<() => void> = [];
      let sending = false;
      const next = () => {
        const go = pending.shift();
        if (go) go();
        else sending = false;
      };
      answer = (k, socket) => {
        pending.push(() => {
          // Request 1 ends 100 ms after its headers with one event; its end and request 2's headers are written together.
          if (k === 1) {
            socket.write(HEAD + chunk('{"n":1}\n'));
            setTimeout(() => {
              socket.write(LAST + HEAD + chunk('{"n":2}\n'));
              setTimeout(() => (socket.write(LAST), next()), 100);
            }, 100);
          } else if (k === 3) socket.write(HEAD); // never ends
        });
        if (!sending && k !== 2) {
          sending = true;
          next();
        }
      };
      const lines: string[] = [];
      let reads = 0;
      const line = new PingLine(
        { socketPath: `${dir}/engine.sock` },
        () => reads++,
        (l) => lines.push(l),
      );
      try {
        const first = line.poll('/events?since=1&until=2', 1_000, 500, 2)!;
        const second = line.poll('/events?since=2&until=3', 1_000, 500, 3)!;
        expect(line.pending).toBe(2);
        const firstEnd = new Promise<PingError | undefined>((resolve) => line.attach(first, resolve));
        expect(await firstEnd).toBeUndefined();
        expect(lines[0]).toBe('{"n":1}');
        // Not attached yet: the second ends on its own and is kept for whoever attaches.
        await new Promise((r) => setTimeout(r, 250));
        expect(second.ended).toEqual({});
        expect(await new Promise<PingError | undefined>((resolve) => line.attach(second, resolve))).toBeUndefined();
        expect(lines).toEqual(['{"n":1}', '{"n":2}']);
        expect(conns).toHaveLength(1);
        // A third never ends; a fourth waits behind it; a reset drops both, the attached one told.
        const third = line.poll('/events?since=3&until=4', 5_000, 500, 4)!;
        const fourth = line.poll('/events?since=4&until=5', 5_000, 500, 5)!;
        const thirdEnd = new Promise<PingError | undefined>((resolve) => line.attach(third, resolve));
        await new Promise((r) => setTimeout(r, 50));
        line.reset();
        expect(await thirdEnd).toMatchObject({ kind: 'connection' });
        expect(fourth.dead).toBe(true);
        expect(await new Promise<PingError | undefined>((resolve) => line.attach(fourth, resolve))).toMatchObject({ kind: 'connection' });
        expect(line.pending).toBe(0);
      } finally {
        line.close();
      }
    });
    it("polls ahead in one batch: the requests arrive whole and in order (the caller's buffer free for reuse at once), the server answers each as the one before ends, each ticket ends in turn with its own events", async () => {
      const chunksSeen: number[] = [];
      server.on('connection', (s) => s.on('data', (d) => chunksSeen.push(d.length)));
      // Answered in order, each 60 ms after the one before: its event, then its end together with the next one's headers.
      const queue: net.Socket[] = [];
      answer = (_k, socket) => queue.push(socket);
      const lines: string[] = [];
      const ended: number[] = [];
      const line = new PingLine(
        { socketPath: `${dir}/engine.sock` },
        undefined,
        (l) => lines.push(l),
        (t) => ended.push(t.tag),
      );
      try {
        const tickets: PingTicket[] = [];
        const paths = [1, 2, 3].map((n) => `/events?since=${n}.0&until=${n + 1}.0`);
        const requests = Buffer.concat(paths.map(pollRequest));
        expect(line.polls(requests, 3, 2_000, 2, 1, 500, tickets)).toBe(true);
        // Written before the connection is up, so through the stream: the line keeps a copy, and the caller may reuse its buffer at once.
        requests.fill('X');
        expect(tickets.map((t) => t.tag)).toEqual([2, 3, 4]);
        expect(line.pending).toBe(3);
        for (let i = 0; i < 100 && queue.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
        expect(chunksSeen).toEqual([chunksSeen.reduce((a, b) => a + b, 0)]);
        expect(conns[0]!.requests.map((r) => r.split(' ')[1])).toEqual(paths);
        const socket = queue[0]!;
        socket.write(HEAD + chunk('{"n":2}\n'));
        for (const n of [3, 4]) {
          await new Promise((r) => setTimeout(r, 60));
          socket.write(LAST + HEAD + chunk(`{"n":${n}}\n`));
        }
        await new Promise((r) => setTimeout(r, 60));
        socket.write(LAST);
        const ends = await Promise.all(tickets.map((t) => new Promise<PingError | undefined>((resolve) => line.attach(t, resolve))));
        expect(ends).toEqual([undefined, undefined, undefined]);
        expect(ended).toEqual([2, 3, 4]);
        expect(lines).toEqual(['{"n":2}', '{"n":3}', '{"n":4}']);
        expect(line.pending).toBe(0);
        expect(conns).toHaveLength(1);
      } finally {
        line.close();
      }
    });

    it("a ticket is reused only once its end has been told: one that ended with nobody attached stays the sender's until it attaches", async () => {
      // Each poll ends at once; the first two in one read.
      answer = (_k, socket) => socket.write(HEAD + LAST);
      const line = new PingLine({ socketPath: `${dir}/engine.sock` });
      try {
        const first: PingTicket[] = [];
        line.polls(Buffer.concat(['/events?until=1', '/events?until=2'].map(pollRequest)), 2, 2_000, 1, 1, 500, first);
        for (let i = 0; i < 100 && line.pending > 0; i++) await new Promise((r) => setTimeout(r, 10));
        expect(line.pending).toBe(0);
        // Both ended, neither told: a new poll gets a ticket of its own.
        const second: PingTicket[] = [];
        line.polls(pollRequest('/events?until=3'), 1, 2_000, 3, 1, 500, second);
        expect(first).not.toContain(second[0]);
        expect(first.map((t) => t.tag)).toEqual([1, 2]);
        expect(await new Promise((resolve) => line.attach(first[0]!, resolve))).toBeUndefined();
        // Told: the first ticket is the line's again, and the next request takes it.
        const third: PingTicket[] = [];
        line.polls(pollRequest('/events?until=4'), 1, 2_000, 4, 1, 500, third);
        expect(third[0]).toBe(first[0]);
        expect(third[0]!.tag).toBe(4);
        expect(first[1]!.tag).toBe(2);
        expect(await new Promise((resolve) => line.attach(first[1]!, resolve))).toBeUndefined();
      } finally {
        line.close();
      }
    });

    it('a stall of this process moves only the deadlines it could have made us miss, not those of polls turns ahead', () => {
      answer = () => undefined;
      const line = new PingLine({ socketPath: `${dir}/engine.sock` });
      try {
        const tickets: PingTicket[] = [];
        // Two polls 9.9 s apart: deadlines 100 ms and 10 s from now.
        line.polls(Buffer.concat(['/events?since=1.0&until=2.0', '/events?since=2.0&until=3.0'].map(pollRequest)), 2, 100, 2, 9_900, 500, tickets);
        const [near, far] = tickets.map((t) => t.deadline) as [number, number];
        // The timer fired 300 ms late: the near deadline fell in that stall.
        const earliest = line.due(300, near + 250);
        expect(tickets[0]!.deadline).toBe(near + 300);
        expect(tickets[1]!.deadline).toBe(far);
        expect(earliest).toBe(near + 300);
        expect(line.due(0, near + 300)).toBe(near + 300);
      } finally {
        line.close();
      }
    });

    it('a poll nobody waits on yet that misses its deadline is silence: the line goes, and the poll waited on behind it is told the timeout; ended polls are handed to onEnd', async () => {
      answer = (k, socket) => {
        if (k === 1) socket.write(HEAD + LAST + HEAD); // the first ends at once, the second never
      };
      const ended: number[] = [];
      const line = new PingLine({ socketPath: `${dir}/engine.sock` }, undefined, undefined, (t) => ended.push(t.tag));
      try {
        line.poll('/events?since=0&until=1', 1_000, 500, 1);
        line.poll('/events?since=1&until=2', 200, 500, 2); // not waited on
        const third = line.poll('/events?since=2&until=3', 5_000, 500, 3)!;
        const started = performance.now();
        const err = await new Promise<PingError | undefined>((resolve) => line.attach(third, resolve));
        expect(err).toMatchObject({ kind: 'timeout' });
        expect(performance.now() - started).toBeLessThan(1_000);
        expect(ended).toEqual([1]);
        expect(line.pending).toBe(0);
      } finally {
        line.close();
      }
    });
  });
});
