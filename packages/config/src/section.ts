import type { z } from 'zod';

/**
 * One package's part of the configuration: its zod schema (defaults live in the schema) and the table that
 * maps environment variables to the schema's keys. Packages export a section; only apps read `process.env`
 * and compose sections with `loadConfig`.
 */
export interface ConfigSection<Schema extends z.ZodObject = z.ZodObject> {
  /** Key of this section in the composed configuration (`auth`, `bus`, `server`, ...). */
  readonly name: string;
  readonly schema: Schema;
  /** Environment variable → key of `schema`. Every variable the section reads is listed here, nowhere else. */
  readonly env: Readonly<Record<string, keyof z.input<Schema> & string>>;
  /** Keys whose values are secrets: masked by `printableConfig`, never quoted in error messages. */
  readonly secrets?: readonly (keyof z.input<Schema> & string)[];
  /** One line per variable for `--print-config` and docs (optional). */
  readonly docs?: Readonly<Partial<Record<keyof z.input<Schema> & string, string>>>;
}

export type SectionOutput<S> = S extends ConfigSection<infer Schema> ? z.output<Schema> : never;

export type ConfigOf<Sections extends Record<string, ConfigSection>> = {
  [K in keyof Sections]: SectionOutput<Sections[K]>;
};

/** Declares a section; an identity function that keeps the literal types of `env` and `secrets`. */
export function defineConfigSection<Schema extends z.ZodObject>(section: ConfigSection<Schema>): ConfigSection<Schema> {
  return section;
}
