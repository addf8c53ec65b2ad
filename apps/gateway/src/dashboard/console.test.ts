// The operator console in Chromium, as an operator meets it in production: Debian's nginx (the kit's own
// config) in front of two gateways on one Redis bus, a worker running a source, a few clients. The console's
// numbers must be the cluster's (the sum of both nodes' /metrics) on every poll, whichever node answers it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignalsAdapter, signalsAdapterConfig } from '@gw/adapter-signals';
import { createStockAdapter, stockAdapterConfig } from '@gw/adapter-stock';
import { loadConfig } from '@gw/config';
import { createLogger } from '@gw/core';
import { heartbeatSource } from '@gw/source-heartbeat';
import { buildDashboard, launchChromium } from '@gw/dashboard/testing';
import type { Browser, Page } from '@gw/dashboard/testing';
import { histogramSeries, parseExposition } from '../../../../packages/metrics/src/testing/exposition.js';
import { NGINX, nginxTestConfig } from '../../../../infra/tests/support/nginx.js';
import { spawnLogged, startWorker, stopAll } from '../../../../infra/tests/support/processes.js';
import type { ServiceProcess } from '../../../../infra/tests/support/processes.js';
import { deleteKeys, redisUrl } from '../../../../infra/tests/support/redis.js';
import { loadGatewayConfig } from '../config.js';
import { startGateway } from '../gateway.js';
import type { Gateway } from '../gateway.js';
import { connect } from '../protocols/signals/fixture.js';
import type { SignalClient } from '../protocols/signals/fixture.js';
import { token, until } from '../protocols/stock/harness.js';
import { freePort } from '../testing/net.js';

const ADMIN_TOKEN = 'console-admin-token';
const PREFIX = `gwtest:console:${process.pid}:${Math.random().toString(36).slice(2)}:`;
/** Short, so a killed worker's presence expires within the test. */
const INTEREST_TTL_MS = 3_000;
const UI_TIMEOUT_MS = 20_000;
const NODES = ['console-gw-1', 'console-gw-2'] as const;
const PROTOCOLS = ['stock', 'signals'] as const;


/** One node's `/metrics`, read directly (nginx does not serve it), parsed strictly. */
async function nodeMetrics(gateway: Gateway): Promise<ReturnType<typeof parseExposition>> {
  const response = await fetch(`http://127.0.0.1:${String(gateway.ports[0])}/metrics`);
  return parseExposition(await response.text());
}

type Families = ReturnType<typeof parseExposition>;

/** Sum of a family's samples whose labels include `labels`. */
function sumOf(families: Families, name: string, labels: Record<string, string>): number {
  const samples = families.get(name)?.samples ?? [];
  return samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

/** What the console's protocol table must show for one node (or the cluster: the sum of the nodes). */
function expectedRow(families: readonly Families[], protocol: string): Record<string, number> {
  const total = (name: string): number => families.reduce((sum, f) => sum + sumOf(f, name, { protocol }), 0);
  const deliveries = families.reduce((sum, f) => {
    const family = f.get('gateway_delivery_latency_seconds');
    return sum + (family === undefined ? 0 : histogramSeries(family).filter((s) => s.labels['protocol'] === protocol).reduce((n, s) => n + s.count, 0));
  }, 0);
  return {
    connections: total('gateway_connections'),
    opened: total('gateway_connections_opened_total'),
    subscriptions: total('gateway_subscriptions'),
    sent: total('gateway_messages_sent_total'),
    received: total('gateway_messages_received_total'),
    'latency-count': deliveries,
    dropped: total('gateway_backpressure_dropped_total'),
    'slow-closes': total('gateway_backpressure_disconnects_total'),
  };
}

/** The numbers of one row of the protocol table, by field. */
async function rowOnScreen(page: Page, node: string, protocol: string): Promise<Record<string, number>> {
  const row = page.locator(`#protocol-rows tr[data-node="${node}"][data-protocol="${protocol}"]`);
  const read = async (field: string): Promise<number> => Number((await row.locator(`[data-field="${field}"]`).textContent())?.replaceAll(',', ''));
  const fields = ['connections', 'opened', 'subscriptions', 'sent', 'received', 'latency-count', 'dropped', 'slow-closes'];
  return Object.fromEntries(await Promise.all(fields.map(async (field) => [field, await read(field)] as const)));
}

/** Protocol/label → count of a count table (auth failures, errors), as shown. */
async function countsOnScreen(page: Page, body: string): Promise<Record<string, number>> {
  const rows = page.locator(`#${body} tr[data-key]`);
  const result: Record<string, number> = {};
  for (const row of await rows.all()) {
    const key = `${String(await row.getAttribute('data-protocol'))}/${String(await row.getAttribute('data-key'))}`;
    result[key] = Number((await row.locator('[data-field="count"]').textContent())?.replaceAll(',', ''));
  }
  return result;
}

/** Protocol/label → the nodes' summed count of a labelled counter (non-zero ones, as the console lists). */
function expectedCounts(families: readonly Families[], name: string, label: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const f of families) {
    for (const sample of f.get(name)?.samples ?? []) {
      const key = `${String(sample.labels['protocol'])}/${String(sample.labels[label])}`;
      result[key] = (result[key] ?? 0) + sample.value;
    }
  }
  return result;
}

async function pollSeq(page: Page): Promise<number> {
  return Number(await page.locator('#console-state').getAttribute('data-seq'));
}

describe('the operator console behind nginx, in front of two gateways on Redis', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'gw-console-'));
  const gateways: Gateway[] = [];
  const clients: SignalClient[] = [];
  let worker: ServiceProcess;
  let browser: Browser | undefined;
  let page: Page;
  let base = '';
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const buildDir = join(scratch, 'dist');
    await buildDashboard(buildDir);
    const env = {
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: PREFIX,
      BUS_INTEREST_TTL_MS: String(INTEREST_TTL_MS),
      ADMIN_TOKEN,
      HEARTBEAT_INTERVAL_MS: '500',
    };
    for (const [index, nodeId] of NODES.entries()) {
      const nodeEnv = { ...env, NODE_ID: nodeId, PORT: '0', HOST: '127.0.0.1', DRAIN_TIMEOUT_MS: '0' };
      const sections = { [heartbeatSource.name]: heartbeatSource.config };
      const config = loadGatewayConfig(nodeEnv, sections);
      const { stock, signals } = loadConfig(nodeEnv, { stock: stockAdapterConfig, signals: signalsAdapterConfig });
      gateways.push(
        await startGateway({
          config,
          logger: createLogger({ level: 'silent' }),
          adapters: [createStockAdapter(stock), createSignalsAdapter(signals)],
          // The first node runs a source itself: the console lists it with process "gateway".
          sources: index === 0 ? [{ source: heartbeatSource, config: (config as unknown as Record<string, Record<string, unknown>>)[heartbeatSource.name] ?? {} }] : [],
          dashboardDir: buildDir,
        }),
      );
    }
    worker = await startWorker('heartbeat', { ...env, NODE_ID: 'console-worker' });

    const port = await freePort();
    const file = join(scratch, 'nginx.conf');
    writeFileSync(file, nginxTestConfig(scratch, port, [gateways[0]?.ports[0] ?? 0, gateways[1]?.ports[0] ?? 0]));
    const nginx = spawnLogged(NGINX, ['-c', file, '-p', scratch, '-g', `pid ${join(scratch, 'nginx.pid')}; daemon off;`], { cwd: scratch, env: {} });
    base = `http://127.0.0.1:${String(port)}`;
    await until(async () => (await fetch(`${base}/api/health`).catch(() => undefined))?.status === 200, 15_000, `nginx on ${base}: ${nginx.output()}`);

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 1400 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !(message.location().url.endsWith('/api/console/snapshot') && message.text().includes('401'))) {
        pageErrors.push(message.text());
      }
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    for (const client of clients) {
      client.socket.close();
    }
    await Promise.all(gateways.map((g) => g.shutdown()));
    await stopAll();
    await deleteKeys(PREFIX);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('asks for the admin token, refuses a wrong one and keeps the right one for the session', async () => {
    await page.goto(`${base}/`, { waitUntil: 'load' });
    await expect.poll(() => page.locator('#login').isVisible(), { timeout: UI_TIMEOUT_MS }).toBe(true);
    expect(await page.locator('#console').isVisible()).toBe(false);

    await page.locator('#admin-token').fill('not-the-token');
    await page.locator('#login-form button').click();
    await expect.poll(() => page.locator('#login-error').textContent(), { timeout: UI_TIMEOUT_MS }).toContain('refused');

    await page.locator('#admin-token').fill(ADMIN_TOKEN);
    await page.locator('#login-form button').click();
    await expect.poll(() => page.locator('#console').isVisible(), { timeout: UI_TIMEOUT_MS }).toBe(true);
    expect(await page.evaluate('Object.values(sessionStorage)')).toEqual([ADMIN_TOKEN]);

    // A reload keeps the session: the console comes back without the form.
    await page.reload({ waitUntil: 'load' });
    await expect.poll(() => pollSeq(page), { timeout: UI_TIMEOUT_MS }).toBeGreaterThan(0);
    expect(await page.locator('#login').isVisible()).toBe(false);
  });

  it('shows the sum of both nodes /metrics on every poll, whichever node answers', async () => {
    // A few clients through nginx (round robin spreads them), a refused one, a bad message, a signal delivered.
    for (let i = 0; i < 4; i += 1) {
      clients.push(await connect(`${base.replace('http', 'ws')}/ws/signals`, { headers: { authorization: `Bearer ${await token(10 + i)}` } }));
    }
    const refused = await connect(`${base.replace('http', 'ws')}/ws/signals`).catch(() => undefined);
    expect(refused).toBeUndefined();
    const publish = await fetch(`${base}/api/signals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ type: 'buy', content: { symbol: 'CONSOLEUSDT', price: 10 } }),
    });
    expect(publish.status).toBe(201);
    await until(() => clients.every((c) => c.signals().length === 1), 10_000, `the signal at every client: ${JSON.stringify(clients.map((c) => c.frames))}`);
    // One client leaves normally (1000): the closes table has a row of ours, next to the page's own reload.
    const leaving = await connect(`${base.replace('http', 'ws')}/ws/signals`, { headers: { authorization: `Bearer ${await token(20)}` } });
    leaving.socket.close(1000);
    await until(
      async () => (await Promise.all(gateways.map(nodeMetrics))).some((f) => sumOf(f, 'gateway_connections_closed_total', { protocol: 'signals', code: '1000' }) > 0),
      10_000,
      'the normal close counted',
    );
    clients[0]?.socket.send('{not json');
    await until(
      async () => (await Promise.all(gateways.map(nodeMetrics))).some((f) => (f.get('gateway_client_errors_total')?.samples.length ?? 0) > 0),
      10_000,
      'the bad message counted',
    );

    for (let poll = 0; poll < 4; poll += 1) {
      // A poll that started after the traffic above: two completions from now.
      const seq = await pollSeq(page);
      await expect.poll(() => pollSeq(page), { timeout: UI_TIMEOUT_MS }).toBeGreaterThanOrEqual(seq + 2);
      const families = await Promise.all(gateways.map(nodeMetrics));
      expect(NODES).toContain((await page.locator('#served-by').textContent())?.replace('answered by ', ''));
      for (const protocol of PROTOCOLS) {
        expect(await rowOnScreen(page, 'cluster', protocol), `cluster ${protocol}`).toEqual(expectedRow(families, protocol));
        for (const [index, nodeId] of NODES.entries()) {
          expect(await rowOnScreen(page, nodeId, protocol), `${nodeId} ${protocol}`).toEqual(expectedRow([families[index] as Families], protocol));
        }
      }
      expect(await countsOnScreen(page, 'auth-rows')).toEqual(expectedCounts(families, 'gateway_auth_failures_total', 'reason'));
      expect(await countsOnScreen(page, 'error-rows')).toEqual(expectedCounts(families, 'gateway_client_errors_total', 'code'));
      expect(await countsOnScreen(page, 'close-rows')).toEqual(expectedCounts(families, 'gateway_connections_closed_total', 'code'));
    }
    // The figures were not one node's: both nodes carry some of the clients, and both answered polls.
    const cluster = await rowOnScreen(page, 'cluster', 'signals');
    expect(cluster['connections']).toBe(4);
    expect(cluster['sent']).toBeGreaterThanOrEqual(4);
    for (const nodeId of NODES) {
      expect((await rowOnScreen(page, nodeId, 'signals'))['connections']).toBeGreaterThan(0);
    }
    // Either node gives the same cluster answer (nginx picks one per request).
    const totals = await Promise.all(
      gateways.map(async (g) => {
        const response = await fetch(`http://127.0.0.1:${String(g.ports[0])}/api/console/snapshot`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        return ((await response.json()) as { totals: unknown }).totals;
      }),
    );
    expect(totals[0]).toEqual(totals[1]);
    expect(pageErrors).toEqual([]);
  });

  it('lists both nodes on the bus and every source with its process', async () => {
    for (const nodeId of NODES) {
      const row = page.locator(`#bus-rows tr[data-node="${nodeId}"]`);
      expect(await row.locator('[data-field="kind"]').textContent()).toBe('redis');
      expect(await row.locator('[data-field="state"]').textContent()).toBe('connected');
    }
    const gatewaySource = page.locator(`#source-rows tr[data-source="heartbeat"][data-node="${NODES[0]}"]`);
    await expect.poll(() => gatewaySource.getAttribute('data-health'), { timeout: UI_TIMEOUT_MS }).toBe('ok');
    expect(await gatewaySource.locator('[data-field="process"]').textContent()).toBe('gateway');
    const workerSource = page.locator('#source-rows tr[data-source="heartbeat"][data-node="console-worker"]');
    await expect.poll(() => workerSource.getAttribute('data-health'), { timeout: UI_TIMEOUT_MS }).toBe('ok');
    expect(await workerSource.locator('[data-field="process"]').textContent()).toBe('worker');
    expect(await page.locator('#worker-rows tr[data-worker="console-worker"] [data-field="state"]').textContent()).toBe('up');

    const screenshot = process.env['CONSOLE_SCREENSHOT'];
    if (screenshot !== undefined && screenshot !== '') {
      await page.screenshot({ path: screenshot, fullPage: true });
    }
  });

  it('shows a killed worker as down once its presence expires (within the interest TTL)', async () => {
    worker.child.kill('SIGKILL');
    await worker.exited;
    const state = page.locator('#worker-rows tr[data-worker="console-worker"] [data-field="state"]');
    // The presence expires INTEREST_TTL_MS after its last renewal; a live gateway then drops it, and the next
    // poll shows it: a bound of two TTLs and two polls, however loaded the machine.
    await expect.poll(() => state.textContent(), { timeout: 2 * INTEREST_TTL_MS + 4_000 }).toBe('down');
    await expect
      .poll(() => page.locator('#source-rows tr[data-source="heartbeat"][data-node="console-worker"]').getAttribute('data-health'), { timeout: UI_TIMEOUT_MS })
      .toBe('down');
    expect(pageErrors).toEqual([]);
  });
});
