// fogctl events [-w] [--for service/NAME]: the controller's events, as
// `kubectl get events` prints them (oldest first; a repeat shows its count
// and how long it has been going on). -w keeps the line open and prints each
// new or repeated event as the controller records it (server-sent events
// from GET /v1/events?watch=1 on the status API).

import type { Command } from 'commander';
import { Option } from 'commander';
import { existsSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import type { EventList } from '../controller/events-api.js';
import { resolveServer } from '../controller/status-client.js';
import { parseListen } from '../controller/status-server.js';
import type { EventView } from '../status/doc.js';
import { ExitError } from './errors.js';
import { age, table } from './print.js';

interface Flags {
  watch?: boolean;
  for?: string;
  output: 'table' | 'json';
  server?: string;
}

const HEADER = ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'];

function row(e: EventView, now: number): string[] {
  const seen = age(now - e.time);
  const count = e.count !== undefined && e.count > 1 ? ` (x${e.count} over ${age(now - (e.firstTime ?? e.time))})` : '';
  return [`${seen}${count}`, e.type, e.reason, e.object, e.message];
}

/** `service/NAME` or `node/NAME` (kubectl's --for TYPE/NAME). */
function parseFor(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^(service|svc|node|no)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(value);
  if (!m) throw new ExitError(`--for ${value}: must be service/NAME or node/NAME (for example --for service/opcua-collector)`, 1);
  return `${m[1]!.startsWith('s') ? 'service' : 'node'}/${m[2]!}`;
}

/** GET `path` on the controller's status listener; rejects with a message that says how to reach one. */
function open(server: string, path: string, timeoutMs: number): Promise<IncomingMessage> {
  let listen;
  try {
    listen = parseListen(server);
  } catch (err) {
    return Promise.reject(new ExitError((err as Error).message, 1));
  }
  if ('socket' in listen && !existsSync(listen.socket)) {
    return Promise.reject(new ExitError(`no controller is listening at ${listen.socket}: start one with \`fogctl run\`, or point --server / FOG_SERVER at it`, 1));
  }
  const target = 'socket' in listen ? { socketPath: listen.socket } : { host: listen.host, port: listen.port };
  return new Promise((resolve, reject) => {
    const req = request({ ...target, path, method: 'GET', timeout: timeoutMs, headers: { accept: 'application/json, text/event-stream' } }, (res) => {
      req.setTimeout(0);
      if (res.statusCode === 200) return resolve(res);
      res.resume();
      reject(new ExitError(`the controller at ${server} answered ${res.statusCode} to ${path}: it may be an older fogctl without events (upgrade it)`, 1));
    });
    req.on('timeout', () => {
      req.destroy();
      reject(new ExitError(`the controller at ${server} did not answer within ${timeoutMs} ms`, 1));
    });
    req.on('error', (err) => reject(new ExitError(`cannot reach the controller at ${server}: ${err.message} (is \`fogctl run\` running?)`, 1)));
    req.end();
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  let text = '';
  res.setEncoding('utf8');
  for await (const chunk of res) text += chunk as string;
  return text;
}

/** Each `data:` payload of a server-sent event stream, in order. */
async function* sse(res: IncomingMessage): AsyncGenerator<string> {
  let buf = '';
  res.setEncoding('utf8');
  for await (const chunk of res) {
    buf += chunk as string;
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = frame
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      if (data !== '') yield data;
    }
  }
}

export function registerEvents(program: Command, setCode: (c: number) => void): void {
  program
    .command('events')
    .description("The controller's events, oldest first, like kubectl get events; -w streams new ones")
    .option('-w, --watch', 'after the list, print each new or repeated event as it happens (until interrupted)')
    .option('--for <object>', 'only the events of this object: service/NAME or node/NAME')
    .addOption(new Option('-o, --output <format>', 'table, or json (one event per line with -w)').choices(['table', 'json']).default('table'))
    .option('--server <socket|127.0.0.1:port>', 'the controller to ask (default ./.fog/fogctl.sock, or FOG_SERVER)')
    .addHelpText('after', '\nExamples:\n  fogctl events\n  fogctl events -w --for service/opcua-collector\n  fogctl events -o json | jq .reason\n')
    .action(async (flags: Flags) => {
      const only = parseFor(flags.for);
      const server = resolveServer(flags.server);
      const pick = (events: readonly EventView[]) => (only === undefined ? events : events.filter((e) => e.object === only));
      if (!flags.watch) {
        const list = JSON.parse(await readAll(await open(server, '/v1/events', 5_000))) as EventList;
        const events = pick(list.events);
        if (flags.output === 'json') process.stdout.write(`${JSON.stringify({ ...list, events }, null, 2)}\n`);
        else if (events.length === 0) process.stderr.write(`No events${only ? ` for ${only}` : ''}.\n`);
        else
          process.stdout.write(
            table(
              HEADER,
              events.map((e) => row(e, list.clock.now)),
            ),
          );
        return setCode(0);
      }
      const res = await open(server, '/v1/events?watch=1', 5_000);
      let header = flags.output === 'table';
      for await (const data of sse(res)) {
        const list = JSON.parse(data) as EventList;
        const events = pick(list.events);
        if (flags.output === 'json') {
          for (const e of events) process.stdout.write(`${JSON.stringify(e)}\n`);
          continue;
        }
        if (events.length === 0) continue;
        // Columns sized per batch; the header once, as kubectl -w does.
        const lines = table(
          HEADER,
          events.map((e) => row(e, list.clock.now)),
        ).split('\n');
        process.stdout.write(`${lines.slice(header ? 0 : 1).join('\n')}`);
        header = false;
      }
      throw new ExitError(`the controller at ${server} closed the event stream (it stopped); run fogctl events -w again once it is back`, 1);
    });
}
