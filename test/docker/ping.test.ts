// The heartbeat's own line (src/docker/ping.ts) against a bare server on a
// unix socket: the request goes out whole (written straight to the socket's
// descriptor once connected), answers split over reads are put together, an
// answer that says `Connection: close` (either spelling) makes the next ping
// open a fresh connection instead of failing on the closed one, and an engine
// that never answers is a timeout.

import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PingLine, type PingError } from '../../src/docker/ping.js';

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
    const poll = (line: PingLine, deadlineMs = 1_000) => new Promise<PingError | undefined>((resolve) => line.poll('/events?since=1.0&until=2.0', deadlineMs, 500, resolve));

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
  });
});
