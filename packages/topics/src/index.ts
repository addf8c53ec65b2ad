export * from './signals.js';
export * from './stock.js';
export * from './trading.js';
export * from './sources.js';
export { SourceDirectory } from './directory.js';
export type { SourceDirectoryOptions } from './directory.js';
