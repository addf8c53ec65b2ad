export { MemoryHub, createMemoryBus } from './memory-bus.js';
export type { MemoryBusOptions, MemoryHubOptions } from './memory-bus.js';
