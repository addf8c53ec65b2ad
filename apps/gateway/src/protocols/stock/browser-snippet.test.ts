import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '@gw/dashboard/testing';
import type { Browser } from '@gw/dashboard/testing';
import type { TestGateway } from '../../testing/gateway.js';
import { startStockGateway } from './harness.js';

/**
 * The legacy stock price service's browser snippet ("Way 3: browser (Chrome DevTools console)"), run verbatim in Debian's Chromium
 * with only host and port changed: the page's own WebSocket (with the Origin header a browser sends) connects,
 * subscribes to volume_wave and receives its messages.
 */
describe('the legacy stock price guide browser snippet in Chromium', () => {
  let gateway: TestGateway;
  let browser: Browser;

  beforeAll(async () => {
    gateway = await startStockGateway({}, 'market');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser.close();
    await gateway.shutdown();
  });

  it('connects, subscribes to volume_wave and logs connected, subscribed and price_update', async () => {
    const page = await browser.newPage();
    const logged: unknown[] = [];
    await page.exposeFunction('record', (entry: unknown) => {
      logged.push(entry);
    });
    await page.goto(`${gateway.httpUrl}/api/health`); // any page of the gateway's origin
    const url = `ws://127.0.0.1:${gateway.ports[0]}/ws/stock/prices`;
    await page.evaluate((wsUrl) => {
      const { record } = globalThis as unknown as { record: (entry: unknown) => void };
      // The snippet logs to the DevTools console; here its lines go back to the test.
      const console = {
        log: (label: string, data: unknown): void => {
          record({ label, data });
        },
        error: (..._args: unknown[]): void => undefined,
      };
      // --- the legacy guide's snippet; only 'ws://localhost:8000' became the gateway's address ---
      const ws = new WebSocket(wsUrl);
      ws.onmessage = (event) => {
        const data: unknown = JSON.parse(event.data as string);
        console.log('message:', data);
      };
      ws.onopen = () => {
        console.log('WebSocket connected', null);
        ws.send(JSON.stringify({
          type: 'subscribe',
          subscription_type: 'strategy',
          target: 'volume_wave',
        }));
      };
      ws.onerror = (error) => {
        console.error('WebSocket error:', error);
      };
      // --- end of the snippet ---
    }, url);
    const types = (): string[] =>
      logged.map((e) => ((e as { data: { type?: string } | null }).data?.type ?? (e as { label: string }).label));
    await expect.poll(types, { timeout: 15_000 }).toEqual(expect.arrayContaining(['WebSocket connected', 'connected', 'subscribed', 'price_update']));
    const update = logged.find((e) => (e as { data: { type?: string } | null }).data?.type === 'price_update') as {
      data: { count: number; data: { code: string; name: string }[] };
    };
    expect(update.data.count).toBeGreaterThan(0);
    expect(update.data.data[0]).toMatchObject({ code: expect.stringMatching(/^\d{6}$/) as unknown });
  });
});
