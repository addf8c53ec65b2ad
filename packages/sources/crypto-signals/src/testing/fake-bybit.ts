import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local fake of Bybit's public v5 REST API, for tests that drive ccxt's real `bybit` class (pointed here with
 * `apiBaseUrl`). It answers the two endpoints that `loadMarkets` and `fetchOHLCV` call when ccxt is limited to
 * one market type and has no credentials (read from ccxt/js/src/bybit.js):
 *
 * - `GET /v5/market/instruments-info?category=spot` (spot) or `?category=linear&limit=1000` plus the same with
 *   `&status=PreLaunch` (linear): the listed instruments. (`fetchCurrencies` needs credentials, so it makes no
 *   request; `/v5/market/time` is only called with `adjustForTimeDifference`.)
 * - `GET /v5/market/kline?category=…&symbol=BTCUSDT&interval=1&limit=N`: rows `[startTime, open, high, low,
 *   close, volume, turnover]` as strings, newest first, the first row being the minute still forming.
 *
 * Payload shapes follow Bybit's v5 docs (retCode 0, retMsg "OK", result.list, string fields, `time`). A listed
 * symbol without a series answers retCode 10001 "Not supported symbols" (as Bybit does for a delisted pair);
 * anything else is a 404. Every request is recorded. Bars are in the past (all closed) except the forming one,
 * which carries an absurd close so a test notices if it is ever treated as closed.
 */

export interface SeenRequest {
  path: string;
  query: Record<string, string>;
  /** performance.now() when it arrived. */
  at: number;
}

/** An answer a test substitutes for the normal one. */
export interface FakeAnswer {
  status: number;
  body: string;
  contentType?: string;
  /** Wait this long before answering (a hung exchange). */
  delayMs?: number;
}

export interface FakeBybitOptions {
  /** Closes of consecutive closed 1-minute bars per symbol (exchange id, `BTCUSDT`). */
  series: Record<string, readonly number[]>;
  /** Symbols listed by instruments-info. @default the keys of `series` */
  listed?: readonly string[];
  /** Closed bars visible at a symbol's first kline request. @default the whole series */
  initialBars?: number;
  /** Closed bars added to what is visible after each normal kline answer (the market moving on). @default 1 */
  barsPerRequest?: number;
  /**
   * Called for every request with the number of earlier requests to the same path; an answer returned replaces
   * the normal one (and does not move the market on).
   */
  intercept?: (request: SeenRequest, indexOnPath: number) => FakeAnswer | undefined;
}

export interface FakeBybit {
  /** `http://127.0.0.1:PORT`, for `apiBaseUrl`. */
  readonly url: string;
  readonly requests: SeenRequest[];
  /** Start time (epoch ms) of bar `index` of every series. */
  barTime(index: number): number;
  /** Requests to one path. */
  requestsTo(path: string): SeenRequest[];
  close(): Promise<void>;
}

const MINUTE = 60_000;

function json(result: unknown, retCode = 0, retMsg = 'OK'): string {
  return JSON.stringify({ retCode, retMsg, result, retExtInfo: {}, time: Date.now() });
}

/** Bybit's answer to a burst over the API rate limit (retCode 10006), with HTTP 429. */
export function rateLimitAnswer(): FakeAnswer {
  return { status: 429, body: json({}, 10006, 'Too many visits. Exceeded the API Rate Limit.') };
}

/** What a load balancer in front of an exchange sends during an outage: HTML with a 500. */
export function serverErrorAnswer(): FakeAnswer {
  return { status: 500, contentType: 'text/html', body: '<html><body><h1>500 Internal Server Error</h1></body></html>' };
}

/** A 200 whose body is not JSON at all (a captive portal, a truncated proxy answer). */
export function garbageAnswer(): FakeAnswer {
  return { status: 200, contentType: 'text/plain', body: 'upstream connect error or disconnect/reset before headers' };
}

function spotInstrument(symbol: string): Record<string, unknown> {
  return {
    symbol,
    baseCoin: symbol.replace(/USDT$/, ''),
    quoteCoin: 'USDT',
    innovation: '0',
    status: 'Trading',
    marginTrading: 'utaOnly',
    stTag: '0',
    lotSizeFilter: {
      basePrecision: '0.000001',
      quotePrecision: '0.00000001',
      minOrderQty: '0.000048',
      maxOrderQty: '71.73956243',
      minOrderAmt: '1',
      maxOrderAmt: '2000000',
    },
    priceFilter: { tickSize: '0.01' },
    riskParameters: { priceLimitRatioX: '0.01', priceLimitRatioY: '0.02' },
  };
}

function linearInstrument(symbol: string): Record<string, unknown> {
  return {
    symbol,
    contractType: 'LinearPerpetual',
    status: 'Trading',
    baseCoin: symbol.replace(/USDT$/, ''),
    quoteCoin: 'USDT',
    launchTime: '1585526400000',
    deliveryTime: '0',
    deliveryFeeRate: '',
    priceScale: '2',
    leverageFilter: { minLeverage: '1', maxLeverage: '100.00', leverageStep: '0.01' },
    priceFilter: { minPrice: '0.10', maxPrice: '1999999.80', tickSize: '0.10' },
    lotSizeFilter: {
      maxOrderQty: '1190.000',
      minOrderQty: '0.001',
      qtyStep: '0.001',
      postOnlyMaxOrderQty: '1190.000',
      maxMktOrderQty: '500.000',
      minNotionalValue: '5',
    },
    unifiedMarginTrade: true,
    fundingInterval: 480,
    settleCoin: 'USDT',
    copyTrading: 'both',
    upperFundingRate: '0.005',
    lowerFundingRate: '-0.005',
    isPreListing: false,
    preListingInfo: null,
  };
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export async function startFakeBybit(options: FakeBybitOptions): Promise<FakeBybit> {
  const listed = options.listed ?? Object.keys(options.series);
  const longest = Math.max(0, ...Object.values(options.series).map((closes) => closes.length));
  // Bars end well before now, so all of them are closed whatever the test's pace.
  const firstBar = Math.floor(Date.now() / MINUTE) * MINUTE - (longest + 10) * MINUTE;
  const barTime = (index: number): number => firstBar + index * MINUTE;
  const visible = new Map<string, number>();
  const requests: SeenRequest[] = [];
  const perPath = new Map<string, number>();

  const kline = (query: Record<string, string>): string => {
    const symbol = query['symbol'] ?? '';
    const closes = options.series[symbol];
    if (closes === undefined) {
      return json({}, 10001, 'Not supported symbols');
    }
    const shown = visible.get(symbol) ?? Math.min(options.initialBars ?? closes.length, closes.length);
    visible.set(symbol, Math.min(shown + (options.barsPerRequest ?? 1), closes.length));
    const rows: string[][] = closes.slice(0, shown).map((close, i) => {
      const open = i === 0 ? close : (closes[i - 1] ?? close);
      const volume = 12.5 + (i % 7);
      return [
        String(barTime(i)),
        String(open),
        String(Math.max(open, close) + 5),
        String(Math.min(open, close) - 5),
        String(close),
        String(volume),
        String(volume * close),
      ];
    });
    // The minute still forming, with a close no rule should ever act on.
    const last = closes[shown - 1] ?? 1;
    const forming = Math.floor(Date.now() / MINUTE) * MINUTE;
    rows.push([String(forming), String(last), String(last * 10), String(last), String(last * 10), '1', String(last * 10)]);
    const start = query['start'] === undefined ? -Infinity : Number(query['start']);
    const end = query['end'] === undefined ? Infinity : Number(query['end']);
    const limit = Math.min(Number(query['limit'] ?? 200), 1000);
    const list = rows
      .filter((row) => Number(row[0]) >= start && Number(row[0]) <= end)
      .slice(-limit)
      .reverse();
    return json({ category: query['category'], symbol, list });
  };

  const normalAnswer = (path: string, query: Record<string, string>): FakeAnswer => {
    if (path === '/v5/market/instruments-info') {
      const category = query['category'];
      if (category === 'spot') {
        return { status: 200, body: json({ category, list: listed.map(spotInstrument) }) };
      }
      if (category === 'linear') {
        const list = query['status'] === 'PreLaunch' ? [] : listed.map(linearInstrument);
        return { status: 200, body: json({ category, list, nextPageCursor: '' }) };
      }
      return { status: 200, body: json({ category, list: [] }) };
    }
    if (path === '/v5/market/kline') {
      return { status: 200, body: kline(query) };
    }
    return { status: 404, contentType: 'text/plain', body: 'Not Found' };
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const seen: SeenRequest = { path: url.pathname, query: Object.fromEntries(url.searchParams), at: performance.now() };
    requests.push(seen);
    const index = perPath.get(seen.path) ?? 0;
    perPath.set(seen.path, index + 1);
    const answer = options.intercept?.(seen, index) ?? normalAnswer(seen.path, seen.query);
    const send = (): void => {
      if (res.destroyed) {
        return;
      }
      res.writeHead(answer.status, {
        'Content-Type': answer.contentType ?? 'application/json; charset=utf-8',
        'X-Bapi-Limit': '600',
        'X-Bapi-Limit-Status': answer.status === 429 ? '0' : '599',
        'X-Bapi-Limit-Reset-Timestamp': String(Date.now() + 1_000),
        Traceid: `fake-${String(requests.length)}`,
      });
      res.end(answer.body);
    };
    if (answer.delayMs === undefined) {
      send();
    } else {
      const timer = setTimeout(send, answer.delayMs);
      res.on('close', () => {
        clearTimeout(timer);
      });
    }
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    requests,
    barTime,
    requestsTo: (path) => requests.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        // ccxt keeps connections alive (undici pool): close them, or server.close waits for their idle timeout.
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
