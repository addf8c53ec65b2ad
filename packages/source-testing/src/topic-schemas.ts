import { prettifyError } from 'zod';
import { parseTopicPattern } from '@gw/bus';
import type { TopicPattern } from '@gw/bus';
import { declarationProblem } from '@gw/topics';
import type { PayloadSchema, TopicDeclaration } from '@gw/topics';

export type { PayloadSchema } from '@gw/topics';

/**
 * Topic pattern → payload schema: what `DataSource.topics` declares (see `schemasOf`), and, in older fixtures,
 * an extra map the fixture passes (each publication must then pass both).
 */
export type TopicSchemas = Readonly<Record<string, PayloadSchema>>;

/** The declared schemas by pattern. */
export function schemasOf(topics: readonly TopicDeclaration[]): TopicSchemas {
  return Object.fromEntries(topics.map((t) => [t.pattern, t.schema]));
}

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

  readonly #extra: TopicContract | undefined;

  /**
   * Malformed patterns are left out here (so nothing matches them); `declarationProblems` reports them.
   * `extra`: a fixture's own schemas, checked after the declared ones.
   */
  constructor(schemas: TopicSchemas, extra?: TopicSchemas) {
    this.#declared = Object.entries(schemas).flatMap(([pattern, schema]) => {
      const parsed = tryParsePattern(pattern);
      return parsed === undefined ? [] : [{ pattern, parsed, schema }];
    });
    this.#extra = extra === undefined ? undefined : new TopicContract(extra);
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
    return this.#extra?.check(topic, json);
  }
}

/**
 * Problems of the declaration itself: no topics, malformed or repeated patterns, a pattern its kind may not use
 * (a strategy outside `stock.buylist.<name>`, signals without a producer, ...), and, when the fixture passes
 * its own `schemas`, patterns on one side only.
 */
export function declarationProblems(topics: readonly TopicDeclaration[], schemas?: TopicSchemas): string[] {
  const problems: string[] = [];
  if (topics.length === 0) {
    problems.push('declares no topics: `topics` lists the patterns it publishes on');
  }
  const seen = new Set<string>();
  for (const declaration of topics) {
    const { pattern } = declaration;
    if (tryParsePattern(pattern) === undefined) {
      problems.push(`declares "${pattern}", which is not a topic pattern (an exact topic, or a prefix ending in *)`);
    } else {
      const kindProblem = declarationProblem(declaration);
      if (kindProblem !== undefined) {
        problems.push(kindProblem);
      }
    }
    if (seen.has(pattern)) {
      problems.push(`declares "${pattern}" twice: one declaration (one kind, one schema) per pattern`);
    }
    seen.add(pattern);
    if (schemas !== undefined && !Object.hasOwn(schemas, pattern)) {
      problems.push(`declares "${pattern}" but the fixture gives no payload schema for it`);
    }
  }
  for (const pattern of Object.keys(schemas ?? {})) {
    if (!seen.has(pattern)) {
      problems.push(`the fixture gives a schema for "${pattern}", which the source does not declare`);
    }
  }
  return problems;
}

/** At most 200 characters of a payload, for messages. */
export function shorten(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}… (${text.length} characters)` : text;
}
