export { TradingClient, connectTradingClient, expectRefused } from './client.js';
export type { ClientOptions, ReceivedEvent } from './client.js';
export { startSocketIoServer, testSecret } from './server.js';
export type { SocketIoTestServer } from './server.js';
