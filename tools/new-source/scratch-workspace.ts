import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * For the generator's tests: a throw-away workspace root in the system's temporary directory holding exactly what
 * generating, checking and running a new source needs, so the tests never write into the repository that other
 * people are working in. Copied from the repository: the root manifest (its `worker` script), tsconfig.base.json,
 * eslint.config.js, vitest.config.ts, docs/configuration.md, `packages/runtime` (the file the generator edits)
 * and `apps/worker` (to run `pnpm worker`). Instead of `pnpm install`, {@link ScratchWorkspace.link} links each
 * package's dependencies as pnpm would: the scratch's own packages where it has them, the repository's otherwise.
 */
export interface ScratchWorkspace {
  readonly root: string;
  /** Links the dependencies of the package in `dir` (relative to the root) into its node_modules. */
  link(dir: string): void;
  remove(): void;
}

/** Copied into the scratch root, relative to both roots. */
const copied = ['package.json', 'tsconfig.base.json', 'eslint.config.js', 'vitest.config.ts', 'docs/configuration.md', 'packages/runtime/package.json', 'packages/runtime/src', 'apps/worker/package.json', 'apps/worker/src/main.ts'];

const packageParents = ['packages', 'packages/sources', 'apps'];

interface Manifest {
  name?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** Package name → directory, for every package under the workspace globs of `root`. */
function packagesOf(root: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const parent of packageParents) {
    const dir = join(root, parent);
    if (!existsSync(dir)) {
      continue;
    }
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const packageDir = join(dir, entry.name);
      if (entry.isDirectory() && existsSync(join(packageDir, 'package.json'))) {
        const { name } = readManifest(packageDir);
        if (name !== undefined) {
          found.set(name, packageDir);
        }
      }
    }
  }
  return found;
}

export function createScratchWorkspace(repositoryRoot: string): ScratchWorkspace {
  const root = mkdtempSync(join(tmpdir(), 'gw-new-source-'));
  for (const path of copied) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    cpSync(join(repositoryRoot, path), join(root, path), { recursive: true, filter: (source) => !source.includes('node_modules') });
  }
  // The root's own tools (tsx, typescript, eslint, vitest and the shared configs' packages).
  symlinkSync(join(repositoryRoot, 'node_modules'), join(root, 'node_modules'), 'dir');
  // Typecheck generated source packages against the repository's compiler settings.
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ extends: './tsconfig.base.json', include: ['packages/sources/*/src/**/*.ts'] }, null, 2));

  const repositoryPackages = packagesOf(repositoryRoot);
  /** Where a registry dependency is installed in the repository: the first package that has it. */
  const installed = (dependency: string): string => {
    for (const dir of repositoryPackages.values()) {
      const candidate = join(dir, 'node_modules', dependency);
      if (existsSync(candidate)) {
        return realpathSync(candidate);
      }
    }
    throw new Error(`no package of the repository has ${dependency} installed`);
  };

  return {
    root,
    link(dir) {
      const packageDir = join(root, dir);
      const manifest = readManifest(packageDir);
      const scratchPackages = packagesOf(root);
      for (const [dependency, version] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
        const target = version.startsWith('workspace:')
          ? (scratchPackages.get(dependency) ?? repositoryPackages.get(dependency))
          : installed(dependency);
        if (target === undefined) {
          throw new Error(`${dir}: no workspace package ${dependency}`);
        }
        const link = join(packageDir, 'node_modules', dependency);
        mkdirSync(dirname(link), { recursive: true });
        rmSync(link, { force: true });
        symlinkSync(target, link, 'dir');
      }
    },
    remove() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
