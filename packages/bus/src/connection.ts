import { GatewayError } from '@gw/core';
import type { BusConnection } from './types.js';

/**
 * Resolves once `connection.state` is `connected` (at once if it already is); rejects with
 * `bus_unavailable` after `timeoutMs`. For start-up: a Redis bus is `disconnected` until its connections
 * are ready, and publishes fail until then.
 */
export function whenConnected(connection: BusConnection, timeoutMs: number): Promise<void> {
  if (connection.state === 'connected') {
    return Promise.resolve();
  }
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new GatewayError('bus_unavailable', { message: `bus not connected after ${timeoutMs} ms` }));
    }, timeoutMs);
    const stop = connection.onStateChange((state) => {
      if (state === 'connected') {
        clearTimeout(timer);
        stop();
        resolve();
      }
    });
  });
}
