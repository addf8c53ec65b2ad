import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import type { BuildOptions } from 'esbuild';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');

/** Bundles for a browser, as an app's bundler would; returns the files that ended up in the bundle. */
async function browserBundle(entry: Pick<BuildOptions, 'entryPoints' | 'stdin'>): Promise<{ inputs: string[]; bytes: number }> {
  const result = await build({
    ...entry,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: repoRoot,
  });
  return { inputs: Object.keys(result.metafile.inputs), bytes: result.outputFiles[0]?.contents.length ?? 0 };
}

/** The packages whose code may reach a browser: the SDK and socket.io-client with its own dependencies. */
const browserPackages = ['socket.io-client', 'engine.io-client', 'engine.io-parser', 'socket.io-parser', '@socket.io/component-emitter'];

function packageOf(input: string): string {
  if (input.startsWith('packages/client/src/')) {
    return '@gw/client';
  }
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input);
  return match?.[1] ?? input;
}

describe('@gw/client in a browser', () => {
  it('bundles for the browser with nothing but the SDK and socket.io-client: no server code, no zod', async () => {
    const { inputs, bytes } = await browserBundle({ entryPoints: [join(here, 'index.ts')] });
    const packages = new Set(inputs.map(packageOf));
    expect([...packages].sort()).toEqual(['@gw/client', ...browserPackages].sort());
    expect(bytes).toBeGreaterThan(0);
  });

  it('would notice server code: a value import of an adapter schema is caught', async () => {
    const leaky = "export { signalFrameSchema } from '@gw/adapter-signals';";
    // Server packages import Node built-ins (uWebSockets.js), so a browser build of them fails outright.
    const verdict = await browserBundle({ stdin: { contents: leaky, resolveDir: here, loader: 'ts', sourcefile: 'leaky.ts' } }).then(
      ({ inputs }) => (inputs.map(packageOf).every((name) => name === '@gw/client' || browserPackages.includes(name)) ? 'clean' : 'server code bundled'),
      () => 'build failed',
    );
    expect(verdict).not.toBe('clean');
  });

  it('type-checks in a DOM project, where the browser WebSocket is accepted as the implementation', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-client-dom-'));
    try {
      const sdk = join(here, 'index.js');
      await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
      await writeFile(
        join(dir, 'app.ts'),
        [
          `import { SignalsClient, StockPricesClient, TradingClient } from ${JSON.stringify(sdk)};`,
          `import type { WebSocketConstructor } from ${JSON.stringify(sdk)};`,
          'const implementation: WebSocketConstructor = WebSocket;',
          "const signals = new SignalsClient({ url: new URL('/ws/signals', location.href), getToken: () => 'jwt', WebSocket: implementation });",
          "signals.onSignal((s) => { document.title = `${s.type} ${s.content.symbol} ${s.content.price}`; });",
          "const stock = new StockPricesClient({ url: 'ws://localhost:8080/ws/stock/prices' });",
          'stock.onPrices((u) => { for (const item of u.data) { console.log(item.code, item.price); } });',
          "const trading = new TradingClient({ url: location.origin, getToken: async () => 'jwt' });",
          'trading.onBalanceUpdate((m) => { console.log(m.data.total_balance); });',
        ].join('\n'),
      );
      await writeFile(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          extends: join(repoRoot, 'tsconfig.base.json'),
          compilerOptions: { lib: ['ES2023', 'DOM'], typeRoots: [join(repoRoot, 'node_modules/@types')], noEmit: true },
          files: ['app.ts'],
        }),
      );
      const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
      const run = promisify(execFile);
      const { stdout } = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { timeout: 110_000 }).catch(
        (error: unknown) => ({ stdout: String((error as { stdout?: unknown }).stdout ?? error) }),
      );
      expect(stdout).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
