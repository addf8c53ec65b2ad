import { z } from 'zod';
import { signalSchema, signalsTopic } from './signals.js';
import { buyListSchema, stockBarsSchema, stockQuoteSchema, stockTopics, stockUniverseSchema, strategyNameSchema } from './stock.js';
import { parseTradingTopic, tradingDataSchemas, tradingStatusSchema, tradingTopicPrefix } from './trading.js';

/**
 * What a source says about each topic it publishes, so adapters serve its data without knowing the source:
 *
 * | kind | pattern | served by |
 * |---|---|---|
 * | `strategy` | `stock.buylist.<strategy>` (exact) | the stock protocol: `{"subscription_type": "strategy", "target": "<strategy>"}` |
 * | `quotes` | `stock.quote.*`, `stock.universe` | the stock protocol: `stock` and `market` subscriptions |
 * | `signals` | `signals` (appended with history), each payload's `source` = the declared `producer` | the signal protocol: `?sources=<producer>` |
 * | `trading` | `trading.*` | the trading protocol (Socket.IO), per user |
 * | `data` | anything else (`stock.bars.1m.*`, `system.heartbeat`) | no client protocol: other sources and the bus |
 */
export const topicKinds = ['strategy', 'quotes', 'signals', 'trading', 'data'] as const;
export type TopicKind = (typeof topicKinds)[number];

/**
 * The payload schema of a declared pattern: one zod schema for every topic under it, or a function choosing it
 * by topic (`trading.*` carries balances, positions, ... by suffix); the function answers undefined for a topic
 * the pattern matches but the source must not use.
 */
export type PayloadSchema = z.ZodType | ((topic: string) => z.ZodType | undefined);

/** One topic pattern a source publishes, what kind of data it is and the schema of its payloads. */
export interface TopicDeclaration {
  kind: TopicKind;
  /** An exact topic or a prefix pattern ending in `*`. */
  pattern: string;
  /** Every payload published under the pattern obeys it (checked by the conformance suite, not at run time). */
  schema: PayloadSchema;
  /** `signals` only: the `source` field of every signal it appends, what clients name in `?sources=`. */
  producer?: string;
}

/** A signal producer's name as clients write it in `?sources=` (`crypto-signals`, `volume_wave`, `api`). */
export const signalProducerSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, {
  error: 'expected a producer name of lower-case letters, digits, _ and - (e.g. crypto-signals)',
});

/** The producer name of signals published through `POST /api/signals`. */
export const apiSignalProducer = 'api';

/** A strategy's buy list: subscribable as `{"subscription_type": "strategy", "target": strategy}`. */
export function strategyTopicDeclaration(strategy: string): TopicDeclaration {
  return { kind: 'strategy', pattern: stockTopics.buyList(strategy), schema: buyListSchema.extend({ strategy: z.literal(strategy) }) };
}

/** Signals appended to `signals`, every one with `source: producer`: what `?sources=<producer>` selects. */
export function signalTopicDeclaration(producer: string): TopicDeclaration {
  return { kind: 'signals', pattern: signalsTopic, producer, schema: signalSchema.extend({ source: z.literal(producer) }) };
}

/** What a price source publishes: the universe and a quote per stock (`quotes`), the 1-minute bars (`data`). */
export const quoteTopicDeclarations: readonly TopicDeclaration[] = [
  { kind: 'quotes', pattern: stockTopics.universe, schema: stockUniverseSchema },
  { kind: 'quotes', pattern: stockTopics.quotePattern, schema: stockQuoteSchema },
  { kind: 'data', pattern: stockTopics.barsPattern, schema: stockBarsSchema },
];

/** The payload schema of a trading topic: a data type by suffix, or the account status. */
export function tradingTopicSchema(topic: string): z.ZodType | undefined {
  const data = parseTradingTopic(topic);
  if (data !== undefined) {
    return tradingDataSchemas[data.type];
  }
  const parts = topic.split('.');
  return parts.length === 3 && parts[0] === 'trading' && parts[2] === 'status' ? tradingStatusSchema : undefined;
}

/** Per-user trading data and account status (`trading.<user>.<type>`, `trading.<user>.status`). */
export const tradingTopicDeclaration: TopicDeclaration = { kind: 'trading', pattern: `${tradingTopicPrefix}*`, schema: tradingTopicSchema };

/** The strategy name of a `strategy` pattern (`stock.buylist.volume_wave` → `volume_wave`); undefined otherwise. */
export function strategyOfPattern(pattern: string): string | undefined {
  if (!pattern.startsWith(stockTopics.buyListPrefix)) {
    return undefined;
  }
  const name = pattern.slice(stockTopics.buyListPrefix.length);
  return strategyNameSchema.safeParse(name).success ? name : undefined;
}

/** Where each kind may publish: what a declaration of that kind must match (data: everything the others do not own). */
export function declarationProblem(declaration: Pick<TopicDeclaration, 'kind' | 'pattern' | 'producer'>): string | undefined {
  const { kind, pattern } = declaration;
  switch (kind) {
    case 'strategy':
      return strategyOfPattern(pattern) === undefined
        ? `declares "${pattern}" as a strategy: a strategy topic is exactly stock.buylist.<name> (lower-case letters, digits, _)`
        : undefined;
    case 'quotes':
      return pattern === stockTopics.universe || pattern === stockTopics.quotePattern || /^stock\.quote\.\d{6}$/.test(pattern)
        ? undefined
        : `declares "${pattern}" as quotes: quotes are stock.universe, stock.quote.* or stock.quote.<code>`;
    case 'signals':
      if (pattern !== signalsTopic) {
        return `declares "${pattern}" as signals: signals are appended to "${signalsTopic}"`;
      }
      return declaration.producer === undefined || !signalProducerSchema.safeParse(declaration.producer).success
        ? `declares signals without a valid producer (the \`source\` field of its signals, e.g. "${declaration.producer ?? 'my-source'}")`
        : undefined;
    case 'trading':
      return pattern.startsWith(tradingTopicPrefix) ? undefined : `declares "${pattern}" as trading: trading topics start with ${tradingTopicPrefix}`;
    case 'data':
      return pattern === signalsTopic || [stockTopics.quotePrefix, stockTopics.buyListPrefix, tradingTopicPrefix].some((p) => pattern.startsWith(p))
        ? `declares "${pattern}" as data, but it is a client protocol's topic: declare its kind (strategy, quotes, signals, trading)`
        : undefined;
  }
}

// ---- announcements: which sources run now, anywhere in the cluster ------------------------------------------

/**
 * Every running source announces what it publishes on `cluster.source.<node>.<source>`: interest in that topic
 * is its presence (expires when its process stops renewing it) and the topic's latest value its declaration.
 * On Redis, `cluster.*` latest values expire too, so nothing of a stopped source stays.
 */
export const sourceAnnouncementPrefix = 'cluster.source.';

export function sourceAnnouncementTopic(nodeId: string, source: string): string {
  return `${sourceAnnouncementPrefix}${nodeId}.${source}`;
}

export const announcedTopicSchema = z.object({
  kind: z.enum(topicKinds),
  pattern: z.string().min(1).max(512),
  producer: signalProducerSchema.optional(),
});
export type AnnouncedTopic = z.infer<typeof announcedTopicSchema>;

export const sourceAnnouncementSchema = z.object({
  source: z.string().min(1).max(64),
  node: z.string().min(1).max(128),
  topics: z.array(announcedTopicSchema).max(256),
  started_ms: z.number().int().nonnegative(),
});
export type SourceAnnouncement = z.infer<typeof sourceAnnouncementSchema>;

/** The announcement of a source's declarations (schemas stay in the process: only kinds and patterns travel). */
export function sourceAnnouncement(source: { name: string; topics: readonly TopicDeclaration[] }, nodeId: string, startedMs: number): SourceAnnouncement {
  return {
    source: source.name,
    node: nodeId,
    topics: source.topics.map((t) => ({ kind: t.kind, pattern: t.pattern, ...(t.producer === undefined ? {} : { producer: t.producer }) })),
    started_ms: startedMs,
  };
}
