export { GatewayError, gatewayErrorCodes, toGatewayError } from './errors.js';
export type { GatewayErrorCode, GatewayErrorOptions } from './errors.js';
export { createLogger, redactQuery, redactedPaths } from './logger.js';
export type { CreateLoggerOptions, Logger } from './logger.js';
export { sleep } from './sleep.js';
