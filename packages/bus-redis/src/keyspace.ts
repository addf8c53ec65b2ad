import { GatewayError } from '@gw/core';

/**
 * Where the bus keeps each thing in Redis: key and channel names, and the publish command. Two layouts:
 *
 * - one server (`singleNodeKeyspace`): the names the bus has always used (`<P>seq:<topic>`, channel
 *   `<P><topic>`, `<P>interest:*`, notices on `<P>~interest`) with PUBLISH/SUBSCRIBE/PSUBSCRIBE;
 * - Redis Cluster (`clusterKeyspace`): every key and the channel of one topic share the hash tag `{<topic>}`,
 *   so each script touches one slot and SPUBLISH from inside it is allowed; all interest keys and the notice
 *   channel share the tag `{interest}`. Live messages use sharded pub/sub (SPUBLISH/SSUBSCRIBE), which has no
 *   patterns: prefix subscriptions are served by *family channels* (see `familyChannel`).
 */
export interface Keyspace {
  readonly cluster: boolean;
  /** `PUBLISH` or `SPUBLISH`, as the scripts call it. */
  readonly publishCommand: 'PUBLISH' | 'SPUBLISH';
  seq(topic: string): string;
  latest(topic: string): string;
  hist(topic: string): string;
  /** The channel that carries the topic's live messages. */
  channel(topic: string): string;
  /** Base of every interest key (`nodes`, `alive:<node>`, `node:<node>`, `topic:<topic>`, `topics` follow). */
  readonly interestBase: string;
  readonly noticeChannel: string;
}

/** The layout on one Redis server (or primary): unchanged names, readable by processes of earlier versions. */
export function singleNodeKeyspace(prefix: string): Keyspace {
  return {
    cluster: false,
    publishCommand: 'PUBLISH',
    seq: (topic) => `${prefix}seq:${topic}`,
    latest: (topic) => `${prefix}latest:${topic}`,
    hist: (topic) => `${prefix}hist:${topic}`,
    channel: (topic) => prefix + topic,
    interestBase: `${prefix}interest:`,
    noticeChannel: `${prefix}~interest`,
  };
}

/**
 * The hash tag that places a topic: the topic itself. Redis takes the text between the first `{` and the next
 * `}`, so a topic holding a brace gets it replaced in the tag (and the topic follows in full after the tag, so
 * names stay distinct); an empty tag never happens (topics are never empty).
 */
function tagged(topic: string): string {
  return /[{}]/.test(topic) ? `{${topic.replace(/\{/g, '(').replace(/\}/g, ')')}}${topic}` : `{${topic}}`;
}

/** The layout on a Redis Cluster (see `Keyspace`). The prefix must not contain `{` or `}` (it would move the tag). */
export function clusterKeyspace(prefix: string): Keyspace {
  if (/[{}]/.test(prefix)) {
    throw new GatewayError('bad_request', { message: 'on a Redis Cluster the key prefix must not contain { or }' });
  }
  return {
    cluster: true,
    publishCommand: 'SPUBLISH',
    seq: (topic) => `${prefix}seq:${tagged(topic)}`,
    latest: (topic) => `${prefix}latest:${tagged(topic)}`,
    hist: (topic) => `${prefix}hist:${tagged(topic)}`,
    channel: (topic) => prefix + tagged(topic),
    interestBase: `${prefix}{interest}:`,
    noticeChannel: `${prefix}{interest}~notices`,
  };
}

/**
 * Number of family channels. Part of the wire format: every process on one cluster must use the same number.
 */
export const FAMILY_CHANNELS = 16;

/** A topic's family: its first segment (`stock` for `stock.quote.600519`, the whole topic when it has no dot). */
function familyOf(text: string): string {
  const dot = text.indexOf('.');
  return dot === -1 ? text : text.slice(0, dot);
}

/** FNV-1a over UTF-16 code units: stable across processes and versions (it decides channel names). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * Cluster mode: besides its own channel, every message is published on the family channel of its topic's
 * first segment (one of {@link FAMILY_CHANNELS}, each in its own slot). A prefix subscription listens on the
 * family channel of its prefix's first segment, or on all of them when the prefix has no complete first
 * segment (`*`, `sto*`), and keeps the messages whose topic starts with the prefix.
 */
export function familyChannel(prefix: string, topic: string): string {
  return familyChannelAt(prefix, fnv1a(familyOf(topic)) % FAMILY_CHANNELS);
}

function familyChannelAt(prefix: string, index: number): string {
  return `${prefix}~family{f${index}}`;
}

/** The family channels a prefix subscription (`topicPrefix` = the pattern without its `*`) listens on. */
export function familyChannelsFor(prefix: string, topicPrefix: string): string[] {
  if (topicPrefix.includes('.')) {
    return [familyChannel(prefix, topicPrefix)];
  }
  return Array.from({ length: FAMILY_CHANNELS }, (_, i) => familyChannelAt(prefix, i));
}
