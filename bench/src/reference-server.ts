/**
 * The reference row: the minimal uWebSockets.js broadcast server (`referenceApp`), run on the workspace's own
 * uWebSockets.js build — the fastest this machine fans out, which the gateway is measured against.
 *
 * Run by the bench as its own process: `PORT=18083 node --import tsx bench/src/reference-server.ts`.
 * `MIX_TRADING_PERIODS_MS=1000,1000,1000,15000` (balance, positions, pnl, orders) also serves trading users and
 * stock clients (`addMixRoutes`), pushing trading at those periods.
 */
import { parseTradingPeriods } from './mix-reference.js';
import { referenceApp } from './reference-app.js';

const port = Number(process.env['PORT'] ?? '18083');
const periods = process.env['MIX_TRADING_PERIODS_MS'];
const options = periods === undefined ? {} : { mix: { tradingPeriodsMs: parseTradingPeriods(periods) } };
referenceApp(undefined, options).listen('127.0.0.1', port, (token) => {
  if (token === false) {
    console.error(`uws-reference: cannot listen on 127.0.0.1:${port}`);
    process.exit(1);
  }
  console.log(`uws-reference listening on 127.0.0.1:${port}`);
});
process.on('SIGTERM', () => {
  process.exit(0);
});
