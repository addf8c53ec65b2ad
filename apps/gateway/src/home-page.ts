/**
 * The page at `GET /` until the live dashboard replaces it: what this gateway is and where its endpoints are.
 * Self-contained (no CDN): the gateway must work without internet.
 */
export function homePage(info: { nodeId: string; protocols: readonly string[] }): string {
  const escape = (s: string): string =>
    s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
  const protocols = info.protocols.length === 0 ? 'none attached' : info.protocols.map(escape).join(', ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Realtime gateway</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f2f2f2;padding:0 .25rem}td{padding:.15rem .6rem .15rem 0}</style></head>
<body><h1>Realtime gateway</h1>
<p>Node <code>${escape(info.nodeId)}</code>. Protocols attached: ${protocols}.</p>
<table>
<tr><td><code>/socket.io/</code></td><td>Socket.IO trading data</td></tr>
<tr><td><code>/ws/stock/prices</code></td><td>stock prices (JSON WebSocket)</td></tr>
<tr><td><code>/</code>, <code>/ws/signals</code></td><td>signal broadcast (WebSocket upgrade)</td></tr>
<tr><td><a href="/api/health"><code>/api/health</code></a></td><td>liveness</td></tr>
<tr><td><a href="/api/ready"><code>/api/ready</code></a></td><td>readiness</td></tr>
<tr><td><a href="/metrics"><code>/metrics</code></a></td><td>Prometheus metrics</td></tr>
</table></body></html>
`;
}
