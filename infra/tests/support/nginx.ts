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
