import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SourceNames } from './names.js';

/** The registry of built-in sources, and the package whose dependencies must include every source. */
export const runtimeSourcesFile = 'packages/runtime/src/sources.ts';
export const runtimePackageFile = 'packages/runtime/package.json';

/** Marker comments in `runtimeSourcesFile`: generated lines go right above them. */
export const importMarker = 'new:source inserts the import of each generated source above this line';
export const entryMarker = 'new:source inserts each generated source above this line';

/** A file's new content, with the old one kept to undo. */
export interface FileEdit {
  /** Relative to the workspace root. */
  path: string;
  before: string;
  after: string;
}

/** Inserts `line` above the line carrying `marker`, with that line's indentation. */
function insertAbove(text: string, marker: string, line: string, file: string): string {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.includes(marker));
  if (at === -1) {
    throw new Error(`${file}: the marker comment "// ${marker}" is missing; add it where generated sources go`);
  }
  const indent = /^\s*/.exec(lines[at] ?? '')?.[0] ?? '';
  lines.splice(at, 0, `${indent}${line}`);
  return lines.join('\n');
}

/**
 * The edits that register a generated source so `pnpm worker --source <name>` and `SOURCES` know it: its import
 * and registry entry in `packages/runtime/src/sources.ts` (at the marker comments) and a `workspace:*`
 * dependency in `packages/runtime/package.json`. Pure: reads the files, returns the new contents. Throws when a
 * marker is missing or the source is already registered.
 */
export function registrationEdits(root: string, names: SourceNames): FileEdit[] {
  const sourcesBefore = readFileSync(join(root, runtimeSourcesFile), 'utf8');
  if (sourcesBefore.includes(`'${names.packageName}'`)) {
    throw new Error(`${runtimeSourcesFile} already imports ${names.packageName}`);
  }
  const withImport = insertAbove(sourcesBefore, importMarker, `import { ${names.exportName} } from '${names.packageName}';`, runtimeSourcesFile);
  const sourcesAfter = insertAbove(withImport, entryMarker, `${names.exportName},`, runtimeSourcesFile);

  const packageBefore = readFileSync(join(root, runtimePackageFile), 'utf8');
  const manifest = JSON.parse(packageBefore) as { dependencies?: Record<string, string> };
  const dependencies = manifest.dependencies ?? {};
  if (Object.hasOwn(dependencies, names.packageName)) {
    throw new Error(`${runtimePackageFile} already depends on ${names.packageName}`);
  }
  manifest.dependencies = { ...dependencies, [names.packageName]: 'workspace:*' };
  const packageAfter = `${JSON.stringify(manifest, null, 2)}\n`;

  return [
    { path: runtimeSourcesFile, before: sourcesBefore, after: sourcesAfter },
    { path: runtimePackageFile, before: packageBefore, after: packageAfter },
  ];
}
