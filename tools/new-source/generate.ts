import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generationProblems } from './checks.js';
import { sourceNames } from './names.js';
import type { SourceNames } from './names.js';
import { registrationEdits } from './register.js';
import { renderTemplate } from './template.js';
import type { SourceKind } from './template.js';

/** The name cannot be generated; `problems` says why, one line each. */
export class NewSourceError extends Error {
  override readonly name = 'NewSourceError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.problems = problems;
  }
}

export interface GenerateOptions {
  /** The workspace root to generate into (the repository's, or a test's copy of the parts it needs). */
  root: string;
  /** The source name, e.g. `okx-tickers`. */
  name: string;
  /** What it publishes (see `sourceKinds`). */
  kind: SourceKind;
}

export interface GeneratedSource {
  names: SourceNames;
  kind: SourceKind;
  /** `packages/sources/<name>`, relative to the root. */
  packageDir: string;
  /** The files written into it, relative to it. */
  files: string[];
  /** The files edited to register it, relative to the root. */
  registeredIn: string[];
}

/**
 * Creates `packages/sources/<name>` from the template of its kind and registers it in the runtime, all or nothing:
 * problems are found before anything is written (NewSourceError), the package appears at once (written beside it,
 * then renamed), and a failed registration removes it and restores the edited files. Installing and
 * regenerating docs are left to the caller (see main.ts).
 */
export function generateSource(options: GenerateOptions): GeneratedSource {
  const names = sourceNames(options.name);
  const problems = generationProblems(options.root, names);
  if (problems.length > 0) {
    throw new NewSourceError(problems);
  }
  const files = renderTemplate(names, options.kind);
  const edits = registrationEdits(options.root, names);

  const packageDir = `packages/sources/${names.name}`;
  const target = join(options.root, packageDir);
  const staging = join(options.root, 'packages/sources', `.${names.name}.new-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  try {
    for (const file of files) {
      mkdirSync(dirname(join(staging, file.path)), { recursive: true });
      writeFileSync(join(staging, file.path), file.content);
    }
    renameSync(staging, target);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }

  const applied: typeof edits = [];
  try {
    for (const edit of edits) {
      writeFileSync(join(options.root, edit.path), edit.after);
      applied.push(edit);
    }
  } catch (error) {
    for (const edit of applied) {
      writeFileSync(join(options.root, edit.path), edit.before);
    }
    rmSync(target, { recursive: true, force: true });
    throw error;
  }
  return { names, kind: options.kind, packageDir, files: files.map((f) => f.path), registeredIn: edits.map((e) => e.path) };
}
