import { execFile, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '@gw/dashboard/testing';
import type { Browser } from '@gw/dashboard/testing';
import type { TestGateway } from '../testing/gateway.js';
import { buy, publishSignal, token } from '../protocols/signals/fixture.js';
import { Feed } from '../protocols/stock/harness.js';
import { Inbox, startAllProtocols } from './fixture.js';

/**
 * The SDK as a team gets it: built and packed with `npm pack`, installed with `npm install <tarball>` into a
 * project outside the workspace, then used from a plain Node script and from a page in Chromium against a real
 * gateway. Nothing here resolves into the workspace: the consumer's files (./packed-consumer/) see only what npm
 * installed. The registry must be reachable for `ws` and socket.io-client, as for any team.
 */

const clientDir = fileURLToPath(new URL('../../../../packages/client/', import.meta.url));
const consumerDir = fileURLToPath(new URL('./packed-consumer/', import.meta.url));

/** npm fetches socket.io-client and `ws` from the registry: generous, but bounded. */
const INSTALL_TIMEOUT_MS = 180_000;
/** Every wait on an event of a consumer (Node or page). */
const EVENT_TIMEOUT_MS = 15_000;

/** Stocks the consumers watch (in the test feed's universe). */
const WATCHLIST = ['600519', '000001'];

/**
 * The environment of npm and of the consumers: this process's, without what pnpm passes to the scripts it runs
 * (`npm_*` settings such as its own global rc file, which npm would otherwise read) and without NODE_OPTIONS, so
 * that `node` and `npm` behave as in a team's shell.
 */
function consumerEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('npm_') && !name.startsWith('pnpm_') && name !== 'NODE_OPTIONS'),
  );
}

const execFileAsync = promisify(execFile);

/** Runs a command to completion; a failure carries its output. */
async function run(command: string, args: readonly string[], cwd: string, timeout: number): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { cwd, timeout, env: consumerEnv(), maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout}\n${stderr}`, { cause: error });
  }
}

/** What `npm pack --json` reports for one tarball. */
interface PackReport {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

/** One line a consumer reports: `{event, data}`. */
interface ConsumerEvent {
  event: string;
  data: unknown;
}

interface Signal {
  id?: string;
  type: string;
  content: { symbol: string; price: number };
}
interface PriceUpdate {
  data: { code: string; price: number }[];
}
interface TradingPush {
  type: string;
  user_id: unknown;
}

/**
 * What a consumer reported, one stream per event name, each read in order (see Inbox): waiting for one kind of
 * event never skips another kind.
 */
class Reports {
  readonly #streams = new Map<string, Inbox<unknown>>();
  readonly #diagnostics: () => string;

  constructor(diagnostics: () => string) {
    this.#diagnostics = diagnostics;
  }

  readonly push = (report: ConsumerEvent): void => {
    this.#stream(report.event).push(report.data);
  };

  /** The next `event` not read before (matching `where`), waiting for it. */
  async next<T>(event: string, where: (data: T) => boolean = () => true): Promise<T> {
    try {
      return (await this.#stream(event).next((data) => where(data as T), EVENT_TIMEOUT_MS)) as T;
    } catch (error) {
      throw new Error(`no "${event}" event: ${String(error)}${this.#diagnostics()}`, { cause: error });
    }
  }

  /** Every `event` reported so far. */
  all(event: string): unknown[] {
    return this.#stream(event).values;
  }

  #stream(event: string): Inbox<unknown> {
    let stream = this.#streams.get(event);
    if (stream === undefined) {
      stream = new Inbox<unknown>();
      this.#streams.set(event, stream);
    }
    return stream;
  }
}

/** Waits until price updates have carried every stock of the watchlist. */
async function watchlistPrices(reports: Reports): Promise<void> {
  const missing = new Set(WATCHLIST);
  await reports.next<PriceUpdate>('prices', (update) => {
    update.data.forEach((item) => missing.delete(item.code));
    return missing.size === 0;
  });
}

/** Waits until a push of each of the four trading types has arrived, each for `user`. */
async function fourTradingPushes(reports: Reports, user: number): Promise<void> {
  const missing = new Set(['balance_update', 'positions_update', 'pnl_update', 'orders_update']);
  await reports.next<TradingPush>('trading.push', (push) => {
    expect(push.user_id).toBe(user);
    missing.delete(push.type);
    return missing.size === 0;
  });
}

/** Files of `dir`, recursively, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

/** Module specifiers a built file imports or re-exports (static and dynamic). */
function importedSpecifiers(source: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g;
  return [...source.matchAll(pattern)].map((match) => match[1] ?? '');
}

describe('the packed SDK, installed with npm into a project outside the workspace', () => {
  /** What beforeAll started, undone in reverse order by afterAll (also when beforeAll failed halfway). */
  const cleanups: (() => Promise<unknown>)[] = [];
  const children: ChildProcessWithoutNullStreams[] = [];
  let app: string;
  let packed: PackReport;
  let tarball: string;
  let gateway: TestGateway;
  let feed: Feed;

  /** Publishes a BTCUSDT buy signal through the gateway's API; returns its id. */
  async function publish(price: number): Promise<string> {
    const { status, json } = await publishSignal(gateway, buy('BTCUSDT', price));
    expect(status, JSON.stringify(json)).toBe(201);
    return json['id'] as string;
  }

  beforeAll(async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'gw-client-packed-'));
    cleanups.push(() => rm(scratch, { recursive: true, force: true }));

    // Build a copy and pack it (the package's own `prepack` runs the same build): the workspace's dist/, which
    // other test files import meanwhile, is never rewritten under them.
    const staged = join(scratch, 'package');
    await mkdir(staged);
    await Promise.all(['package.json', 'README.md'].map((file) => copyFile(join(clientDir, file), join(staged, file))));
    await run(process.execPath, [join(clientDir, 'build.mjs'), '--out-dir', join(staged, 'dist')], clientDir, 120_000);
    const [report] = JSON.parse(await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], staged, 60_000)) as PackReport[];
    if (report === undefined) {
      throw new Error('npm pack reported no tarball');
    }
    packed = report;
    tarball = join(scratch, packed.filename);

    app = join(scratch, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'gateway-sdk-consumer', private: true, type: 'module' }, null, 2));
    for (const file of ['app.mjs', 'session.mjs', 'index.html', 'typed.ts']) {
      await copyFile(join(consumerDir, file), join(app, file));
    }
    await run('npm', ['install', '--no-audit', '--no-fund', tarball, 'ws@^8', '@types/ws@^8'], app, INSTALL_TIMEOUT_MS);

    gateway = await startAllProtocols({});
    cleanups.push(() => gateway.shutdown());
    feed = new Feed(gateway);
    await feed.universe();
    for (const [i, code] of WATCHLIST.entries()) {
      await feed.quote(code, 10 + i);
    }
    // Consumers still running when a test failed.
    cleanups.push(async () => {
      for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
        }
      }
      return Promise.resolve();
    });
  }, INSTALL_TIMEOUT_MS + 120_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup();
    }
  });

  it('packs ESM JavaScript, declarations and a browser bundle, versioned, with socket.io-client its one dependency', async () => {
    console.info(`packed ${packed.filename}: ${packed.size} bytes (${packed.unpackedSize} unpacked, ${packed.files.length} files)`);
    const paths = packed.files.map((file) => file.path);
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/browser/gw-client.js']));
    // No sources, tests or build files: compiled JavaScript and declarations only.
    expect(paths.filter((path) => !['package.json', 'README.md'].includes(path) && !/^dist\/.*\.(?:js|d\.ts)$/.test(path))).toEqual([]);
    expect(paths.filter((path) => path.includes('test'))).toEqual([]);

    const installed = JSON.parse(await readFile(join(app, 'node_modules/@gw/client/package.json'), 'utf8')) as Record<string, unknown>;
    expect(installed['private']).toBeUndefined();
    expect(installed['version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(installed['dependencies']).toEqual({ 'socket.io-client': expect.any(String) as unknown });
    expect(installed['exports']).toMatchObject({
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './browser': { default: './dist/browser/gw-client.js' },
    });
  });

  it('imports nothing but socket.io-client, in its JavaScript and in its declarations, and npm installs one copy of it', async () => {
    const dist = join(app, 'node_modules/@gw/client/dist');
    const bare = new Set<string>();
    for (const file of await filesUnder(dist)) {
      if (file.startsWith('browser/')) {
        continue; // the bundle holds socket.io-client itself (checked below)
      }
      for (const specifier of importedSpecifiers(await readFile(join(dist, file), 'utf8'))) {
        if (!specifier.startsWith('./')) {
          bare.add(specifier);
        }
      }
      // No triple-slash reference to @types/node or the DOM: the declarations stand on their own.
      expect(await readFile(join(dist, file), 'utf8'), file).not.toMatch(/<reference /);
    }
    expect([...bare]).toEqual(['socket.io-client']);

    // The browser bundle is self-contained: no import at all (a page cannot resolve bare names).
    expect(importedSpecifiers(await readFile(join(dist, 'browser/gw-client.js'), 'utf8'))).toEqual([]);

    const copies = (await filesUnder(join(app, 'node_modules'))).filter((file) => file.endsWith('socket.io-client/package.json'));
    expect(copies).toEqual(['socket.io-client/package.json']);
  });

  it('type-checks a TypeScript consumer with tsc in that project, declarations included', { timeout: 120_000 }, async () => {
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          types: ['node'],
          noEmit: true,
        },
        files: ['typed.ts'],
      }),
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    // Resolution starts at the consumer's files: only its node_modules (the tarball, ws, @types) is visible.
    await expect(run(process.execPath, [tsc, '-p', join(app, 'tsconfig.json')], app, 110_000)).resolves.toBe('');
  });

  it("runs in plain Node on all three protocols, and the next run resumes the signals after the first run's last", async () => {
    /** Starts `node app.mjs` in the consumer project; the end of its standard input stops it. */
    async function startNode(since?: string) {
      const options = { httpUrl: gateway.httpUrl, token: await token(4), watchlist: WATCHLIST, ...(since === undefined ? {} : { since }) };
      const child = spawn(process.execPath, ['app.mjs', JSON.stringify(options)], { cwd: app, env: consumerEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(child);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
      });
      const reports = new Reports(() => (stderr === '' ? '' : `\nstderr of the Node consumer:\n${stderr}`));
      createInterface({ input: child.stdout }).on('line', (line) => {
        reports.push(JSON.parse(line) as ConsumerEvent);
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      return { reports, exited, end: () => child.stdin.end() };
    }

    const first = await startNode();
    const { reports } = first;

    // Signals, live.
    expect(await reports.next('signals.connected')).toEqual({});
    const seen = await publish(100);
    expect(await reports.next<Signal>('signal')).toMatchObject({ id: seen, type: 'buy', content: { symbol: 'BTCUSDT', price: 100 } });

    // The watchlist: both stocks confirmed with the server's frames, their snapshot, then a live change.
    const watched = await reports.next<{ subscription_type: string; target: string }[]>('stock.watchlist');
    expect(watched.map((frame) => [frame.subscription_type, frame.target])).toEqual(WATCHLIST.map((code) => ['stock', code]));
    await watchlistPrices(reports);
    await feed.quote('600519', 1888.5);
    await reports.next<PriceUpdate>('prices', (update) => update.data.some((item) => item.code === '600519' && item.price === 1888.5));

    // Trading: the four types acknowledged, then a push of each.
    expect(await reports.next('trading.subscribed')).toMatchObject({ status: 'success', types: ['balance', 'positions', 'pnl', 'orders'], user_id: 4 });
    await fourTradingPushes(reports, 4);

    // Stop: the clients close and Node exits by itself, nothing left running.
    first.end();
    expect(await reports.next('closed')).toEqual({ lastSignalId: seen });
    expect(await first.exited).toBe(0);
    expect(reports.all('error')).toEqual([]);

    // Signals published while no consumer runs reach the next run, which resumes after the last id it saw.
    const missed = [await publish(101), await publish(102)];
    const second = await startNode(seen);
    expect(await second.reports.next('signals.recovery')).toMatchObject({ since: seen, recovered: true, replayed: 2 });
    expect([(await second.reports.next<Signal>('signal')).id, (await second.reports.next<Signal>('signal')).id]).toEqual(missed);
    await second.reports.next('trading.subscribed');
    second.end();
    await second.reports.next('closed');
    expect(await second.exited).toBe(0);
    // Exactly the missed ones: none twice, none from before.
    expect(second.reports.all('signal').map((signal) => (signal as Signal).id)).toEqual(missed);
    expect(second.reports.all('error')).toEqual([]);
  }, 90_000);

  it('runs in Chromium from <script type="module"> on all three protocols, and a revisit resumes the signals', async () => {
    // The page's own origin, as a team's app would have: a static server for the page, the consumer code and
    // the SDK's browser bundle from the installed package. The gateway is another origin.
    const pages: Record<string, { file: string; type: string }> = {
      '/': { file: join(app, 'index.html'), type: 'text/html; charset=utf-8' },
      '/session.mjs': { file: join(app, 'session.mjs'), type: 'text/javascript' },
      '/gw-client.js': { file: join(app, 'node_modules/@gw/client/dist/browser/gw-client.js'), type: 'text/javascript' },
    };
    const server: Server = createServer((request, response) => {
      const page = pages[new URL(request.url ?? '/', 'http://page').pathname];
      if (page === undefined) {
        response.writeHead(404).end();
        return;
      }
      void readFile(page.file).then((body) => response.writeHead(200, { 'content-type': page.type }).end(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const origin = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      const problems: string[] = [];
      const reports = new Reports(() => (problems.length === 0 ? '' : `\npage errors:\n${problems.join('\n')}`));
      page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') {
          problems.push(`${message.text()} (${message.location().url})`);
        }
      });
      await page.exposeFunction('reportToTest', (event: string, data: unknown) => {
        reports.push({ event, data });
      });
      const url = `${origin}/?options=${encodeURIComponent(JSON.stringify({ httpUrl: gateway.httpUrl, token: await token(5), watchlist: WATCHLIST }))}`;

      await page.goto(url, { waitUntil: 'load' });
      expect(await reports.next('signals.connected')).toEqual({});
      const seen = await publish(200);
      expect(await reports.next<Signal>('signal')).toMatchObject({ id: seen, content: { symbol: 'BTCUSDT', price: 200 } });

      const watched = await reports.next<{ target: string }[]>('stock.watchlist');
      expect(watched.map((frame) => frame.target)).toEqual(WATCHLIST);
      await watchlistPrices(reports);
      await feed.quote('000001', 12.34);
      await reports.next<PriceUpdate>('prices', (update) => update.data.some((item) => item.code === '000001' && item.price === 12.34));

      expect(await reports.next('trading.subscribed')).toMatchObject({ types: ['balance', 'positions', 'pnl', 'orders'], user_id: 5 });
      await fourTradingPushes(reports, 5);

      // Leave the page (its sockets close), miss two signals, come back: the page resumes after the id it kept.
      await page.goto('about:blank');
      const missed = [await publish(201), await publish(202)];
      await page.goto(url, { waitUntil: 'load' });
      expect(await reports.next('signals.recovery')).toMatchObject({ since: seen, recovered: true, replayed: 2 });
      expect([(await reports.next<Signal>('signal')).id, (await reports.next<Signal>('signal')).id]).toEqual(missed);
      expect(reports.all('signal').map((signal) => (signal as Signal).id)).toEqual([seen, ...missed]);
      expect([...reports.all('error'), ...reports.all('failed')]).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await browser?.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 90_000);
});
