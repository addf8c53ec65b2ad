import { createLogger } from '@gw/core';
import type { Logger } from '@gw/core';

let logger: Logger | undefined;

/**
 * The fallback for errors nobody asked to hear about (a throwing handler, a failed background refresh):
 * one structured log line, never a crash of the delivery loop.
 */
export function reportToLog(error: unknown): void {
  logger ??= createLogger({ name: 'bus' });
  logger.error({ err: error }, 'bus: error reported by a handler or a background task');
}
