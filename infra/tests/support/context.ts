/**
 * The Docker build context of infra/Dockerfile: the repository's files minus what infra/Dockerfile.dockerignore
 * excludes, by Docker's own matching rules (@balena/dockerignore, the implementation docker-modem uses).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Ignore } from '@balena/dockerignore';
import { INFRA_DIR, REPO_ROOT } from './processes.js';

// CommonJS `module.exports = factory` typed as a default export, which ESM imports do not agree on: require it.
const ignore = createRequire(import.meta.url)('@balena/dockerignore') as () => Ignore;

export const DOCKERIGNORE = `${INFRA_DIR}Dockerfile.dockerignore`;

/** Folders too large to walk: each must be ignored as a whole, or the context reports it as included. */
const HEAVY = new Set(['node_modules', '.git']);

/** Paths (relative to the repository root, `/`-separated) of the files `docker build -f infra/Dockerfile .` sends. */
export function buildContext(root = REPO_ROOT): Set<string> {
  const rules = ignore().add(readFileSync(DOCKERIGNORE, 'utf8').split('\n'));
  const files = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (HEAVY.has(entry.name)) {
          if (!rules.ignores(`${path}/any-file`)) {
            files.add(`${path}/...`);
          }
        } else {
          walk(path);
        }
      } else if (!rules.ignores(path)) {
        files.add(path);
      }
    }
  };
  walk('');
  return files;
}
