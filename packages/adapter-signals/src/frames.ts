import type { Signal } from '@gw/topics';
import type { ErrorFrame, RecoveryFrame, SignalFrame } from './schema.js';

/**
 * Builds the JSON text of each outbound frame. A live signal is serialized once here and the same string is
 * published to every subscriber; field order follows the legacy signal service (`type`, `content`, `is_test`) so legacy
 * clients that print frames see what they used to.
 */
export function signalFrame(signal: Signal, id: string | undefined, isTest: boolean): string {
  const frame: SignalFrame = {
    type: signal.type,
    content: { symbol: signal.content.symbol, price: signal.content.price, timestamp: signal.content.timestamp },
    is_test: isTest,
    ...(id === undefined ? {} : { id }),
  };
  return JSON.stringify(frame);
}

/**
 * `details` defaults to the message, so every error frame has the fields the stock protocol's frames have
 * (`details`, `timestamp`); the time is unix seconds, as signals carry it.
 */
export function errorFrame(error: string, message: string, details: string = message): string {
  const frame: ErrorFrame = { type: 'error', error, message, details, timestamp: Math.floor(Date.now() / 1000) };
  return JSON.stringify(frame);
}

export function recoveryFrame(frame: RecoveryFrame): string {
  return JSON.stringify(frame);
}
