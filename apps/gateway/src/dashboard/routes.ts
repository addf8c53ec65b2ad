import { fileURLToPath } from 'node:url';
import { GatewayError } from '@gw/core';
import { route } from '@gw/uws';
import type { HttpDeps, RequestInfo, RouteResult, TemplatedApp } from '@gw/uws';
import { DASHBOARD_BUILD_COMMAND, loadDashboardBuild } from './build-files.js';
import type { DashboardBuild, StaticFile } from './build-files.js';

/** `apps/dashboard/dist` of this repository, where `vite build` writes. */
export const DEFAULT_DASHBOARD_DIST = fileURLToPath(new URL('../../../dashboard/dist/', import.meta.url));

export interface DashboardDeps extends HttpDeps {
  /** The dashboard's build output. Default {@link DEFAULT_DASHBOARD_DIST}. */
  distDir?: string | undefined;
  /**
   * Where the page is served, starting and ending with `/`; its assets are under `<mountPath>assets/`.
   * Default `/`. (The build uses relative asset URLs, so any mount path works.)
   */
  mountPath?: string | undefined;
}

/**
 * The page's Content-Security-Policy: everything from this origin, nothing from anywhere else, which also
 * proves the page needs no CDN. `connect-src 'self'` covers the page's own ws:// and wss:// connections.
 */
const PAGE_CSP = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const pageHeaders = {
  'content-security-policy': PAGE_CSP,
  // The page URL may carry ?token=: never send it on as a referrer.
  'referrer-policy': 'no-referrer',
};

function send(file: StaticFile, extraHeaders: Record<string, string> = {}): RouteResult {
  return {
    status: 200,
    contentType: file.contentType,
    body: file.body,
    headers: { 'cache-control': file.cacheControl, 'x-content-type-options': 'nosniff', ...extraHeaders },
  };
}

const notBuilt: RouteResult = {
  status: 503,
  headers: { 'cache-control': 'no-store' },
  body: {
    code: 503,
    message: `the dashboard is not built: run \`${DASHBOARD_BUILD_COMMAND}\` (pnpm install runs it), then reload`,
    error: 'dashboard_not_built',
  },
};

/**
 * The build, read once and then served from memory. While there is none, every request looks again, so
 * building while the gateway runs is enough; once found it is kept (a rebuild needs a restart), which also
 * keeps the page and its hashed assets consistent with each other.
 */
function buildLoader(distDir: string): () => Promise<DashboardBuild | undefined> {
  let build: DashboardBuild | undefined;
  let loading: Promise<DashboardBuild | undefined> | undefined;
  return () => {
    if (build !== undefined) {
      return Promise.resolve(build);
    }
    loading ??= loadDashboardBuild(distDir)
      .then((loaded) => {
        build = loaded;
        return loaded;
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  };
}

/**
 * Serves the live dashboard: `GET <mountPath>` is the page (`no-cache`, with a strict CSP) and
 * `GET <mountPath>assets/<name>` its hashed files (`immutable`). Guarantees:
 * - only files of the build snapshot can be served: the asset name is looked up in the set of names read from
 *   `assets/`, never joined to a path, so no request reaches another file;
 * - an unknown asset is a JSON 404 `{"code": 404, "message", "error": "not_found"}`;
 * - without a build the routes answer 503 `dashboard_not_built` naming the build command, and never throw.
 */
export function registerDashboardRoutes(app: TemplatedApp, deps: DashboardDeps): void {
  const mountPath = deps.mountPath ?? '/';
  if (!/^\/(?:[\w-][\w.-]*\/)*$/.test(mountPath)) {
    throw new Error(`dashboard mountPath must start and end with "/" (got "${mountPath}")`);
  }
  const distDir = deps.distDir ?? DEFAULT_DASHBOARD_DIST;
  const load = buildLoader(distDir);
  const assetsPrefix = `${mountPath}assets/`;

  route(app, deps, 'get', mountPath, async () => {
    const build = await load();
    return build === undefined ? notBuilt : send(build.index, pageHeaders);
  });

  route(app, deps, 'get', `${assetsPrefix}*`, async (request: RequestInfo) => {
    const build = await load();
    if (build === undefined) {
      return notBuilt;
    }
    const name = request.path.slice(assetsPrefix.length);
    const file = build.assets.get(name);
    if (file === undefined) {
      throw new GatewayError('not_found', { message: `no dashboard asset "${name.slice(0, 120)}"` });
    }
    return send(file);
  });

  // Say at startup whether the page will work, rather than on the first visit.
  load().then(
    (build) => {
      if (build === undefined) {
        deps.logger.warn({ distDir }, `dashboard not built: GET ${mountPath} answers 503 until \`${DASHBOARD_BUILD_COMMAND}\` runs`);
      } else {
        deps.logger.info({ distDir, assets: build.assets.size, mountPath }, 'dashboard served');
      }
    },
    (error: unknown) => {
      deps.logger.error({ err: error, distDir }, 'dashboard build unreadable');
    },
  );
}
