import type { z } from 'zod';

/**
 * One package's part of the configuration: its zod schema (defaults live in the schema) and the table that
 * maps environment variables to the schema's keys. Packages export a section; only apps read `process.env`
 * and compose sections with `loadConfig`.
 *
 * Every variable has exactly one owner section. A section that needs another one's values (the deployment
 * environment, the signal history bounds) lists it in `uses` instead of reading its variables again.
 */
export interface ConfigSection<Schema extends z.ZodObject = z.ZodObject, Uses extends object = object> {
  /** Key of this section in the composed configuration (`auth`, `bus`, `server`, ...). */
  readonly name: string;
  readonly schema: Schema;
  /** Environment variable → key of `schema`. Every variable the section reads is listed here, nowhere else. */
  readonly env: Readonly<Record<string, keyof z.input<Schema> & string>>;
  /** Keys whose values are secrets: masked by `printableConfig`, never quoted in error messages. */
  readonly secrets?: readonly (keyof z.input<Schema> & string)[];
  /** One line per variable for `--print-config` and docs (optional). */
  readonly docs?: Readonly<Partial<Record<keyof z.input<Schema> & string, string>>>;
  /**
   * Sections whose parsed values this one reads, by the key they get in this section's output:
   * `uses: { environment: environmentConfig }` gives `config.environment.gatewayEnv`. A used section is
   * parsed, printed and documented once under its own name, however many sections use it.
   */
  readonly uses?: Uses;
  /**
   * Former variable names still accepted for one release: old name → key of `schema`. The current name
   * (in `env`) wins when both are set; `deprecatedVariablesIn` lists the old ones in use, for a warning.
   */
  readonly deprecatedEnv?: Readonly<Record<string, keyof z.input<Schema> & string>>;
}

/** What `uses` may hold: sections, by the key their values get in the using section's output. */
export type UsedSections = Readonly<Record<string, ConfigSection>>;

/** The parsed values of the sections in a `uses` map, by their keys. */
export type UsedOutput<Uses> = { [K in keyof Uses]: SectionOutput<Uses[K]> };

/** A section's parsed values: its own schema's output plus, under their `uses` keys, the sections it uses. */
export type SectionOutput<S> =
  S extends ConfigSection<infer Schema, infer Uses> ? z.output<Schema> & UsedOutput<Uses> : never;

export type ConfigOf<Sections extends Record<string, ConfigSection>> = {
  [K in keyof Sections]: SectionOutput<Sections[K]>;
};

/** Declares a section; an identity function that keeps the literal types of `env`, `secrets` and `uses`. */
export function defineConfigSection<Schema extends z.ZodObject, Uses extends object = object>(
  section: ConfigSection<Schema, Uses> & { readonly uses?: UsedSections },
): ConfigSection<Schema, Uses> {
  return section;
}
