import type { Dirent } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** One file of the built dashboard, read into memory and ready to send. */
export interface StaticFile {
  readonly body: Buffer;
  readonly contentType: string;
  readonly cacheControl: string;
}

/**
 * A snapshot of the dashboard's build output (`vite build`): `index.html` and the flat `assets/` directory Vite
 * writes, whose file names carry a content hash. Nothing else in the directory is served.
 */
export interface DashboardBuild {
  readonly index: StaticFile;
  /** File name under `assets/` → file. The only names that can ever be served from `/assets/`. */
  readonly assets: ReadonlyMap<string, StaticFile>;
}

/** The command that produces the build, for error messages and logs. */
export const DASHBOARD_BUILD_COMMAND = 'pnpm --filter @gw/dashboard build';

/**
 * Caching: the page itself is revalidated on every load (so a new build is picked up at once), while assets
 * are named by their content hash and can be kept for a year without ever being stale.
 */
export const INDEX_CACHE_CONTROL = 'no-cache';
export const ASSET_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/**
 * Content types of what Vite emits for this app. A short table rather than a MIME library: the build output
 * is ours, and anything unexpected is sent as opaque bytes (with `nosniff`, the browser will not execute it).
 */
const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** `.js` → `text/javascript; charset=utf-8`; unknown extensions → `application/octet-stream`. */
export function contentTypeOf(fileName: string): string {
  return contentTypes[extname(fileName).toLowerCase()] ?? 'application/octet-stream';
}

/** Bounds on what is read into memory; the real build is a few files and tens of kilobytes. */
export const BUILD_LIMITS = { maxAssets: 256, maxTotalBytes: 16 * 1024 * 1024 } as const;

function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && (error.code === 'ENOENT' || error.code === 'ENOTDIR');
}

/**
 * Reads the build in `distDir` into memory. Resolves `undefined` when there is no build (no `index.html`);
 * rejects when the directory holds more than {@link BUILD_LIMITS} allow or cannot be read.
 */
export async function loadDashboardBuild(distDir: string): Promise<DashboardBuild | undefined> {
  let indexBody: Buffer;
  try {
    indexBody = await readFile(join(distDir, 'index.html'));
  } catch (error) {
    if (isMissing(error)) {
      return undefined;
    }
    throw error;
  }

  const assets = new Map<string, StaticFile>();
  let totalBytes = indexBody.byteLength;
  const assetsDir = join(distDir, 'assets');
  let entries: Dirent[] = [];
  try {
    entries = await readdir(assetsDir, { withFileTypes: true });
  } catch (error) {
    if (!isMissing(error)) {
      throw error;
    }
  }
  // Regular files only: a directory or a symbolic link (which could point anywhere) is never served.
  for (const { name } of entries.filter((entry) => entry.isFile())) {
    const path = join(assetsDir, name);
    if (assets.size >= BUILD_LIMITS.maxAssets) {
      throw new Error(`${assetsDir} holds more than ${BUILD_LIMITS.maxAssets} files: not a dashboard build`);
    }
    const body = await readFile(path);
    totalBytes += body.byteLength;
    if (totalBytes > BUILD_LIMITS.maxTotalBytes) {
      throw new Error(`${distDir} is larger than ${BUILD_LIMITS.maxTotalBytes} bytes: not a dashboard build`);
    }
    assets.set(name, { body, contentType: contentTypeOf(name), cacheControl: ASSET_CACHE_CONTROL });
  }

  return {
    index: { body: indexBody, contentType: contentTypeOf('index.html'), cacheControl: INDEX_CACHE_CONTROL },
    assets,
  };
}
