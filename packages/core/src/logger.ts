import { pino } from 'pino';
import type { Logger as PinoLogger, LoggerOptions } from 'pino';
import { PinoPretty } from 'pino-pretty';

/**
 * Structured logger (pino): one JSON line per event, with `level`, `time`, `msg` and bindings; or the same
 * events as readable colored lines for a person at a terminal.
 */
export type Logger = PinoLogger;

/** How log lines are written: `json` for log collectors, `pretty` for people, `auto` = pretty on a terminal. */
export type LogFormat = 'auto' | 'json' | 'pretty';

/** The format `auto` stands for: pretty only when the destination is a terminal, JSON when piped or collected. */
export function resolveLogFormat(format: LogFormat, destinationIsTty: boolean): 'json' | 'pretty' {
  if (format === 'auto') {
    return destinationIsTty ? 'pretty' : 'json';
  }
  return format;
}

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
  /** `auto` by default: pretty when the destination (stdout) is a terminal, JSON otherwise. */
  format?: LogFormat;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: redactedPaths, censor: '[redacted]' },
    base: { pid: process.pid, ...(options.name === undefined ? {} : { name: options.name }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const destination = options.destination ?? process.stdout;
  const isTty = (destination as { isTTY?: boolean }).isTTY === true;
  if (resolveLogFormat(options.format ?? 'auto', isTty) === 'json') {
    return options.destination === undefined ? pino(pinoOptions) : pino(pinoOptions, options.destination);
  }
  // In-process and synchronous rather than pino's worker-thread transport: a start-up failure that exits at
  // once still shows its last lines, and no thread is left to stop.
  const pretty = PinoPretty({
    destination,
    sync: true,
    colorize: isTty,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
  });
  return pino(pinoOptions, pretty);
}

/** Removes the value of a `token` query parameter from a URL or query string before it is logged. */
export function redactQuery(query: string): string {
  return query.replace(/(^|[?&])(token|access_token)=[^&]*/gi, '$1$2=[redacted]');
}
