export * from './signals.js';
export * from './stock.js';
export * from './trading.js';
