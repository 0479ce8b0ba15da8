// The dashboard in a real browser (Debian's chromium, driven by
// playwright-core; nothing downloaded) against a controller on real engines:
// every node and service on the page, a docker kill seen live without a
// reload, the reason of an unschedulable service, the location of a broken
// manifest, and no secret in anything the page is sent. Screenshots go to
// .fog/ for a person to look at.

import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchStatus } from '../../src/controller/status-client.js';
import type { StatusDoc } from '../../src/status/doc.js';
import { serviceState } from '../../src/status/state.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { FOGCTL, loopService, ROOT, serviceManifest, startController, tempDir, waitFor, writeManifest, writeNodeManifests, type RunningController } from './harness.js';
import { spawn, type ChildProcess } from 'node:child_process';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SECRET = 'hunter2-secret';
const SHOTS = join(ROOT, '.fog');

let fleet: Fleet;
let desired: string;
let state: string;
let ctl: RunningController;
let port: number;
let base: string;
let browser: Browser;
let page: Page;
/** Every body the page was sent: responses, and each server-sent event (through the DevTools protocol). */
const received: { url: string; body: string }[] = [];
const requested: string[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function status(): Promise<StatusDoc | undefined> {
  const got = await fetchStatus(`127.0.0.1:${port}`, 2_000);
  return got.ok ? got.doc : undefined;
}

async function watchedPage(url: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
  const p = await browser.newPage({ viewport });
  p.on('request', (r) => requested.push(r.url()));
  p.on('response', (r) => {
    if ((r.headers()['content-type'] ?? '').includes('event-stream')) return; // never ends: its events are caught below
    r.text().then(
      (body) => received.push({ url: r.url(), body }),
      () => undefined,
    );
  });
  const cdp = await p.context().newCDPSession(p);
  cdp.on('Network.eventSourceMessageReceived', (e) => received.push({ url: `event-stream ${e.eventName}`, body: e.data }));
  await cdp.send('Network.enable');
  await p.goto(url);
  return p;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  fleet = await startFleet([{ name: 'cell-1' }, { name: 'cell-2' }]);
  desired = tempDir('fog-dash-desired-');
  state = tempDir('fog-dash-state-');
  const nodes = fleet.nodes.map((n) => ({ name: n.name, socket: n.socket }));
  writeNodeManifests(desired, nodes, (name) => ({ labels: { zone: name === 'cell-1' ? 'line1' : 'line2', role: 'plc-edge' } }));
  writeManifest(desired, 'services/ticker.yaml', loopService('ticker', 2, `  env:\n    DB_PASSWORD: ${SECRET}\n    MODE: plain\n`));
  writeManifest(desired, 'services/serial-reader.yaml', loopService('serial-reader', 1, '  devices:\n    - /dev/ttyUSB9\n'));
  writeManifest(desired, 'services/broken.yaml', serviceManifest('broken', '  replicas: many\n  command: ["true"]\n'));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  ctl = startController({ desired, stateDir: state, resync: '2s', extra: ['--listen', `127.0.0.1:${port}`] });
  await waitFor(
    'ticker running on the engines',
    async () => {
      const doc = await status();
      const t = doc?.status.services.find((s) => s.name === 'ticker');
      return doc && t && t.ready === 2 && doc.desired.errors.length > 0 ? true : undefined;
    },
    60_000,
  );
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  page = await watchedPage(`${base}/`);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await ctl?.stop();
  await fleet?.stop();
  for (const d of [desired, state]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('the dashboard, in chromium, on a real fleet', () => {
  it('renders every node (grouped by zone) and every service with the STATUS of fogctl get services', async () => {
    await page.waitForSelector('[data-node="cell-2"]');
    const doc = (await status())!;
    for (const n of doc.status.nodes) await expect.poll(() => page.locator(`[data-node="${n.name}"]`).getAttribute('data-status')).toBe(n.reachable ? 'Ready' : 'NotReady');
    for (const s of doc.status.services) await expect.poll(() => page.locator(`tr[data-service="${s.name}"]`).getAttribute('data-status'), { timeout: 10_000 }).toBe(serviceState(s));
    expect(await page.locator('#fleet h3').allTextContents()).toEqual(['zone: line1', 'zone: line2']);
    expect(await page.locator('#groupby').inputValue()).toBe('zone');
    // Broken first: the unschedulable service's row comes before the running one's.
    const order = await page.locator('tr[data-service]').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.service));
    expect(order.indexOf('serial-reader')).toBeLessThan(order.indexOf('ticker'));
    // Replicas on their nodes, and last seen as an age.
    const chips = await page.locator('[data-replica^="ticker-"]').count();
    expect(chips).toBe(2);
    await expect.poll(() => page.locator('[data-node="cell-1"]').textContent()).toMatch(/last seen [\d.]+s ago/);
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
    const tablet = await watchedPage(`${base}/`, { width: 768, height: 1024 });
    await tablet.waitForSelector('[data-node="cell-2"]');
    await tablet.screenshot({ path: join(SHOTS, 'dashboard-tablet.png'), fullPage: true });
    // Nothing sideways on a tablet but the tables' own scroll boxes.
    expect(await tablet.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(768);
    await tablet.close();
  });

  it('shows why a service is unschedulable: the counted causes and, per node, the first filter that said no', async () => {
    const doc = (await status())!;
    const s = doc.status.services.find((x) => x.name === 'serial-reader')!;
    expect(s.unschedulable?.message).toBeTruthy();
    await expect.poll(() => page.locator('#attention').textContent()).toContain(s.unschedulable!.message);
    // By keyboard: Tab to the service's link, Enter follows it.
    await page.locator('#home').focus();
    let found = false;
    for (let i = 0; i < 60 && !found; i++) {
      await page.keyboard.press('Tab');
      found = await page.evaluate(() => document.activeElement?.getAttribute('href') === '#/service/serial-reader');
    }
    expect(found).toBe(true);
    // The focused link is drawn with a visible outline.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe('none');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-unschedulable="serial-reader"]');
    expect(page.url()).toBe(`${base}/#/service/serial-reader`);
    const why = await page.locator('#why').textContent();
    for (const p of s.unschedulable!.perNode) {
      expect(p.message).toContain('/dev/ttyUSB9');
      expect(why).toContain(p.message);
    }
    await page.screenshot({ path: join(SHOTS, 'dashboard-service.png'), fullPage: true });
    // A shared link opens straight on the thing it names.
    const shared = await watchedPage(`${base}/#/node/cell-1`);
    await shared.waitForSelector('h2:has-text("Node cell-1")');
    expect(await shared.locator('main').textContent()).toContain('zone=line1');
    await shared.close();
  });

  it('shows a broken manifest with its file:line:col', async () => {
    const doc = (await status())!;
    const e = doc.desired.errors.find((x) => x.file.includes('broken.yaml'))!;
    expect(e).toBeDefined();
    const where = `${e.file}:${e.line}:${e.col}`;
    await page.goto(`${base}/#/`);
    const item = page.locator(`[data-error="${where}"]`);
    await item.waitFor();
    expect(await item.textContent()).toContain(`${where}: ${e.message}`);
    expect(where).toMatch(/broken\.yaml:\d+:\d+$/);
  });

  it('shows a container killed on its engine as a state change, live, without a reload', async () => {
    await page.goto(`${base}/#/`);
    await page.waitForSelector('[data-replica="ticker-0"]');
    const doc = (await status())!;
    const r = doc.status.services.find((s) => s.name === 'ticker')!.replicas.find((x) => x.slot === 0)!;
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const restartsBefore = await page.locator('[data-reason="Restart"][data-object="service/ticker"]').count();
    const docker = new Docker({ socketPath: fleet.node(r.node).socket });
    const t0 = Date.now();
    await docker.getContainer(r.containerId!).kill();
    // The replica leaves `running`, or (if the controller started it again between two pushes) its Restart event appears.
    await page.waitForFunction(
      (before) =>
        document.querySelector('[data-replica="ticker-0"]')?.getAttribute('data-state') !== 'running' ||
        document.querySelectorAll('[data-reason="Restart"][data-object="service/ticker"]').length > before,
      restartsBefore,
      { polling: 'raf', timeout: 10_000 },
    );
    const seen = Date.now() - t0;
    console.log(`[dashboard] docker kill → state change on the page: ${seen} ms (issue's bound 2 s; asserted < 10 s)`);
    expect(seen).toBeLessThan(10_000);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    // And back to running, again without a reload.
    await page.waitForFunction(() => document.querySelector('[data-replica="ticker-0"]')?.getAttribute('data-state') === 'running', undefined, { timeout: 20_000 });
    await page.screenshot({ path: join(SHOTS, 'dashboard-after-kill.png'), fullPage: true });
  });

  it('sends the page no secret, loads nothing from another origin, and refuses writes', async () => {
    // The secret is real: the container holds it.
    const t = (await status())!.status.services.find((s) => s.name === 'ticker')!.replicas[0]!;
    const env = (await new Docker({ socketPath: fleet.node(t.node).socket }).getContainer(t.containerId!).inspect()).Config.Env;
    expect(env).toContain(`DB_PASSWORD=${SECRET}`);
    await page.waitForTimeout(1_000);
    expect(received.filter((r) => r.url.startsWith('event-stream status')).length).toBeGreaterThan(2);
    for (const r of received) expect(r.body, r.url).not.toContain(SECRET);
    expect(await page.content()).not.toContain(SECRET);
    for (const path of ['/v1/status', '/v1/dashboard']) expect(await (await fetch(`${base}${path}`)).text()).not.toContain(SECRET);
    for (const url of requested) expect(url.startsWith(`${base}/`), url).toBe(true);
    expect((await fetch(`${base}/v1/status`, { method: 'POST' })).status).toBe(405);
    // The JSON clients of `/` still get the document; another site's name in Host gets nothing.
    expect(((await (await fetch(`${base}/`)).json()) as StatusDoc).kind).toBe('ControllerStatus');
    const rebound = await new Promise<number>((resolve) => {
      import('node:http').then(({ get }) => get({ host: '127.0.0.1', port, path: '/', headers: { host: 'evil.example:80' } }, (res) => resolve(res.statusCode ?? 0))).catch(() => resolve(0));
    });
    expect(rebound).toBe(421);
  });

  it('fogctl dashboard serves the page of a controller on its unix socket, on loopback', async () => {
    // A second controller of another cluster on the same engines, owning nothing, on its socket.
    const d2 = tempDir('fog-dash2-desired-');
    const s2 = tempDir('fog-dash2-state-');
    writeNodeManifests(
      d2,
      fleet.nodes.map((n) => ({ name: n.name, socket: n.socket })),
      () => ({ labels: { line: 'l1' } }),
    );
    const other = startController({ desired: d2, stateDir: s2, cluster: 'e2e-dash' });
    const proxyPort = await freePort();
    let proxy: ChildProcess | undefined;
    try {
      await waitFor('the second controller', async () => (await other.status())?.status.nodes.length === 2, 30_000);
      proxy = spawn(process.execPath, [FOGCTL, 'dashboard', '--server', other.socket, '--port', String(proxyPort)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proxy.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      await waitFor('fogctl dashboard to print its URL', async () => out.includes(`http://127.0.0.1:${proxyPort}/`), 15_000, 100);
      const p = await browser.newPage();
      await p.goto(`http://127.0.0.1:${proxyPort}/`);
      await p.waitForSelector('[data-node="cell-2"]');
      expect(await p.locator('#cluster').textContent()).toBe('cluster e2e-dash');
      expect(await p.locator('#fleet h3').allTextContents()).toEqual(['line: l1']);
      await p.close();
      expect((await fetch(`http://127.0.0.1:${proxyPort}/v1/status`, { method: 'DELETE' })).status).toBe(405);
    } finally {
      proxy?.kill('SIGTERM');
      await other.stop();
      for (const d of [d2, s2]) rmSync(d, { recursive: true, force: true });
    }
  });
});
