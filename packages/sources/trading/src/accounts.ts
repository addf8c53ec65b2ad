import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Exchanges an account may name: the embedded simulation, or a ccxt exchange this source knows the quirks of. */
export const exchangeIds = ['paper', 'bybit'] as const;
export type ExchangeId = (typeof exchangeIds)[number];

const nonEmpty = z.string({ error: 'expected a non-empty string' }).trim().min(1, { error: 'expected a non-empty string' });

const paperAccount = z.strictObject({
  exchange: z.literal('paper'),
  /** Starting wallet balance of the simulated account (default: derived from the user id). */
  startingBalance: z.number().positive().optional(),
});

const ccxtAccount = z.strictObject({
  exchange: z.literal('bybit'),
  apiKey: nonEmpty,
  secret: nonEmpty,
  /** The exchange's testnet. */
  sandbox: z.boolean({ error: 'expected true or false' }).optional(),
  /** Extra ccxt options merged over this source's defaults (e.g. `recvWindow`). */
  options: z.record(z.string(), z.unknown(), { error: 'expected an object' }).optional(),
  /** Another REST base URL for the exchange (a proxy, or a local test server). */
  baseUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
  /** false: never use the exchange's private stream for this account, poll only (default: stream when possible). */
  stream: z.boolean({ error: 'expected true or false' }).optional(),
  /** Another WebSocket base URL for the exchange's streams (scheme, host and port replaced, paths kept). */
  streamBaseUrl: z.url({ protocol: /^wss?$/, error: 'expected a ws(s) URL' }).optional(),
});

export const accountSchema = z.discriminatedUnion('exchange', [paperAccount, ccxtAccount], {
  error: `expected "exchange" to be one of ${exchangeIds.join(', ')}`,
});

/** One user's account as the accounts file declares it. `apiKey` and `secret` are never logged or sent. */
export type AccountSpec = z.infer<typeof accountSchema>;

export const accountsFileSchema = z.record(z.string().min(1, { error: 'user ids must be non-empty' }), accountSchema, {
  error: 'expected a JSON object of user id → account',
});

/** Accounts by user id (the token's `sub`). */
export type Accounts = ReadonlyMap<string, AccountSpec>;

/** Thrown for an unreadable or invalid file; `problems` name entries and fields, never values. */
export class AccountsFileError extends Error {
  override readonly name = 'AccountsFileError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('; '));
    this.problems = problems;
  }
}

function describePath(path: readonly PropertyKey[]): string {
  const [entry, ...field] = path;
  if (entry === undefined) {
    return 'file';
  }
  return field.length === 0 ? `entry "${String(entry)}"` : `entry "${String(entry)}": ${field.map(String).join('.')}`;
}

/**
 * Reads and validates the accounts file (JSON: user id → `{exchange, apiKey, secret, sandbox?, options?,
 * baseUrl?, stream?, streamBaseUrl?}`, or `{exchange: "paper"}`). Throws AccountsFileError listing every problem by entry and field.
 * Messages never quote the file's content: a JSON syntax error is reported without the parser's excerpt,
 * which would show the text around it (a secret, possibly).
 */
export function loadAccounts(path: string): Accounts {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new AccountsFileError([`cannot read the accounts file (${code})`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    throw new AccountsFileError(['the accounts file is not valid JSON']);
  }
  const parsed = accountsFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new AccountsFileError(parsed.error.issues.map((issue) => `${describePath(issue.path)}: ${issue.message}`));
  }
  return new Map(Object.entries(parsed.data));
}
