import { expandSections, expandedValues } from './expand.js';
import type { ConfigOf, ConfigSection } from './section.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** One thing wrong with the environment, named by the variable a user would fix. */
export interface ConfigProblem {
  variable: string;
  /** What was expected, in the schema's words. */
  expected: string;
  /** What was given, quoted; for secrets only its length. Undefined when the variable was not set. */
  given: string | undefined;
}

/** Startup fails with this: its message lists every problem, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.variable}: ${p.expected}; given ${p.given ?? 'nothing (not set)'}`).join('\n'),
    );
    this.problems = problems;
  }
}

function describeGiven(value: string | undefined, secret: boolean): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (secret) {
    return `a secret of ${value.length} characters (not shown)`;
  }
  // Long values (PEM keys, URLs with credentials pasted in the wrong variable) are shortened, not echoed whole.
  return value.length > 60 ? `${JSON.stringify(value.slice(0, 24))}… (${value.length} characters)` : JSON.stringify(value);
}

/** Where each of a section's keys got its value: the variable that was set, current name before deprecated. */
interface SectionInput {
  raw: Record<string, string>;
  variables: Record<string, string>;
}

function isSet(env: Env, variable: string): boolean {
  const value = env[variable];
  return value !== undefined && value !== '';
}

/** The raw object a section's schema parses: env values by schema key. Empty strings count as unset. */
function sectionInput(section: ConfigSection, env: Env): SectionInput {
  const raw: Record<string, string> = {};
  const variables: Record<string, string> = {};
  // Deprecated names first, so the current name overwrites them when both are set.
  for (const [variable, key] of [...Object.entries(section.deprecatedEnv ?? {}), ...Object.entries(section.env)]) {
    const value = env[variable];
    if (value !== undefined && value !== '') {
      raw[key] = value;
      variables[key] = variable;
    }
  }
  return { raw, variables };
}

function variableFor(section: ConfigSection, input: SectionInput, key: string | undefined): string {
  if (key !== undefined && input.variables[key] !== undefined) {
    return input.variables[key];
  }
  const entry = Object.entries(section.env).find(([, k]) => k === key);
  return entry?.[0] ?? `${section.name}${key === undefined ? '' : `.${key}`}`;
}

/** What `parseConfig` found: the sections that parsed, and every problem of those that did not. */
export interface ParsedConfig<Sections extends Record<string, ConfigSection>> {
  config: Partial<ConfigOf<Sections>>;
  problems: ConfigProblem[];
}

/**
 * Parses every section of the composition (and, once each, the sections they use) from `env`. A section
 * whose own values or used sections fail is left out of `config`; its problems are in `problems`. Apps with
 * rules that span sections use this to report those rules in the same single error as the schema problems.
 */
export function parseConfig<Sections extends Record<string, ConfigSection>>(env: Env, sections: Sections): ParsedConfig<Sections> {
  const problems: ConfigProblem[] = [];
  const result: Record<string, unknown> = {};
  const values = new Map<ConfigSection, Record<string, unknown>>();
  for (const { key, section, declared } of expandSections(sections)) {
    const input = sectionInput(section, env);
    const parsed = section.schema.safeParse(input.raw);
    if (!parsed.success) {
      const secrets = new Set<string>(section.secrets ?? []);
      for (const issue of parsed.error.issues) {
        const issueKey = typeof issue.path[0] === 'string' ? issue.path[0] : undefined;
        problems.push({
          variable: variableFor(section, input, issueKey),
          expected: issue.message,
          given: describeGiven(issueKey === undefined ? undefined : input.raw[issueKey], issueKey !== undefined && secrets.has(issueKey)),
        });
      }
      continue;
    }
    const used = Object.entries((section.uses ?? {}) as Record<string, ConfigSection>).map(([usedKey, usedSection]) => [usedKey, values.get(usedSection)] as const);
    // A used section that failed was reported under its own variables already; this one just cannot be built.
    if (used.some(([, value]) => value === undefined)) {
      continue;
    }
    const value = { ...parsed.data, ...Object.fromEntries(used) };
    values.set(section, value);
    if (declared) {
      result[key] = value;
    }
  }
  return { config: result as Partial<ConfigOf<Sections>>, problems };
}

/**
 * Parses every section from `env` and returns the typed configuration, or throws ONE ConfigError that lists
 * every problem of every section (variable, what was expected, what was given; never a secret's value).
 */
export function loadConfig<Sections extends Record<string, ConfigSection>>(
  env: Env,
  sections: Sections,
): ConfigOf<Sections> {
  const { config, problems } = parseConfig(env, sections);
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return config as ConfigOf<Sections>;
}

/**
 * The effective configuration by environment variable, secrets masked: what `--print-config` shows. Values
 * are the parsed ones (defaults applied), so a reader sees exactly what the process runs with; a section used
 * by others appears once, under its own name.
 */
export function printableConfig(
  sections: Record<string, ConfigSection>,
  config: Record<string, unknown>,
): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  const expanded = expandSections(sections);
  const values = expandedValues(expanded, config);
  for (const { key, section } of expanded) {
    const sectionValues = values.get(section) ?? {};
    const secrets = new Set<string>(section.secrets ?? []);
    const shown: Record<string, unknown> = {};
    for (const [variable, schemaKey] of Object.entries(section.env)) {
      const value = sectionValues[schemaKey];
      shown[variable] = secrets.has(schemaKey) && value !== undefined ? '********' : (value ?? null);
    }
    out[key] = shown;
  }
  return out;
}

/** A former variable name found in the environment, and the name that replaces it. */
export interface DeprecatedVariable {
  variable: string;
  replacement: string;
  /** True when the replacement is set too: its value is used and the old one ignored. */
  overridden: boolean;
}

/** Every former variable name the sections still accept, with its replacement (for docs). */
export function deprecatedVariables(sections: Record<string, ConfigSection>): { variable: string; replacement: string }[] {
  const out: { variable: string; replacement: string }[] = [];
  for (const { section } of expandSections(sections)) {
    for (const [variable, key] of Object.entries(section.deprecatedEnv ?? {})) {
      const replacement = Object.entries(section.env).find(([, k]) => k === key)?.[0] ?? `${section.name}.${key}`;
      out.push({ variable, replacement });
    }
  }
  return out;
}

/** The former variable names set in `env`: the apps log one warning for each at startup. */
export function deprecatedVariablesIn(env: Env, sections: Record<string, ConfigSection>): DeprecatedVariable[] {
  return deprecatedVariables(sections)
    .filter(({ variable }) => isSet(env, variable))
    .map((entry) => ({ ...entry, overridden: isSet(env, entry.replacement) }));
}

/** The warning line for a former variable name in use, the same in every app. */
export function deprecationWarning({ variable, replacement, overridden }: DeprecatedVariable): string {
  return overridden
    ? `${variable} is a former name of ${replacement}, which is also set and wins: remove ${variable}`
    : `${variable} is a former name of ${replacement}: rename it (the old name is accepted for one more release)`;
}
