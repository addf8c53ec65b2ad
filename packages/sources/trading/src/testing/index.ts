export { sampleAccount, startFakeBybit } from './fake-bybit.js';
export type { FakeAccount, FakeBybit, FakeClosedPnl, FakeFault, FakeOrder, FakePosition, RecordedRequest } from './fake-bybit.js';
export { runTradingSource, writeAccountsFile } from './harness.js';
export type { RunningTradingSource } from './harness.js';
