import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';

export type { Browser, ConsoleMessage, Page } from 'playwright-core';

/** The dashboard app's directory (where `index.html` and `vite.config.ts` are). */
export const DASHBOARD_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Debian's Chromium: tests drive the system browser and never download one. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a headless Chromium on a CI machine without a user session or network. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const run = promisify(execFile);

/**
 * Builds the dashboard from its current sources into `outDir` (emptied first), with Vite's CLI in a child
 * process: the build is what the gateway serves, and the calling test process keeps its own environment.
 * Rejects with Vite's output when the build fails.
 */
export async function buildDashboard(outDir: string): Promise<void> {
  const require = createRequire(import.meta.url);
  const viteBin = join(dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
  const env = { ...process.env, NODE_ENV: 'production' };
  try {
    await run(process.execPath, [viteBin, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: DASHBOARD_ROOT,
      env,
      timeout: 60_000,
    });
  } catch (error) {
    const output = error instanceof Error && 'stderr' in error ? String(error.stderr) : '';
    throw new Error(`vite build of the dashboard failed: ${output || String(error)}`, { cause: error });
  }
}

/**
 * Launches Debian's Chromium headless through playwright-core. Fails with the install command when the
 * browser is missing (`.ci/run` installs it).
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} not found: install Debian's browser with \`apt-get install -y chromium\``);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}
