// A web page a developer happens to visit must not be able to publish signals through the development
// gateway running on their machine (ADMIN_TOKEN unset: admin routes open to this machine). Chromium loads a
// page from another origin, which tries the two requests a page can send without the gateway's consent — a
// `text/plain` fetch (no CORS preflight) and a `text/plain` form POST — and an `application/json` fetch, which
// needs a preflight the gateway never grants.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '@gw/dashboard/testing';
import type { Browser, Page } from '@gw/dashboard/testing';
import type { TestGateway } from '../testing/gateway.js';
import { openWebSocket } from '../testing/http.js';
import { buy, publishSignal, startSignalsGateway, token } from '../protocols/signals/fixture.js';
import { metricValue } from '../protocols/socketio/harness.js';

/** What the attacking page sends as the body: a complete signal, so only the gateway's rules stop it. */
const forged = buy('EVILUSDT', 1);

let gateway: TestGateway;
let page: Page;
/** What beforeAll started, stopped in reverse order by afterAll (also when beforeAll failed halfway). */
const cleanups: (() => Promise<unknown>)[] = [];

const escapeAttribute = (text: string): string => text.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');

/**
 * The attacking page: a `text/plain` form into an iframe, the JSON-in-a-form-field trick (the body is
 * `name=value`, so the name opens the JSON and the value closes it).
 */
function attackerPage(target: string): string {
  const json = JSON.stringify(forged);
  return `<!doctype html><title>some page on the web</title><iframe name="sink"></iframe>
<form method="POST" enctype="text/plain" target="sink" action="${escapeAttribute(target)}">
<input type="hidden" name="${escapeAttribute(json.slice(0, -1) + ',"x":"')}" value="${escapeAttribute('"}')}"><button>send</button></form>`;
}

beforeAll(async () => {
  // ADMIN_TOKEN empty: the development default, admin routes answer loopback peers.
  gateway = await startSignalsGateway({ ADMIN_TOKEN: '' });
  cleanups.push(() => gateway.shutdown());
  const html = attackerPage(`${gateway.httpUrl}/api/signals`);
  const pageServer: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => pageServer.close(resolve)));
  const browser: Browser = await launchChromium();
  cleanups.push(() => browser.close());
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/`, { waitUntil: 'load' });
}, 90_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) {
    await cleanup();
  }
});

/** `http_requests_total` of `POST /api/signals` with `status`. */
const signalRequests = (status: number): Promise<number> =>
  metricValue(gateway, new RegExp(`http_requests_total\\{[^}]*route="/api/signals"[^}]*status="${status}"[^}]*\\} (\\d+)`));

describe('a cross-origin page in Chromium against an open development gateway', () => {
  it('cannot publish with text/plain (fetch or form: 415) nor with application/json (preflight not granted)', async () => {
    const listener = await openWebSocket(`${gateway.wsUrl}/ws/signals`, { headers: { authorization: `Bearer ${await token(4)}` } });
    const statuses: { url: string; method: string; status: number }[] = [];
    page.on('response', (response) => {
      statuses.push({ url: response.url(), method: response.request().method(), status: response.status() });
    });
    const target = `${gateway.httpUrl}/api/signals`;
    const refusedBefore = await signalRequests(415);

    // 1. fetch without CORS (`no-cors`, text/plain): sent without a preflight, its answer unreadable to the page.
    const noCors = await page.evaluate(
      async ({ url, body }) => {
        const response = await fetch(url, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body });
        return response.type;
      },
      { url: target, body: JSON.stringify(forged) },
    );
    expect(noCors).toBe('opaque');

    // 2. The page's text/plain form, posted into its iframe.
    const formAnswer = page.waitForResponse((response) => response.url() === target && response.request().method() === 'POST');
    await page.locator('button').click();
    expect((await formAnswer).status()).toBe(415);

    // Both reached the gateway and were answered 415.
    await expect.poll(() => signalRequests(415)).toBe(refusedBefore + 2);
    await expect.poll(() => statuses.filter((s) => s.url === target && s.method === 'POST').map((s) => s.status)).toEqual([415, 415]);

    // 3. application/json from another origin needs a CORS preflight; the gateway grants none, so the browser
    // never sends the POST and the page sees a network error.
    const withJson = await page.evaluate(
      async ({ url, body }) => {
        try {
          const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          return `answered ${response.status}`;
        } catch (error) {
          return `blocked: ${(error as Error).name}`;
        }
      },
      { url: target, body: JSON.stringify(forged) },
    );
    expect(withJson).toBe('blocked: TypeError');
    expect(statuses.filter((s) => s.url === target && s.method === 'POST').map((s) => s.status)).toEqual([415, 415]);
    expect(await signalRequests(201)).toBe(0);

    // The gateway does publish for this machine: the first signal the listener gets is this one, so none of
    // the page's attempts was published before it (a connection delivers in order).
    const control = await publishSignal(gateway, buy('BTCUSDT', 75_000), null);
    expect(control.status).toBe(201);
    await expect.poll(() => listener.messages.length).toBeGreaterThan(0);
    const first = JSON.parse(listener.messages[0] ?? '{}') as { id?: string; content?: { symbol?: string } };
    expect(first.content?.symbol).toBe('BTCUSDT');
    expect(first.id).toBe(control.json['id']);
    expect(listener.messages.join('\n')).not.toContain('EVILUSDT');
    listener.socket.close();
  });
});
