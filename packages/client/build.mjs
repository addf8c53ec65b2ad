// Builds the published SDK (run by `pnpm --filter @gw/client build`, by `npm pack` through `prepack`, and by the
// workspace's `prepare` at every `pnpm install`):
//
//   dist/*.js, dist/*.d.ts    ESM for Node and for apps' bundlers (tsc). It imports socket.io-client, the
//                             package's dependency, so an app's bundler includes one copy, shared with the app.
//   dist/browser/gw-client.js one minified ES module for a page without a bundler (`<script type="module">`),
//                             socket.io-client included: a browser cannot resolve the bare name
//                             "socket.io-client". Not for bundlers: use the package's main entry there. No
//                             source map (it would triple the package); debug with the ESM build.
//
// `--out-dir DIR` builds into another directory named `dist` (tests pack a copy from it, so they never rewrite
// the dist/ the workspace is importing meanwhile).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const packageDir = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { 'out-dir': { type: 'string' } } });
const outDir = resolve(values['out-dir'] ?? join(packageDir, 'dist'));
// The directory is emptied first: refuse anything but a `dist` directory, so a wrong argument deletes nothing else.
if (basename(outDir) !== 'dist') {
  throw new Error(`--out-dir must name a directory called "dist", got ${outDir}`);
}
rmSync(outDir, { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(packageDir, 'tsconfig.build.json'), '--outDir', outDir], { stdio: 'inherit' });

await build({
  entryPoints: [join(packageDir, 'src/index.ts')],
  outfile: join(outDir, 'browser/gw-client.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  logLevel: 'warning',
});
