export { assertNativeUws, describeUwsBuild, uWS } from './load-uws.js';
export type { UwsBuild } from './load-uws.js';
export {
  AdminAttemptLimiter,
  checkAdmin,
  createClientAddressResolver,
  errorResponse,
  httpStatusOf,
  isLoopbackAddress,
  parseJsonBody,
  remoteAddressOf,
  route,
  statusLine,
  trustedProxyProblem,
} from './http.js';
export type { ClientAddressResolver, HttpDeps, JsonResponse, RawResponse, RequestInfo, RouteHandler, RouteOptions, RouteResult } from './http.js';
export { appView } from './app-view.js';
export type { AppViewOverrides } from './app-view.js';
export { closeApp, createApp, listenAll, reservePorts } from './listen.js';
export { AfterPublishWrites } from './written.js';
export type { ListenOptions, PortReservation } from './listen.js';
export type { Listening, TlsFiles } from './listen.js';
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, WebSocketBehavior } from 'uWebSockets.js';
export { acquireUpgradeCork, closesAfterResponse, releaseUpgradeCork, upgradeCork, withUpgradeCork } from './upgrade-cork.js';
export type { UpgradeCork } from './upgrade-cork.js';
