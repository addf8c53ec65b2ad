// Container health check of the gateway and worker images (the slim image has no curl):
//   node healthcheck.mjs gateway   GET /api/health on the first port of PORT (default 8080), https when TLS_CERT_FILE is set
//   node healthcheck.mjs worker    GET /api/health on METRICS_PORT (default 9464)
// Exit 0 when the answer is 200 within the timeout, 1 otherwise, with one line saying why (docker inspect shows it).
// Plain JavaScript on purpose: it runs every few seconds and must start fast, without tsx.
import http from 'node:http';
import https from 'node:https';

const TIMEOUT_MS = 2500;

/** The URL of the liveness route of this container's process, from the same variables the process reads. */
function healthUrl(role, env) {
  if (role === 'gateway') {
    const port = (env.PORT ?? '8080').split(',')[0].trim() || '8080';
    const scheme = env.TLS_CERT_FILE ? 'https' : 'http';
    return `${scheme}://127.0.0.1:${port}/api/health`;
  }
  if (role === 'worker') {
    return `http://127.0.0.1:${env.METRICS_PORT || '9464'}/api/health`;
  }
  throw new Error(`unknown role "${role}": expected gateway or worker`);
}

/** Resolves to the HTTP status of GET url; rejects on a network error or after TIMEOUT_MS. */
function statusOf(url) {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    // The certificate is for the public name, not 127.0.0.1: liveness is about the process, not the chain.
    const request = client.get(url, { timeout: TIMEOUT_MS, rejectUnauthorized: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    request.on('error', reject);
  });
}

async function main() {
  const url = healthUrl(process.argv[2] ?? 'gateway', process.env);
  const status = await statusOf(url);
  if (status !== 200) {
    throw new Error(`${url} answered ${status}`);
  }
  console.log(`healthy: ${url}`);
}

main().catch((error) => {
  console.log(`unhealthy: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
