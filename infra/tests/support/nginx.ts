import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INFRA_DIR } from './processes.js';

/** Debian installs nginx in /usr/sbin, which is not on every user's PATH. */
export const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

/**
 * The deployment kit's infra/nginx/nginx.conf with its compose names pointed at two local gateways: nginx
 * resolves upstream hosts when it loads the config, and a test listens on a free loopback port instead of 80 and
 * logs into its scratch folder. Each replacement must match exactly as often as expected, so a changed config
 * fails here instead of being tested half-substituted.
 */
export function nginxTestConfig(scratch: string, listenPort: number, upstreams: readonly [number, number]): string {
  let text = readFileSync(`${INFRA_DIR}nginx/nginx.conf`, 'utf8');
  const replace = (from: string, to: string, times: number): void => {
    const count = text.split(from).length - 1;
    if (count !== times) {
      throw new Error(`nginx.conf: expected "${from}" ${times} times, found ${count}`);
    }
    text = text.replaceAll(from, to);
  };
  replace('listen 80;', `listen 127.0.0.1:${listenPort};`, 1);
  replace('access_log /var/log/nginx/access.log;', `access_log ${join(scratch, 'access.log')};`, 1);
  replace('server gateway-1:8080', `server 127.0.0.1:${upstreams[0]}`, 2);
  replace('server gateway-2:8080', `server 127.0.0.1:${upstreams[1]}`, 2);
  return text;
}

/** What {@link nginxClusterConfig} may change besides the upstreams. */
export interface NginxClusterOptions {
  /**
   * Connections per nginx worker (the kit's 8192 by default). Each proxied client holds two: its own and the one
   * to its gateway. Raised for load runs; the worker's open-file limit is raised with it.
   */
  workerConnections?: number;
}

/**
 * The kit's nginx.conf in front of any number (two or more) of local gateways: the first takes gateway-1's place,
 * the others are added next to gateway-2's line in both upstreams, with the same `max_fails` and `fail_timeout`.
 * Every other line is the kit's, so a test through it tests the shipped configuration.
 */
export function nginxClusterConfig(scratch: string, listenPort: number, upstreams: readonly number[], options: NginxClusterOptions = {}): string {
  const [first, secondPort, ...others] = upstreams;
  if (first === undefined || secondPort === undefined) {
    throw new Error('nginxClusterConfig: at least two upstream ports');
  }
  let text = nginxTestConfig(scratch, listenPort, [first, secondPort]);
  const line = (port: number): string => `server 127.0.0.1:${port} max_fails=3 fail_timeout=10s;`;
  const second = line(secondPort);
  if (text.split(second).length - 1 !== 2) {
    throw new Error(`nginx.conf: expected "${second}" in both upstreams`);
  }
  text = text.replaceAll(second, [secondPort, ...others].map(line).join('\n    '));
  if (options.workerConnections !== undefined) {
    const from = 'worker_connections 8192;';
    if (text.split(from).length - 1 !== 1) {
      throw new Error(`nginx.conf: expected "${from}" once`);
    }
    text = text
      .replace(from, `worker_connections ${options.workerConnections};`)
      .replace('events {', `worker_rlimit_nofile ${options.workerConnections + 512};\n\nevents {`);
  }
  return text;
}

/** Arguments that keep nginx's runtime files in `scratch` and nginx in the foreground (a child the test can stop). */
export function nginxArgs(scratch: string, configFile: string): string[] {
  return ['-c', configFile, '-p', scratch, '-g', `pid ${join(scratch, 'nginx.pid')}; daemon off;`];
}
