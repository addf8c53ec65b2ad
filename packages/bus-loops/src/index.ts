export { createBusHost } from './host.js';
export type { BusHost, BusHostOptions } from './host.js';
export { connectLoopBus, crashLoopBus, createLoopBus } from './loop-bus.js';
export type { LoopBusOptions } from './loop-bus.js';
export { PROTOCOL_VERSION } from './protocol.js';
