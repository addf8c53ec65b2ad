import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignalsAdapter, signalsAdapterConfig } from '@gw/adapter-signals';
import { createStockAdapter, stockAdapterConfig } from '@gw/adapter-stock';
import { loadConfig } from '@gw/config';
import { stockMarketSource } from '@gw/source-stock-market';
import { volumeWaveSource } from '@gw/source-volume-wave';
import type { ProtocolAdapter } from '@gw/connections';
import { buildDashboard, launchChromium } from '@gw/dashboard/testing';
import type { Browser, ConsoleMessage, Page } from '@gw/dashboard/testing';
import { signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import { buy, publishSignal } from '../protocols/signals/fixture.js';
import { token, until } from '../protocols/stock/harness.js';
import { startTestGateway } from '../testing/gateway.js';
import type { TestGateway } from '../testing/gateway.js';
import { httpGet } from '../testing/http.js';
import { registerDashboardRoutes } from './routes.js';

const ADMIN_TOKEN = 'dashboard-admin-token';

/**
 * Where the test serves the page. The gateway's system routes own `GET /` (uWS refuses a second handler for a
 * route), so until the dashboard replaces that placeholder the test mounts it here. The build's asset URLs are
 * relative and its API and WebSocket URLs absolute, so the page behaves the same at `/`.
 */
const MOUNT = '/dashboard/';

/** Every wait on the page is bounded; the simulated market ticks several times a second. */
const UI_TIMEOUT_MS = 15_000;

/** An adapter that also registers the dashboard on the app it attaches to: the test's way onto the gateway's app. */
function withDashboard(adapter: ProtocolAdapter, distDir: string): ProtocolAdapter {
  return {
    protocol: adapter.protocol,
    attach: (deps) => {
      registerDashboardRoutes(deps.app, { logger: deps.logger, metrics: deps.metrics, distDir, mountPath: MOUNT });
      return adapter.attach(deps);
    },
  };
}

/** Collects the page's console errors and uncaught exceptions, except those `allowed`. */
function collectErrors(page: Page, allowed: (message: ConsoleMessage) => boolean = () => false): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !allowed(message)) {
      errors.push(`${message.text()} (${message.location().url})`);
    }
  });
  page.on('pageerror', (error) => {
    errors.push(`uncaught: ${error.message}`);
  });
  return errors;
}

/** Code → price text of every row on the board (a row's inner text is its cells, tab-separated). */
async function pricesOnScreen(page: Page): Promise<Map<string, string>> {
  const rows = await page.locator('#price-rows tr').allInnerTexts();
  return new Map(rows.map((text) => text.split('\t')).map((cells) => [cells[0] ?? '', cells[2] ?? '']));
}

describe('the live dashboard in Chromium against a real gateway', () => {
  let buildDir: string;
  let gateway: TestGateway;
  let browser: Browser;
  let page: Page;
  let consoleErrors: string[];
  let pageUrl: string;
  /** What beforeAll started, stopped in reverse order by afterAll (also when beforeAll failed halfway). */
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    buildDir = await mkdtemp(join(tmpdir(), 'gw-dashboard-build-'));
    cleanups.push(() => rm(buildDir, { recursive: true, force: true }));
    await buildDashboard(buildDir);

    const env = {
      ADMIN_TOKEN,
      STOCK_PUSH_INTERVAL_MS: '500',
      STOCK_UNIVERSE_SIZE: '80',
      STOCK_TICKS_PER_SEC: '400',
      STOCK_WAVE_PROBABILITY: '0.05',
      STOCK_RANDOM_SEED: '11',
      // Bars of an hour: the seeded buy list stays put while the test runs.
      STOCK_BAR_INTERVAL_MS: '3600000',
    };
    const { stock, signals } = loadConfig(env, { stock: stockAdapterConfig, signals: signalsAdapterConfig });
    gateway = await startTestGateway({
      env,
      adapters: [withDashboard(createStockAdapter(stock), buildDir), createSignalsAdapter(signals)],
      sources: [stockMarketSource, volumeWaveSource],
    });
    cleanups.push(() => gateway.shutdown());
    await until(
      async () => ((await httpGet(`${gateway.httpUrl}/api/signals/buy?strategy=volume_wave`)).json() as { data: { count: number } }).data.count > 0,
      10_000,
      'a non-empty volume_wave buy list',
    );

    browser = await launchChromium();
    // Closed before the gateway stops: its sockets would otherwise see the gateway go away and reconnect.
    cleanups.push(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    // Before the sign-in the console's first snapshot request is refused (401), which Chromium reports.
    consoleErrors = collectErrors(page, (message) => message.location().url.endsWith('/api/console/snapshot') && message.text().includes('401'));
    pageUrl = `${gateway.httpUrl}${MOUNT}?token=${await token(1)}`;
    const response = await page.goto(pageUrl, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
  }, 90_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup();
    }
  });

  it('signs in with the admin token and shows this node connected to both protocols', async () => {
    await expect.poll(() => page.locator('#login').isVisible(), { timeout: UI_TIMEOUT_MS }).toBe(true);
    await page.locator('#admin-token').fill(ADMIN_TOKEN);
    await page.locator('#login-form button').click();
    await expect.poll(() => page.locator('#console-state').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('live');
    for (const protocol of ['stock', 'signals']) {
      await expect
        .poll(() => page.locator(`#protocol-rows tr[data-node="${gateway.nodeId}"][data-protocol="${protocol}"] [data-field="connections"]`).textContent(), {
          timeout: UI_TIMEOUT_MS,
        })
        .toBe('1');
    }
    expect(consoleErrors).toEqual([]);
  });

  it('shows message rates per protocol from successive snapshots', async () => {
    // Price updates to this page are stock messages out: after two polls their rate is a number per second.
    await expect
      .poll(() => page.locator('#protocol-rows tr[data-node="cluster"][data-protocol="stock"] [data-field="sent-rate"]').textContent(), {
        timeout: UI_TIMEOUT_MS,
      })
      .toMatch(/^[1-9][\d.,]*\/s$/);
    expect(consoleErrors).toEqual([]);
  });

  it('shows the volume_wave board and its prices change on screen', async () => {
    await expect.poll(async () => (await pricesOnScreen(page)).size, { timeout: UI_TIMEOUT_MS }).toBeGreaterThan(0);
    expect(await page.locator('#strategy').inputValue()).toBe('volume_wave');
    const before = await pricesOnScreen(page);
    await expect
      .poll(
        async () => {
          const now = await pricesOnScreen(page);
          return [...before].filter(([code, price]) => now.has(code) && now.get(code) !== price).length;
        },
        { timeout: UI_TIMEOUT_MS },
      )
      .toBeGreaterThan(0);
    expect(consoleErrors).toEqual([]);
  });

  it('switches strategy from the form: an unknown one is reported, volume_wave comes back', async () => {
    await page.locator('#strategy').fill('no_such_strategy');
    await page.locator('#strategy-form button').click();
    await expect.poll(() => page.locator('#price-summary').textContent(), { timeout: UI_TIMEOUT_MS }).toContain('unknown_strategy');
    expect(await page.locator('#price-rows tr').count()).toBe(0);

    await page.locator('#strategy').fill('volume_wave');
    await page.locator('#strategy-form button').click();
    await expect.poll(async () => (await pricesOnScreen(page)).size, { timeout: UI_TIMEOUT_MS }).toBeGreaterThan(0);
    expect(consoleErrors).toEqual([]);
  });

  it('shows a signal published through POST /api/signals in the feed', async () => {
    await expect.poll(() => page.locator('#signal-state').getAttribute('data-state'), { timeout: UI_TIMEOUT_MS }).toBe('open');
    const published = await publishSignal(gateway, buy('DASHUSDT', 4321.5), ADMIN_TOKEN);
    expect(published.status).toBe(201);

    const entry = page.locator('#signal-rows li', { hasText: 'DASHUSDT' });
    await expect.poll(() => entry.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    expect(await entry.getAttribute('data-side')).toBe('buy');
    expect(await entry.locator('.price').textContent()).toBe('4,321.50');

    const screenshot = process.env['DASHBOARD_SCREENSHOT'];
    if (screenshot !== undefined && screenshot !== '') {
      await page.screenshot({ path: screenshot, fullPage: true });
    }
    expect(consoleErrors).toEqual([]);
  });

  it('shows signals of every producer, not only the default set a legacy client gets (an A-share strategy too)', async () => {
    const strategySignal: Signal = { type: 'sell', content: { symbol: '600098', price: 12.5, timestamp: 1_720_000_000 }, source: 'volume_wave' };
    await gateway.bus.append<Signal>(signalsTopic, strategySignal, { maxLength: 100, maxAgeMs: 3_600_000 });
    const entry = page.locator('#signal-rows li', { hasText: '600098' });
    await expect.poll(() => entry.count(), { timeout: UI_TIMEOUT_MS }).toBe(1);
    expect(await entry.getAttribute('data-side')).toBe('sell');
  });

  it('answers files that are not in the build with the JSON 404', async () => {
    for (const path of [`${MOUNT}assets/nope-12345678.js`, `${MOUNT}nope.js`]) {
      const reply = await httpGet(`${gateway.httpUrl}${path}`);
      expect(reply.status, path).toBe(404);
      expect(reply.json(), path).toEqual({ code: 404, message: expect.any(String) as string, error: 'not_found' });
    }
  });
});
