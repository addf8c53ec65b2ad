import { pino } from 'pino';
import type { Logger as PinoLogger, LoggerOptions } from 'pino';

/** Structured JSON logger (pino): one line per event, with `level`, `time`, `msg` and bindings. */
export type Logger = PinoLogger;

/**
 * Paths that may carry credentials. Tokens and secrets never reach a log line: request headers, query
 * strings and anything named like a token or secret are replaced by "[redacted]".
 */
export const redactedPaths = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'secret',
  '*.secret',
  'apiKey',
  '*.apiKey',
  'password',
  '*.password',
];

export interface CreateLoggerOptions {
  level?: string;
  name?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: redactedPaths, censor: '[redacted]' },
    base: { pid: process.pid, ...(options.name === undefined ? {} : { name: options.name }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return options.destination === undefined ? pino(pinoOptions) : pino(pinoOptions, options.destination);
}

/** Removes the value of a `token` query parameter from a URL or query string before it is logged. */
export function redactQuery(query: string): string {
  return query.replace(/(^|[?&])(token|access_token)=[^&]*/gi, '$1$2=[redacted]');
}
