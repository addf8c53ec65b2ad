import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createLogger } from '@gw/core';
import { noopMetrics } from '@gw/metrics';
import { closeApp, createApp, listenAll } from '@gw/uws';
import { BUILD_LIMITS, contentTypeOf } from './build-files.js';
import { registerDashboardRoutes } from './routes.js';
import type { DashboardDeps } from './routes.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * GET with the path sent exactly as written: `fetch` and `new URL` would resolve `..` before sending, and a
 * traversal test must send what an attacker sends.
 */
function rawGet(port: number, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: GET ${path}`)));
    req.on('error', reject);
    req.end();
  });
}

/** A real uWS app on 127.0.0.1 with only the dashboard routes; `close()` releases the port. */
async function serveDashboard(deps: Omit<DashboardDeps, 'logger' | 'metrics'>): Promise<{ port: number; close(): void }> {
  const app = createApp(undefined);
  registerDashboardRoutes(app, { logger: createLogger({ level: 'silent' }), metrics: noopMetrics, ...deps });
  const listening = await listenAll(app, '127.0.0.1', [0]);
  return {
    port: listening.ports[0] ?? 0,
    close: () => {
      listening.stopListening();
      closeApp(app);
    },
  };
}

const INDEX = '<!doctype html><title>dashboard</title><script type="module" src="./assets/index-Ab12Cd34.js"></script>';
const SCRIPT = 'console.log("dashboard");';
const SECRET = 'not-for-the-web';

/** A build as Vite lays it out, plus files next to it that must never be served. */
async function writeBuild(root: string): Promise<string> {
  const dist = join(root, 'dist');
  await mkdir(join(dist, 'assets'), { recursive: true });
  await mkdir(join(dist, 'assets', 'nested'), { recursive: true });
  await writeFile(join(dist, 'index.html'), INDEX);
  await writeFile(join(dist, 'assets', 'index-Ab12Cd34.js'), SCRIPT);
  await writeFile(join(dist, 'assets', 'index-Ef56Gh78.css'), 'body{margin:0}');
  await writeFile(join(dist, 'assets', 'favicon-Ij90Kl12.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await writeFile(join(dist, 'assets', 'nested', 'deep.js'), SECRET);
  await writeFile(join(dist, 'secret.txt'), SECRET);
  await writeFile(join(root, 'secret.txt'), SECRET);
  await symlink(join(root, 'secret.txt'), join(dist, 'assets', 'link-Mn34Op56.js'));
  return dist;
}

function expectJsonError(reply: Reply, status: number, error: string): { message: string } {
  expect(reply.status).toBe(status);
  expect(reply.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(reply.body) as { code: number; message: string; error: string };
  expect(body).toEqual({ code: status, message: expect.any(String) as string, error });
  return body;
}

describe('the dashboard routes serving a build', () => {
  let root: string;
  let server: { port: number; close(): void };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'gw-dashboard-'));
    server = await serveDashboard({ distDir: await writeBuild(root) });
  });

  afterAll(async () => {
    server.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves the page at / as HTML that is revalidated on every load, with a same-origin-only CSP', async () => {
    const reply = await rawGet(server.port, '/');
    expect(reply.status).toBe(200);
    expect(reply.body).toBe(INDEX);
    expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(reply.headers['cache-control']).toBe('no-cache');
    expect(reply.headers['x-content-type-options']).toBe('nosniff');
    expect(reply.headers['referrer-policy']).toBe('no-referrer');
    expect(reply.headers['content-security-policy']).toContain("default-src 'self'");
  });

  it('serves hashed assets with their content type, cached as immutable', async () => {
    const expected: [string, string][] = [
      ['index-Ab12Cd34.js', 'text/javascript; charset=utf-8'],
      ['index-Ef56Gh78.css', 'text/css; charset=utf-8'],
      ['favicon-Ij90Kl12.svg', 'image/svg+xml'],
    ];
    for (const [name, contentType] of expected) {
      const reply = await rawGet(server.port, `/assets/${name}`);
      expect(reply.status, name).toBe(200);
      expect(reply.headers['content-type'], name).toBe(contentType);
      expect(reply.headers['cache-control'], name).toBe('public, max-age=31536000, immutable');
      expect(reply.headers['x-content-type-options'], name).toBe('nosniff');
    }
    expect((await rawGet(server.port, '/assets/index-Ab12Cd34.js')).body).toBe(SCRIPT);
  });

  it('answers an unknown asset with the JSON 404 and keeps serving', async () => {
    const body = expectJsonError(await rawGet(server.port, '/assets/index-00000000.js'), 404, 'not_found');
    expect(body.message).toContain('index-00000000.js');
    expect((await rawGet(server.port, '/assets/index-Ab12Cd34.js')).status).toBe(200);
  });

  it.each([
    '/assets/../secret.txt',
    '/assets/../../secret.txt',
    '/assets/..%2fsecret.txt',
    '/assets/%2e%2e/secret.txt',
    '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/assets/..\\secret.txt',
    '/assets//etc/passwd',
    '/assets/../../../../../../etc/passwd',
    '/assets/nested/deep.js',
    '/assets/link-Mn34Op56.js',
    '/assets/nested',
    '/assets/',
  ])('never serves a file outside the build snapshot: GET %s is a 404', async (path) => {
    const reply = await rawGet(server.port, path);
    expectJsonError(reply, 404, 'not_found');
    expect(reply.body).not.toContain(SECRET);
    expect(reply.body).not.toContain('root:');
  });
});

describe('the dashboard routes without a build', () => {
  let root: string;
  let server: { port: number; close(): void } | undefined;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'gw-dashboard-missing-'));
  });

  afterEach(() => {
    server?.close();
    server = undefined;
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('answers 503 naming the build command, then serves the build as soon as it exists', async () => {
    const distDir = join(root, 'dist');
    server = await serveDashboard({ distDir });
    for (const path of ['/', '/assets/index-Ab12Cd34.js']) {
      const reply = await rawGet(server.port, path);
      const body = expectJsonError(reply, 503, 'dashboard_not_built');
      expect(body.message).toContain('pnpm --filter @gw/dashboard build');
      expect(reply.headers['cache-control']).toBe('no-store');
    }

    await writeBuild(root);
    const page = await rawGet(server.port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toBe(INDEX);
  });

  it('answers 500 (and keeps running) for a directory too large to be a dashboard build', async () => {
    const distDir = join(root, 'huge');
    await mkdir(join(distDir, 'assets'), { recursive: true });
    await writeFile(join(distDir, 'index.html'), INDEX);
    for (let i = 0; i <= BUILD_LIMITS.maxAssets; i += 1) {
      await writeFile(join(distDir, 'assets', `file-${i}.js`), '');
    }
    server = await serveDashboard({ distDir });
    const ids: string[] = [];
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const reply = await rawGet(server.port, '/');
      expect(reply.status).toBe(500);
      // A generic sentence and the id that finds the detail in the log; the detail (the directory, the file
      // count) is for the operators only.
      const body = JSON.parse(reply.body) as Record<string, unknown>;
      expect(body).toEqual({ code: 500, message: 'internal error', error: 'internal', request_id: expect.any(String) as string });
      expect(reply.headers['x-request-id']).toBe(body['request_id']);
      expect(reply.body).not.toContain(distDir);
      expect(reply.body).not.toContain('holds more than');
      ids.push(String(body['request_id']));
    }
    expect(new Set(ids).size).toBe(2);
  });
});

describe('the dashboard mount path', () => {
  let root: string;
  let server: { port: number; close(): void };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'gw-dashboard-mount-'));
    server = await serveDashboard({ distDir: await writeBuild(root), mountPath: '/ops/dashboard/' });
  });

  afterAll(async () => {
    server.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves the page and its assets under the mount path', async () => {
    expect((await rawGet(server.port, '/ops/dashboard/')).body).toBe(INDEX);
    expect((await rawGet(server.port, '/ops/dashboard/assets/index-Ab12Cd34.js')).body).toBe(SCRIPT);
    expectJsonError(await rawGet(server.port, '/ops/dashboard/assets/secret.txt'), 404, 'not_found');
  });

  it.each(['', 'dashboard', '/dashboard', 'dashboard/', '/a/*/', '/../'])('refuses the mount path "%s"', (mountPath) => {
    const app = createApp(undefined);
    try {
      expect(() => {
        registerDashboardRoutes(app, { logger: createLogger({ level: 'silent' }), metrics: noopMetrics, mountPath });
      }).toThrow(/mountPath/);
    } finally {
      closeApp(app);
    }
  });
});

describe("the page at / next to a WebSocket endpoint at / (the signal protocol's legacy path)", () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'gw-dashboard-ws-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each(['WebSocket route first', 'dashboard first'])('serves both, whichever is registered first: %s', async (order) => {
    const distDir = await writeBuild(join(root, order.replaceAll(' ', '-')));
    const app = createApp(undefined);
    const addWebSocket = (): void => {
      app.ws('/', {
        open: (ws) => {
          ws.send('hello from /');
        },
      });
    };
    const addDashboard = (): void => {
      registerDashboardRoutes(app, { logger: createLogger({ level: 'silent' }), metrics: noopMetrics, distDir });
    };
    if (order === 'dashboard first') {
      addDashboard();
      addWebSocket();
    } else {
      addWebSocket();
      addDashboard();
    }
    const listening = await listenAll(app, '127.0.0.1', [0]);
    try {
      const port = listening.ports[0] ?? 0;
      expect((await rawGet(port, '/')).body).toBe(INDEX);
      const greeting = await new Promise<string>((resolve, reject) => {
        const client = new WebSocket(`ws://127.0.0.1:${port}/`);
        client.once('message', (data: Buffer) => {
          resolve(data.toString('utf8'));
          client.close();
        });
        client.once('error', reject);
      });
      expect(greeting).toBe('hello from /');
    } finally {
      listening.stopListening();
      closeApp(app);
    }
  });
});

describe('content types', () => {
  it.each([
    ['index.html', 'text/html; charset=utf-8'],
    ['app-1.JS', 'text/javascript; charset=utf-8'],
    ['font-2.woff2', 'font/woff2'],
    ['data-3.bin', 'application/octet-stream'],
    ['no-extension', 'application/octet-stream'],
  ])('%s is sent as %s', (name, type) => {
    expect(contentTypeOf(name)).toBe(type);
  });
});
