import { GatewayError } from '@gw/core';

/** A parsed subscription pattern: an exact topic, or every topic starting with `prefix`. */
export type TopicPattern = { kind: 'exact'; topic: string } | { kind: 'prefix'; prefix: string };

const MAX_TOPIC_LENGTH = 512;
// Whitespace and control characters break logs and wire formats; `* ? [ ] \` are Redis glob syntax.
// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const FORBIDDEN = /[\s\u0000-\u001f\u007f*?[\]\\]/u;

/** True when `topic` is a valid topic name (see `types.ts`). */
export function isValidTopic(topic: string): boolean {
  return (
    topic.length > 0 &&
    topic.length <= MAX_TOPIC_LENGTH &&
    topic.charCodeAt(0) !== 126 /* ~ */ &&
    !FORBIDDEN.test(topic)
  );
}

/** Throws `bad_request` unless `topic` is a valid topic name. */
export function assertTopic(topic: string): void {
  if (!isValidTopic(topic)) {
    throw new GatewayError('bad_request', { message: `invalid topic ${JSON.stringify(topic)}` });
  }
}

/**
 * Parses `stock.quote.600519` (exact) or `stock.quote.*` / `*` (prefix; the `*` must be last and only).
 * Throws `bad_request` for anything else.
 */
export function parseTopicPattern(pattern: string): TopicPattern {
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    if (prefix.length === 0 || isValidTopic(prefix)) {
      return { kind: 'prefix', prefix };
    }
  } else if (isValidTopic(pattern)) {
    return { kind: 'exact', topic: pattern };
  }
  throw new GatewayError('bad_request', { message: `invalid topic pattern ${JSON.stringify(pattern)}` });
}
