import type { z } from 'zod';
import { prettifyError } from 'zod';
import { parseTopicPattern } from '@gw/bus';
import type { TopicPattern } from '@gw/bus';

/**
 * The payload schema of one declared topic pattern: a zod schema every topic under the pattern obeys, or a
 * function choosing the schema by topic (`trading.*` carries balances, positions, ... by suffix). The function
 * answers undefined for a topic the pattern matches but the source must not use.
 */
export type PayloadSchema = z.ZodType | ((topic: string) => z.ZodType | undefined);

/**
 * Declared topic pattern (exactly as in `DataSource.topics`) → payload schema. Until `DataSource` declares
 * schemas itself, the conformance fixture provides this map.
 */
export type TopicSchemas = Readonly<Record<string, PayloadSchema>>;

/** A declared pattern, parsed, with its schema. */
interface DeclaredTopic {
  pattern: string;
  parsed: TopicPattern;
  schema: PayloadSchema;
}

function tryParsePattern(pattern: string): TopicPattern | undefined {
  try {
    return parseTopicPattern(pattern);
  } catch {
    return undefined;
  }
}

/** Why a payload was refused; undefined when it conforms. */
export type PayloadProblem = string | undefined;

/**
 * Checks published topics and payloads against the declared patterns and their schemas. Built once per
 * source; `check` is cheap enough to call for every publication.
 */
export class TopicContract {
  readonly #declared: DeclaredTopic[];

  /** Malformed patterns are left out here (so nothing matches them); `declarationProblems` reports them. */
  constructor(schemas: TopicSchemas) {
    this.#declared = Object.entries(schemas).flatMap(([pattern, schema]) => {
      const parsed = tryParsePattern(pattern);
      return parsed === undefined ? [] : [{ pattern, parsed, schema }];
    });
  }

  /** The declared pattern a topic falls under: an exact match first, else the longest matching prefix. */
  patternOf(topic: string): string | undefined {
    return this.#declaredOf(topic)?.pattern;
  }

  #declaredOf(topic: string): DeclaredTopic | undefined {
    let best: DeclaredTopic | undefined;
    let bestLength = -1;
    for (const declared of this.#declared) {
      const { parsed } = declared;
      if (parsed.kind === 'exact') {
        if (parsed.topic === topic) {
          return declared;
        }
      } else if (topic.startsWith(parsed.prefix) && parsed.prefix.length > bestLength) {
        best = declared;
        bestLength = parsed.prefix.length;
      }
    }
    return best;
  }

  /**
   * What is wrong with publishing `json` (the payload as the Redis bus would carry it) on `topic`: outside every
   * declared pattern, no schema for the topic, or a payload the schema refuses (zod's issues, prettified).
   */
  check(topic: string, json: string): PayloadProblem {
    const declared = this.#declaredOf(topic);
    if (declared === undefined) {
      return `published on "${topic}", outside its declared topics`;
    }
    const schema = typeof declared.schema === 'function' ? declared.schema(topic) : declared.schema;
    if (schema === undefined) {
      return `published on "${topic}" (under "${declared.pattern}"), a topic its schema does not define`;
    }
    const result = schema.safeParse(JSON.parse(json));
    if (!result.success) {
      return `published on "${topic}" a payload its schema refuses: ${prettifyError(result.error).replace(/\s+/g, ' ')} (payload ${shorten(json)})`;
    }
    return undefined;
  }
}

/** Problems of the declaration itself: malformed patterns, and patterns declared without a schema (or the reverse). */
export function declarationProblems(topics: readonly string[], schemas: TopicSchemas): string[] {
  const problems: string[] = [];
  if (topics.length === 0) {
    problems.push('declares no topics: `topics` lists the patterns it publishes on');
  }
  for (const pattern of topics) {
    if (tryParsePattern(pattern) === undefined) {
      problems.push(`declares "${pattern}", which is not a topic pattern (an exact topic, or a prefix ending in *)`);
    }
    if (!Object.hasOwn(schemas, pattern)) {
      problems.push(`declares "${pattern}" but the fixture gives no payload schema for it`);
    }
  }
  for (const pattern of Object.keys(schemas)) {
    if (!topics.includes(pattern)) {
      problems.push(`the fixture gives a schema for "${pattern}", which the source does not declare`);
    }
  }
  return problems;
}

/** At most 200 characters of a payload, for messages. */
export function shorten(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}… (${text.length} characters)` : text;
}
