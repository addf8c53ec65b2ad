import type { PipelineErrorCode } from '@gw/connections';
import { errorFrame } from './frames.js';

/**
 * The signal protocol's own error codes, beside the pipeline's (`rate_limited`, `binary_not_supported`,
 * `internal_error`, `token_refresh_failed`).
 */
export type SignalErrorCode = PipelineErrorCode | 'unknown_command';

/**
 * The one mapping of error codes to this protocol's error frame `{"type": "error", "error": <code>, "message",
 * "details"}` (`details` as the stock protocol's frame has it: the specific reason where there is one).
 */
export const signalErrorMessages: Readonly<Record<SignalErrorCode, string>> = {
  unknown_command: 'unknown command: the only command is the text frame "test"',
  binary_not_supported: 'binary frames are not supported: send the text frame "test"',
  rate_limited: 'too many messages: slow down or the connection will be closed',
  internal_error: 'internal error: the message was not handled (reported to the operators)',
  token_refresh_failed: 'the new token was refused; the current token stays in force',
};

/** The error frame of a code; `details` says more where the caller knows it (a refused refresh's reason). */
export function signalErrorFrame(code: SignalErrorCode, details?: string): string {
  return errorFrame(code, signalErrorMessages[code], details);
}
