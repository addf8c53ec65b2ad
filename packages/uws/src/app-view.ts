import type { HttpRequest, HttpResponse, TemplatedApp, WebSocketBehavior } from 'uWebSockets.js';

/** Route registrations a view replaces: each gets the real app to register on, and the arguments it was called with. */
export interface AppViewOverrides {
  any?: (app: TemplatedApp, pattern: string, handler: (res: HttpResponse, req: HttpRequest) => void | Promise<void>) => void;
  ws?: (app: TemplatedApp, pattern: string, behavior: WebSocketBehavior<unknown>) => void;
}

/**
 * The app as a library attached to it (socket.io's `attachApp`) should see it: the registrations in
 * `overrides` go through them, everything else is the app itself, and chained calls (`app.any(...).ws(...)`)
 * stay on the view, so a library's later registrations are wrapped too. Views compose.
 */
export function appView(app: TemplatedApp, overrides: AppViewOverrides): TemplatedApp {
  const view: TemplatedApp = new Proxy(app, {
    get(target, property) {
      const override = property === 'any' || property === 'ws' ? overrides[property] : undefined;
      if (override !== undefined) {
        return (...args: unknown[]): TemplatedApp => {
          (override as (app: TemplatedApp, ...rest: unknown[]) => void)(target, ...args);
          return view;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') {
        return value;
      }
      return (...args: unknown[]): unknown => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        return result === target ? view : result;
      };
    },
  });
  return view;
}
