import { defineConfig } from 'vite';

/** The gateway the dev server (`pnpm --filter @gw/dashboard dev`) sends API and WebSocket requests to. */
const gateway = process.env['GATEWAY_URL'] ?? 'http://127.0.0.1:8080';

export default defineConfig({
  // Relative asset URLs: the built page works at whatever path the gateway serves it.
  base: './',
  build: {
    target: 'es2022',
    // Every modern browser has module preload; no polyfill in the bundle.
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      '/api': gateway,
      '/ws': { target: gateway, ws: true },
    },
  },
});
