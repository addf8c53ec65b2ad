import { createRequire } from 'node:module';
import uWS from 'uWebSockets.js';
import { GatewayError } from '@gw/core';

/** What uWebSockets.js build this process runs, logged at startup. */
export interface UwsBuild {
  /** true when the native addon loaded; false when the package fell back to its pure-JS implementation. */
  native: boolean;
  /** The npm package that provides `uWebSockets.js` and its version. */
  packageName: string;
  packageVersion: string;
  /** The addon file this platform loads (`uws_linux_x64_115.node`), whether or not it loaded. */
  binary: string;
}

/**
 * The package silently falls back to a slow pure-JS server when its native addon does not load (wrong Node ABI,
 * wrong glibc) or when UWS_USE_FALLBACK is set. The native App is a C++ function, so its source text is
 * `[native code]`; the fallback's is JavaScript.
 */
export function describeUwsBuild(): UwsBuild {
  const require = createRequire(import.meta.url);
  const pkg = require('uWebSockets.js/package.json') as { name: string; version: string };
  return {
    native: Function.prototype.toString.call(uWS.App).includes('[native code]'),
    packageName: pkg.name,
    packageVersion: pkg.version,
    binary: `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`,
  };
}

/** Throws `uws_fallback` unless the native build is loaded or the fallback is explicitly allowed. */
export function assertNativeUws(build: UwsBuild, allowFallback: boolean): void {
  if (!build.native && !allowFallback) {
    throw new GatewayError('uws_fallback', {
      message:
        `uWebSockets.js native addon ${build.binary} did not load (${build.packageName}@${build.packageVersion} ` +
        'fell back to its pure-JS implementation). Refusing to start: set UWS_ALLOW_FALLBACK=true to run on it anyway.',
    });
  }
}

export { uWS };
