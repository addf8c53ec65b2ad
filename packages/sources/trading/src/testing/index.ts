export { orderRow, positionRow, sampleAccount, startFakeBybit, walletRow } from './fake-bybit.js';
export type { FakeAccount, FakeBybit, FakeClosedPnl, FakeFault, FakeOrder, FakePosition, RecordedRequest } from './fake-bybit.js';
export { PRIVATE_PATH, startFakeBybitSocket } from './fake-bybit-socket.js';
export type { FakeBybitSocket, FakeBybitSocketOptions, FakeSocketOp } from './fake-bybit-socket.js';
export { startFakeBybitStream } from './fake-bybit-stream.js';
export type { FakeBybitExchange } from './fake-bybit-stream.js';
export { runTradingSource, writeAccountsFile } from './harness.js';
export type { RunningTradingSource } from './harness.js';
