// The status API is local: a unix socket with mode 0600 in a 0700 directory,
// GET only apart from the rollout commands (POST, and only on the socket),
// and --listen refuses anything but loopback.

import { request } from 'node:http';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseListen, serveStatus } from '../../src/controller/status-server.js';
import type { StatusDoc } from '../../src/status/doc.js';
import { runFogctl, tempDir } from '../e2e/harness.js';

const dir = tempDir('fog-status-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function call(socketPath: string, method: string, path = '/v1/status'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(method === 'GET' || method === 'HEAD' ? undefined : '{}');
  });
}

describe('the status API', () => {
  it('listens on a 0600 unix socket in a 0700 directory and answers GET only', async () => {
    const socket = join(dir, 'state', 'fogctl.sock');
    const server = await serveStatus({ socket }, () => ({ kind: 'ControllerStatus' }) as unknown as StatusDoc);
    try {
      expect(statSync(socket).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'state')).mode & 0o777).toBe(0o700);
      expect(await call(socket, 'GET')).toMatchObject({ status: 200, body: '{"kind":"ControllerStatus"}' });
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        expect(await call(socket, method)).toEqual({
          status: 405,
          body: '{"error":"the status API is read-only; commands are POST /v1/rollouts/SERVICE/undo|pause|resume|restart and POST /v1/images/prune, on the unix socket"}',
        });
      }
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('takes rollout commands on the unix socket only; a loopback TCP listener refuses them', async () => {
    const seen: string[] = [];
    const control = (service: string, cmd: { kind: string }) => {
      seen.push(`${service}:${cmd.kind}`);
      return { ok: true as const, entry: { service, revisions: [], manifest: 'a', target: 'a', phase: 'Paused' as const }, note: { code: 'RolloutPaused' as const, revision: 1, by: 'user' as const } };
    };
    const socket = join(dir, 'ctl', 'fogctl.sock');
    const onSocket = await serveStatus({ socket }, () => ({}) as StatusDoc, undefined, [], control);
    const onTcp = await serveStatus({ host: '127.0.0.1', port: 0 }, () => ({}) as StatusDoc, undefined, [], control);
    try {
      expect(await call(socket, 'POST', '/v1/rollouts/press/pause')).toEqual({ status: 200, body: '{"ok":true,"service":"press","command":"pause","phase":"Paused"}' });
      expect(await call(socket, 'POST', '/v1/rollouts/Bad_Name/pause')).toMatchObject({ status: 405 });
      const port = (onTcp.address() as { port: number }).port;
      const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/rollouts/press/pause' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end('{}');
      });
      expect(refused.status).toBe(403);
      expect(refused.body).toMatch(/only on the controller's unix socket/);
      expect(seen).toEqual(['press:pause']);
    } finally {
      await new Promise<void>((r) => onSocket.close(() => r()));
      await new Promise<void>((r) => onTcp.close(() => r()));
    }
  });

  it.each(['0.0.0.0:7420', '10.0.0.5:7420', '[::]:7420', '::1:7420', 'fog.example:7420', '127.0.0.1.evil.example:80'])('refuses --listen %s', (value) => {
    expect(() => parseListen(value)).toThrow(/only listens on loopback/);
  });

  it.each([
    ['127.0.0.1:7420', { host: '127.0.0.1', port: 7420 }],
    ['[::1]:7420', { host: '::1', port: 7420 }],
    ['localhost:7420', { host: 'localhost', port: 7420 }],
    ['/run/fog/fogctl.sock', { socket: '/run/fog/fogctl.sock' }],
  ])('accepts --listen %s', (value, want) => {
    expect(parseListen(value)).toEqual(want);
  });

  it('fogctl run --listen on a public address exits with an error before doing anything', async () => {
    const r = await runFogctl(['run', '--desired', join(dir, 'none'), '--state-dir', join(dir, 'run-state'), '--listen', '0.0.0.0:7420']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--listen 0\.0\.0\.0:7420: the status API only listens on loopback/);
  });
});
