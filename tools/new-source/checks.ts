import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nameProblems } from './names.js';
import type { SourceNames } from './names.js';
import { runtimeSourcesFile } from './register.js';

/** The workspace's package directories (as pnpm-workspace.yaml lists them) that hold a package.json. */
const packageParents = ['packages', 'packages/sources', 'apps'];

/** The environment variables a generated source defines (see the template's config.ts.tmpl). */
export function templateVariables(names: SourceNames): string[] {
  return ['KEYS', 'INTERVAL_MS', 'BACKOFF_MS', 'BACKOFF_MAX_MS'].map((suffix) => `${names.UPPER_NAME}_${suffix}`);
}

/** Every documented variable by section, from the generated docs/configuration.md (`## section`, then table rows). */
function documentedVariables(root: string): Map<string, string> {
  const file = join(root, 'docs/configuration.md');
  const variables = new Map<string, string>();
  if (!existsSync(file)) {
    return variables;
  }
  let section = '';
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const heading = /^## (.+)$/.exec(line);
    const row = /^\| `([A-Z0-9_]+)` \|/.exec(line);
    if (heading?.[1] !== undefined) {
      section = heading[1];
    } else if (row?.[1] !== undefined) {
      variables.set(row[1], section);
    }
  }
  return variables;
}

function workspacePackageNames(root: string): Set<string> {
  const names = new Set<string>();
  for (const parent of packageParents) {
    const dir = join(root, parent);
    if (!existsSync(dir)) {
      continue;
    }
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const manifest = join(dir, entry.name, 'package.json');
      if (entry.isDirectory() && existsSync(manifest)) {
        names.add((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name ?? '');
      }
    }
  }
  return names;
}

/**
 * Everything that prevents generating `names` into the workspace at `root`: a bad or reserved name, an existing
 * directory or package, a source already registered, or environment variables of its prefix that another
 * section owns (each source owns `<NAME>_*`). Empty when it can be generated.
 */
export function generationProblems(root: string, names: SourceNames): string[] {
  const problems = nameProblems(names.name);
  if (problems.length > 0) {
    return problems;
  }
  const dir = `packages/sources/${names.name}`;
  if (existsSync(join(root, dir))) {
    problems.push(`${dir} already exists`);
  }
  if (workspacePackageNames(root).has(names.packageName)) {
    problems.push(`the workspace already has a package named ${names.packageName}`);
  }
  const sourcesFile = join(root, runtimeSourcesFile);
  if (existsSync(sourcesFile) && readFileSync(sourcesFile, 'utf8').includes(`'${names.packageName}'`)) {
    problems.push(`${runtimeSourcesFile} already registers ${names.packageName}`);
  }
  const prefix = `${names.UPPER_NAME}_`;
  const owners = new Map<string, string[]>();
  for (const [variable, section] of documentedVariables(root)) {
    if (variable.startsWith(prefix) || templateVariables(names).includes(variable)) {
      owners.set(section, [...(owners.get(section) ?? []), variable]);
    }
  }
  for (const [section, variables] of owners) {
    problems.push(`its settings would be ${prefix}*, but section "${section}" already uses ${variables.join(', ')} (docs/configuration.md): choose another name`);
  }
  return problems;
}
