export { busConfig, createBusFromConfig } from './bus.js';
export type { BusConfig } from './bus.js';
export { defaultNodeId, processConfig } from './process-config.js';
export { builtInSources, selectSources, sourceSections } from './sources.js';
