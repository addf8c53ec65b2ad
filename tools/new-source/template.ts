import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SourceNames } from './names.js';

/**
 * The templates of a source package: `common/` holds the files every kind shares, `<kind>/` the files of one
 * kind (a file there replaces the common file of the same path). Every `*.tmpl` file becomes the file without
 * `.tmpl`.
 */
export const templateDir = fileURLToPath(new URL('./template/', import.meta.url));

/**
 * What a generated source publishes, i.e. which clients its data reaches (docs/data-sources.md):
 * `strategy` a buy list for stock clients subscribed to the strategy, `signals` signals for signal clients
 * asking for `?sources=<name>`, `quotes` prices for stock clients subscribed to a stock or market, `trading`
 * per-user trading data for the users trading (Socket.IO) clients watch, `data` readings on the bus only (for
 * other sources and readers, no client protocol).
 */
export const sourceKinds = ['strategy', 'signals', 'quotes', 'trading', 'data'] as const;
export type SourceKind = (typeof sourceKinds)[number];

export function isSourceKind(value: string): value is SourceKind {
  return (sourceKinds as readonly string[]).includes(value);
}

/** A file to write, relative to the new package's directory. */
export interface RenderedFile {
  path: string;
  content: string;
}

/** The placeholders the template may use, `{{name}}` style. */
type Placeholder = 'name' | 'camelName' | 'PascalName' | 'UPPER_NAME' | 'snake_name' | 'kind';

function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) {
    return [];
  }
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesBelow(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

/**
 * The template's files for `kind` with every placeholder replaced. Throws on a placeholder it does not know (a
 * typo in the template must not produce a package with `{{...}}` in it) and on a template file without `.tmpl`.
 */
export function renderTemplate(names: SourceNames, kind: SourceKind, dir: string = templateDir): RenderedFile[] {
  const values: Record<Placeholder, string> = {
    name: names.name,
    camelName: names.camelName,
    PascalName: names.PascalName,
    UPPER_NAME: names.UPPER_NAME,
    snake_name: names.UPPER_NAME.toLowerCase(),
    kind,
  };
  const byPath = new Map<string, string>();
  for (const layer of [join(dir, 'common'), join(dir, kind)]) {
    for (const file of filesBelow(layer)) {
      byPath.set(relative(layer, file), file);
    }
  }
  return [...byPath.keys()].sort().map((path) => {
    if (!path.endsWith('.tmpl')) {
      throw new Error(`template file ${path} does not end in .tmpl`);
    }
    const content = readFileSync(byPath.get(path) ?? '', 'utf8').replace(/\{\{(\w+)\}\}/g, (placeholder, key: string) => {
      if (!Object.hasOwn(values, key)) {
        throw new Error(`template file ${path}: unknown placeholder ${placeholder}`);
      }
      return values[key as Placeholder];
    });
    return { path: path.slice(0, -'.tmpl'.length), content };
  });
}
