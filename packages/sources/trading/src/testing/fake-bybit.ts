import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A local fake of Bybit's v5 REST API, for driving the REAL `ccxt.bybit` class (its `urls.api` pointed here):
 * the public endpoints `loadMarkets` calls and the private endpoints the trading source calls, with the
 * response shapes of Bybit's v5 documentation (values as strings, `{retCode, retMsg, result, retExtInfo,
 * time}` envelopes). Signed requests are accepted without checking the signature; the API key header is
 * checked (unknown key → retCode 10003, as Bybit answers). Every request is recorded so tests can assert
 * what ccxt asked for (e.g. `settleCoin=USDT` on open orders). 127.0.0.1 only, port chosen by the kernel.
 */

export interface FakePosition {
  symbol: string;
  side: 'Buy' | 'Sell';
  size: string;
  avgPrice: string;
  markPrice: string;
  unrealisedPnl: string;
  leverage?: string;
  /** When the position last changed (ms); default: the time of the answer. */
  updatedTime?: number;
}

export interface FakeOrder {
  orderId: string;
  symbol: string;
  side: 'Buy' | 'Sell';
  qty: string;
  price: string;
  orderStatus: string;
  leavesQty?: string;
  cumExecQty?: string;
  /** When the order last changed (ms). */
  updatedTime?: number;
}

export interface FakeClosedPnl {
  symbol: string;
  side: 'Buy' | 'Sell';
  qty: string;
  closedPnl: string;
  avgEntryPrice: string;
  avgExitPrice: string;
  /** ms since the epoch */
  updatedTime: number;
}

export interface FakeAccount {
  walletBalance: string;
  availableToWithdraw: string;
  totalPositionIM: string;
  totalOrderIM: string;
  positions: FakePosition[];
  orders: FakeOrder[];
  closedPnl: FakeClosedPnl[];
  /** Delay of every answer to this key (ms): a slow exchange account. */
  delayMs?: number;
  /** The key's secret: the private WebSocket fake checks auth signatures with it (none: auth is refused). */
  secret?: string;
}

/** What the next request(s) of a key get instead of a normal answer. */
export type FakeFault =
  | { kind: 'retCode'; retCode: number; retMsg: string }
  | { kind: 'http'; status: number }
  | { kind: 'reset' };

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  apiKey: string | undefined;
  at: number;
}

export interface FakeBybit {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Sets (or replaces) the account behind an API key. */
  setAccount(apiKey: string, account: FakeAccount): void;
  account(apiKey: string): FakeAccount;
  /** The next `count` private requests of `apiKey` fail with `fault` (Infinity: until `clearFault`). */
  failNext(apiKey: string, fault: FakeFault, count?: number): void;
  clearFault(apiKey: string): void;
  /**
   * Private requests on `path` (of `apiKey` only, when given) get no answer until the returned function is
   * called; then the waiting ones and every later one are answered as usual. Lets a test act while a client is
   * known to be inside such a request.
   */
  hold(path: string, apiKey?: string): () => void;
  /** Private requests made with `apiKey` (optionally only those on `path`). */
  requestsOf(apiKey: string, path?: string): RecordedRequest[];
  close(): Promise<void>;
}

const linearInstrument = (symbol: string, base: string, tick: string, qtyStep: string) => ({
  symbol,
  contractType: 'LinearPerpetual',
  status: 'Trading',
  baseCoin: base,
  quoteCoin: 'USDT',
  launchTime: '1585526400000',
  deliveryTime: '0',
  deliveryFeeRate: '',
  priceScale: String(tick.split('.')[1]?.length ?? 0),
  leverageFilter: { minLeverage: '1', maxLeverage: '100.00', leverageStep: '0.01' },
  priceFilter: { minPrice: tick, maxPrice: '1999999.80', tickSize: tick },
  lotSizeFilter: {
    maxOrderQty: '1190.000',
    minOrderQty: qtyStep,
    qtyStep,
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
  riskParameters: { priceLimitRatioX: '0.01', priceLimitRatioY: '0.02' },
  displayName: '',
});

const instruments = [
  linearInstrument('BTCUSDT', 'BTC', '0.10', '0.001'),
  linearInstrument('ETHUSDT', 'ETH', '0.01', '0.01'),
  linearInstrument('SOLUSDT', 'SOL', '0.001', '0.1'),
];

function envelope(result: unknown): string {
  return JSON.stringify({ retCode: 0, retMsg: 'OK', result, retExtInfo: {}, time: Date.now() });
}

function failure(retCode: number, retMsg: string): string {
  return JSON.stringify({ retCode, retMsg, result: {}, retExtInfo: {}, time: Date.now() });
}

/** A `/v5/position/list` row (the private `position` topic adds `category` and names the price `entryPrice`). */
export function positionRow(p: FakePosition) {
  const value = (Number(p.size) * Number(p.avgPrice)).toFixed(4);
  return {
    positionIdx: 0,
    riskId: 1,
    riskLimitValue: '2000000',
    symbol: p.symbol,
    side: p.side,
    size: p.size,
    avgPrice: p.avgPrice,
    positionValue: value,
    tradeMode: 0,
    positionStatus: 'Normal',
    autoAddMargin: 0,
    adlRankIndicator: 2,
    leverage: p.leverage ?? '10',
    positionBalance: '0',
    markPrice: p.markPrice,
    liqPrice: '',
    bustPrice: '',
    positionMM: '0',
    positionIM: (Number(value) / Number(p.leverage ?? '10')).toFixed(4),
    tpslMode: 'Full',
    takeProfit: '0',
    stopLoss: '0',
    trailingStop: '0',
    unrealisedPnl: p.unrealisedPnl,
    curRealisedPnl: '0',
    cumRealisedPnl: '0',
    seq: 4688002127,
    isReduceOnly: false,
    mmrSysUpdatedTime: '',
    leverageSysUpdatedTime: '',
    sessionAvgPrice: '',
    createdTime: '1676538056258',
    updatedTime: String(p.updatedTime ?? Date.now()),
  };
}

/** A `/v5/order/realtime` row (the private `order` topic carries the same fields plus `category`). */
export function orderRow(o: FakeOrder) {
  return {
    orderId: o.orderId,
    orderLinkId: '',
    blockTradeId: '',
    symbol: o.symbol,
    price: o.price,
    qty: o.qty,
    side: o.side,
    isLeverage: '',
    positionIdx: 0,
    orderStatus: o.orderStatus,
    cancelType: 'UNKNOWN',
    rejectReason: 'EC_NoError',
    avgPrice: '0',
    leavesQty: o.leavesQty ?? o.qty,
    leavesValue: (Number(o.leavesQty ?? o.qty) * Number(o.price)).toFixed(4),
    cumExecQty: o.cumExecQty ?? '0',
    cumExecValue: '0',
    cumExecFee: '0',
    timeInForce: 'GTC',
    orderType: 'Limit',
    stopOrderType: '',
    orderIv: '',
    triggerPrice: '0.00',
    takeProfit: '0.00',
    stopLoss: '0.00',
    tpTriggerBy: '',
    slTriggerBy: '',
    triggerDirection: 0,
    triggerBy: '',
    lastPriceOnCreated: o.price,
    reduceOnly: false,
    closeOnTrigger: false,
    smpType: 'None',
    smpGroup: 0,
    smpOrderId: '',
    tpslMode: '',
    tpLimitPrice: '',
    slLimitPrice: '',
    placeType: '',
    createdTime: '1684738540559',
    updatedTime: String(o.updatedTime ?? 1684738540561),
  };
}

function closedPnlRow(c: FakeClosedPnl) {
  return {
    symbol: c.symbol,
    orderId: `closed-${c.updatedTime}`,
    side: c.side,
    qty: c.qty,
    orderPrice: c.avgExitPrice,
    orderType: 'Market',
    execType: 'Trade',
    closedSize: c.qty,
    cumEntryValue: (Number(c.qty) * Number(c.avgEntryPrice)).toFixed(4),
    avgEntryPrice: c.avgEntryPrice,
    cumExitValue: (Number(c.qty) * Number(c.avgExitPrice)).toFixed(4),
    avgExitPrice: c.avgExitPrice,
    closedPnl: c.closedPnl,
    fillCount: '1',
    leverage: '10',
    createdTime: String(c.updatedTime - 1000),
    updatedTime: String(c.updatedTime),
  };
}

/** A `/v5/account/wallet-balance` list entry (the private `wallet` topic carries the same object). */
export function walletRow(a: FakeAccount) {
  return {
    accountType: 'UNIFIED',
    accountIMRate: '0',
    accountMMRate: '0',
    accountLTV: '0',
    totalEquity: a.walletBalance,
    totalWalletBalance: a.walletBalance,
    totalMarginBalance: a.walletBalance,
    totalAvailableBalance: a.availableToWithdraw,
    totalPerpUPL: '0',
    totalInitialMargin: (Number(a.totalPositionIM) + Number(a.totalOrderIM)).toFixed(4),
    totalMaintenanceMargin: '0',
    coin: [
      {
        coin: 'USDT',
        equity: a.walletBalance,
        usdValue: a.walletBalance,
        walletBalance: a.walletBalance,
        free: '',
        locked: '0',
        spotHedgingQty: '0',
        borrowAmount: '0',
        availableToWithdraw: a.availableToWithdraw,
        availableToBorrow: '',
        accruedInterest: '0',
        totalOrderIM: a.totalOrderIM,
        totalPositionIM: a.totalPositionIM,
        totalPositionMM: '0',
        unrealisedPnl: '0',
        cumRealisedPnl: '0',
        bonus: '0',
        marginCollateral: true,
        collateralSwitch: true,
      },
    ],
  };
}

/** Starts the fake on 127.0.0.1 (kernel-chosen port). */
export async function startFakeBybit(): Promise<FakeBybit> {
  const accounts = new Map<string, FakeAccount>();
  const faults = new Map<string, { fault: FakeFault; remaining: number }>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  /** Held paths → the answers waiting for the hold's release. */
  const held = new Map<string, (() => void)[]>();

  const privateAnswer = (path: string, query: Record<string, string>, account: FakeAccount): string | undefined => {
    switch (path) {
      case '/v5/user/query-api':
        return envelope({ id: '1', note: 'fake', apiKey: 'hidden', readOnly: 1, secret: '', permissions: { ContractTrade: ['Order', 'Position'], Wallet: ['AccountTransfer'] }, ips: ['*'], type: 1, deadlineDay: 90, expiredAt: '', createdAt: '2024-01-01T00:00:00Z', unified: 0, uta: 1, userID: 1, inviterID: 0, vipLevel: 'No VIP', mktMakerLevel: '0', affiliateID: 0, rsaPublicKey: '', isMaster: true });
      case '/v5/account/info':
        return envelope({ marginMode: 'REGULAR_MARGIN', updatedTime: '1697078946000', unifiedMarginStatus: 5, dcpStatus: 'OFF', timeWindow: 10, smpGroup: 0, isMasterTrader: false, spotHedgingStatus: 'OFF' });
      case '/v5/asset/coin/query-info':
        return envelope({ rows: [] });
      case '/v5/account/wallet-balance':
        return envelope({ list: [walletRow(account)] });
      case '/v5/position/list':
        // The positions are linear contracts: ccxt's pro class also asks for inverse ones, which are none.
        return envelope({ nextPageCursor: '', category: query['category'] ?? 'linear', list: query['category'] === 'inverse' ? [] : account.positions.map(positionRow) });
      case '/v5/order/realtime':
        if (query['symbol'] === undefined && query['settleCoin'] === undefined && query['baseCoin'] === undefined) {
          // Bybit's answer to a linear open-orders query without a symbol or settleCoin.
          return failure(10001, 'Missing some parameters that must be filled in, symbol or settleCoin or baseCoin');
        }
        return envelope({ nextPageCursor: '', category: query['category'] ?? 'linear', list: account.orders.map(orderRow) });
      case '/v5/position/closed-pnl': {
        const start = Number(query['startTime'] ?? 0);
        const limit = Number(query['limit'] ?? 50);
        const rows = account.closedPnl.filter((c) => c.updatedTime >= start).slice(0, limit);
        return envelope({ nextPageCursor: '', category: query['category'] ?? 'linear', list: rows.map(closedPnlRow) });
      }
      default:
        return undefined;
    }
  };

  const publicAnswer = (path: string, query: Record<string, string>): string | undefined => {
    switch (path) {
      case '/v5/market/time':
        return envelope({ timeSecond: String(Math.floor(Date.now() / 1000)), timeNano: `${Date.now()}000000` });
      case '/v5/market/instruments-info':
        return envelope({ category: query['category'] ?? 'linear', list: query['category'] === 'linear' ? instruments : [], nextPageCursor: '' });
      default:
        return undefined;
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams.entries());
    const header = req.headers['x-bapi-api-key'];
    const apiKey = Array.isArray(header) ? header[0] : header;
    requests.push({ method: req.method ?? 'GET', path: url.pathname, query, apiKey, at: Date.now() });
    const send = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    };
    const publicBody = publicAnswer(url.pathname, query);
    if (publicBody !== undefined) {
      send(200, publicBody);
      return;
    }
    const account = apiKey === undefined ? undefined : accounts.get(apiKey);
    if (apiKey === undefined || account === undefined) {
      send(200, failure(10003, 'API key is invalid.'));
      return;
    }
    const answer = (): void => {
      const pending = faults.get(apiKey);
      if (pending !== undefined) {
        pending.remaining -= 1;
        if (pending.remaining <= 0) {
          faults.delete(apiKey);
        }
        switch (pending.fault.kind) {
          case 'retCode':
            send(200, failure(pending.fault.retCode, pending.fault.retMsg));
            return;
          case 'http':
            send(pending.fault.status, '<html><body>bad gateway</body></html>');
            return;
          case 'reset':
            req.socket.destroy();
            return;
        }
      }
      const body = privateAnswer(url.pathname, query, account);
      send(body === undefined ? 404 : 200, body ?? failure(10001, `unknown endpoint ${url.pathname}`));
    };
    const waiting = held.get(url.pathname) ?? held.get(`${url.pathname} ${apiKey}`);
    if (waiting !== undefined) {
      waiting.push(answer);
    } else if (account.delayMs !== undefined && account.delayMs > 0) {
      setTimeout(answer, account.delayMs);
    } else {
      answer();
    }
  };

  const server: Server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setAccount(apiKey, account) {
      accounts.set(apiKey, account);
    },
    account(apiKey) {
      const account = accounts.get(apiKey);
      if (account === undefined) {
        throw new Error(`no fake account for key ${apiKey}`);
      }
      return account;
    },
    failNext(apiKey, fault, count = 1) {
      faults.set(apiKey, { fault, remaining: count });
    },
    clearFault(apiKey) {
      faults.delete(apiKey);
    },
    hold(path, apiKey) {
      const key = apiKey === undefined ? path : `${path} ${apiKey}`;
      const waiting: (() => void)[] = held.get(key) ?? [];
      held.set(key, waiting);
      return () => {
        if (held.get(key) === waiting) {
          held.delete(key);
        }
        for (const answer of waiting.splice(0)) {
          answer();
        }
      };
    },
    requestsOf(apiKey, path) {
      return requests.filter((r) => r.apiKey === apiKey && (path === undefined || r.path === path));
    },
    close() {
      for (const socket of sockets) {
        socket.destroy();
      }
      return new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

/** A realistic account: one long BTC position, one short ETH position, one resting order, two closed trades. */
export function sampleAccount(now: number = Date.now()): FakeAccount {
  return {
    walletBalance: '10000.00',
    availableToWithdraw: '8000.00',
    totalPositionIM: '1500.00',
    totalOrderIM: '500.00',
    positions: [
      { symbol: 'BTCUSDT', side: 'Buy', size: '0.1', avgPrice: '50000', markPrice: '50500', unrealisedPnl: '50' },
      { symbol: 'ETHUSDT', side: 'Sell', size: '2', avgPrice: '3000', markPrice: '2975', unrealisedPnl: '50' },
    ],
    orders: [{ orderId: '123456', symbol: 'BTCUSDT', side: 'Buy', qty: '0.1', price: '49000', orderStatus: 'New' }],
    closedPnl: [
      { symbol: 'BTCUSDT', side: 'Sell', qty: '0.05', closedPnl: '30', avgEntryPrice: '49000', avgExitPrice: '49600', updatedTime: now - 60_000 },
      { symbol: 'ETHUSDT', side: 'Buy', qty: '1', closedPnl: '370', avgEntryPrice: '3100', avgExitPrice: '2730', updatedTime: now - 3 * 86_400_000 },
    ],
  };
}
