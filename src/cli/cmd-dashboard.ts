// fogctl dashboard: the dashboard of a controller that listens on its unix
// socket, served on loopback. The page's files are served here; every status
// request (and its live stream) is passed to the socket as it is. Read-only:
// only GET and HEAD go through.

import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { resolveServer } from '../controller/status-client.js';
import { parseListen } from '../controller/status-server.js';
import { loopbackHost, serveAsset } from '../status/dashboard/serve.js';
import { ExitError } from './errors.js';

export function serveDashboardProxy(socket: string, port: number, host: string): Promise<Server> {
  const loopback = /^(127\.|localhost$|::1$)/.test(host);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (loopback && !loopbackHost(req)) {
      res.writeHead(421, { 'content-type': 'text/plain' });
      res.end('the dashboard answers only to loopback host names (localhost, 127.0.0.1)\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('the dashboard is read-only\n');
      return;
    }
    if (serveAsset(req, res, url.pathname)) return;
    const upstream = request({ socketPath: socket, path: url.pathname + url.search, method: req.method, headers: { accept: req.headers.accept ?? '*/*' } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `cannot reach the controller at ${socket}: ${err.message}` }));
    });
    // The browser went away: stop following the controller's stream for it.
    res.on('close', () => upstream.destroy());
    upstream.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

export function registerDashboard(program: Command, setCode: (c: number) => void): void {
  program
    .command('dashboard')
    .description('Serve the read-only web dashboard of a controller that listens on its unix socket, on loopback')
    .option('--server <socket>', 'controller status socket (default $FOG_SERVER or ./.fog/fogctl.sock)')
    .option('--port <n>', 'port on 127.0.0.1 (0: any free one)', '7421')
    .option('--address <ip>', 'address to listen on; anything but loopback shows the status to the network, with no login', '127.0.0.1')
    .addHelpText(
      'after',
      '\nExamples:\n  fogctl dashboard            then open http://127.0.0.1:7421/\n  fogctl dashboard --port 8080 --server /srv/fog/state/fogctl.sock\n\nA controller started with --listen 127.0.0.1:PORT serves the dashboard itself at http://127.0.0.1:PORT/.\n',
    )
    .action(async (flags: { server?: string; port: string; address: string }) => {
      const target = parseListen(resolveServer(flags.server));
      if (!('socket' in target))
        throw new ExitError(`--server ${flags.server ?? ''}: that controller listens on ${target.host}:${target.port} and serves the dashboard itself at http://${target.host}:${target.port}/`, 1);
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ExitError(`--port ${flags.port}: must be a port number`, 1);
      const server = await serveDashboardProxy(target.socket, port, flags.address);
      const addr = server.address();
      const shown = typeof addr === 'object' && addr ? `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : `${flags.address}:${port}`;
      if (!/^(127\.|localhost$|::1$)/.test(flags.address))
        process.stderr.write(`warning: the dashboard listens on ${flags.address}: anyone who can reach it sees the fleet's status (there is no login)\n`);
      // The page waits and reconnects while no controller answers, so this may start first (hack/demo.sh does).
      if (!existsSync(target.socket)) process.stderr.write(`note: no controller is listening at ${target.socket} yet (start one with \`fogctl run\`)\n`);
      process.stdout.write(`dashboard of ${target.socket} at http://${shown}/ (Ctrl-C stops it)\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      setCode(0);
    });
}
