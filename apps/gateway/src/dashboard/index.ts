export { DEFAULT_DASHBOARD_DIST, registerDashboardRoutes } from './routes.js';
export type { DashboardDeps } from './routes.js';
export { DASHBOARD_BUILD_COMMAND, loadDashboardBuild } from './build-files.js';
export type { DashboardBuild, StaticFile } from './build-files.js';
