/**
 * A TypeScript consumer of the SDK. The packed-SDK test copies it into a project outside the workspace and
 * type-checks it there with `tsc` against the installed package (the package's declarations checked too), where
 * none of the gateway's packages can be resolved. Each `@ts-expect-error` proves a type is real: had the
 * declarations degraded to `any`, the directive would be unused, which is itself an error.
 */
import { WebSocket } from 'ws';
import { SignalsClient, StockPricesClient, TradingClient, tradingTypes } from '@gw/client';
import type { PriceItem, PushPayload, SignalFrame, SignalRecovery, TradingType } from '@gw/client';

/** Follows all three protocols; returns what it has seen so far and a function that stops it. */
export function follow(httpUrl: string, token: string, watchlist: readonly string[]): { lines: string[]; stop: () => string | undefined } {
  const wsUrl = httpUrl.replace(/^http/, 'ws');
  const lines: string[] = [];

  const signals = new SignalsClient({ url: `${wsUrl}/ws/signals`, WebSocket, getToken: () => token, symbols: ['BTCUSDT'] });
  signals.onSignal((signal: SignalFrame) => lines.push(`${signal.type} ${signal.content.symbol} @ ${signal.content.price}`));
  signals.onRecovery((recovery: SignalRecovery) => lines.push(recovery.recovered ? 'resumed' : `lost after ${recovery.since}: ${recovery.reason}`));
  // @ts-expect-error a signal's price is a number
  signals.onSignal((signal) => lines.push(signal.content.price));

  const stock = new StockPricesClient({ url: `${wsUrl}/ws/stock/prices`, WebSocket });
  stock.onPrices((update) => {
    update.data.forEach((item: PriceItem) => lines.push(`${item.code} ${item.name} ${item.price}`));
  });
  for (const code of watchlist) {
    void stock.subscribe('stock', code);
  }
  // @ts-expect-error the subscription types are strategy, stock and market
  void stock.subscribe('sector', 'banks');

  const trading = new TradingClient({ url: httpUrl, getToken: () => Promise.resolve(token) });
  trading.onBalanceUpdate((push: PushPayload<'balance'>) => lines.push(`balance ${push.data.total_balance}`));
  trading.onOrdersUpdate((push) => {
    push.data.forEach((order) => lines.push(`${order.side} ${order.quantity} ${order.symbol}`));
  });
  trading.onError((error) => lines.push(`${error.source}: ${error.code}`));
  const types: readonly TradingType[] = tradingTypes;
  void trading.subscribe(types);
  // @ts-expect-error the four trading types only
  void trading.subscribe(['candles']);

  return {
    lines,
    stop: () => {
      signals.close();
      stock.close();
      trading.close();
      return signals.lastSignalId;
    },
  };
}
