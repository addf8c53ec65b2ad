export { GatewayError, gatewayErrorCodes, toGatewayError } from './errors.js';
export type { GatewayErrorCode, GatewayErrorOptions } from './errors.js';
export { createLogger, redactQuery, redactedPaths } from './logger.js';
export type { CreateLoggerOptions, Logger } from './logger.js';
export { sleep } from './sleep.js';
export { everyOnGrid, nextGridPoint } from './grid-timer.js';
export type { GridTimer } from './grid-timer.js';
