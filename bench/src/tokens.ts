import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mintDevToken } from '@gw/auth';

/**
 * Writes `count` distinct development tokens (HS256 with `secret`, subjects `first`..`first+count-1`, one per
 * line) to `<dir>/<name>` for wsload's `--tokens`; connection i uses line i. Returns the file's path.
 */
export async function writeTokenFile(options: { dir: string; name: string; secret: string; count: number; first?: number }): Promise<string> {
  const first = options.first ?? 1;
  const tokens: string[] = [];
  for (let i = 0; i < options.count; i += 1) {
    tokens.push(await mintDevToken({ secret: options.secret, sub: first + i, expiresIn: '2h' }));
  }
  const path = join(options.dir, options.name);
  await writeFile(path, `${tokens.join('\n')}\n`);
  return path;
}
