import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SourceNames } from './names.js';

/** The template of a source package: every `*.tmpl` file below it becomes the file without `.tmpl`. */
export const templateDir = fileURLToPath(new URL('./template/', import.meta.url));

/** A file to write, relative to the new package's directory. */
export interface RenderedFile {
  path: string;
  content: string;
}

/** The placeholders the template may use, `{{name}}` style. */
type Placeholder = 'name' | 'camelName' | 'PascalName' | 'UPPER_NAME';

function filesBelow(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesBelow(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

/**
 * The template's files with every placeholder replaced. Throws on a placeholder it does not know (a typo in
 * the template must not produce a package with `{{...}}` in it) and on a template file without `.tmpl`.
 */
export function renderTemplate(names: SourceNames, dir: string = templateDir): RenderedFile[] {
  const values: Record<Placeholder, string> = {
    name: names.name,
    camelName: names.camelName,
    PascalName: names.PascalName,
    UPPER_NAME: names.UPPER_NAME,
  };
  return filesBelow(dir).map((file) => {
    const path = relative(dir, file);
    if (!path.endsWith('.tmpl')) {
      throw new Error(`template file ${path} does not end in .tmpl`);
    }
    const content = readFileSync(file, 'utf8').replace(/\{\{(\w+)\}\}/g, (placeholder, key: string) => {
      if (!Object.hasOwn(values, key)) {
        throw new Error(`template file ${path}: unknown placeholder ${placeholder}`);
      }
      return values[key as Placeholder];
    });
    return { path: path.slice(0, -'.tmpl'.length), content };
  });
}
