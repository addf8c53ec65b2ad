/** Where a started gateway can be reached, for the first lines of its log. */
export interface EndpointLinesInput {
  /** `https` when TLS files are configured. */
  scheme: 'http' | 'https';
  /** The bound address (`HOST`). */
  host: string;
  /** Every port of `PORT`; each serves every route. */
  ports: readonly number[];
  /** Whether `ADMIN_TOKEN` is set (the console and admin routes then ask for it; otherwise loopback only). */
  adminTokenSet: boolean;
}

/** The host part of a URL to a process bound on `host`: a wildcard address is reached on localhost; IPv6 goes in brackets. */
function hostOf(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') {
    return 'localhost';
  }
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The lines a person at the terminal needs after a start: the console, each protocol's endpoint, the probes and
 * the metrics, as URLs that work from this host. With several ports, every route is on each of them; the
 * endpoints are shown on the first.
 */
export function gatewayEndpointLines(input: EndpointLinesInput): string[] {
  const bases = input.ports.map((port) => `${input.scheme}://${hostOf(input.host)}:${String(port)}`);
  const [base] = bases;
  if (base === undefined) {
    return [];
  }
  const ws = base.replace(/^http/, 'ws');
  const access = input.adminTokenSet ? 'sign in with ADMIN_TOKEN' : 'ADMIN_TOKEN unset: from this host only';
  return [
    ...(bases.length > 1 ? [`serving every route on ${bases.join(', ')}`] : []),
    `console: ${base}/ (${access})`,
    `trading (Socket.IO): ${base}/socket.io/`,
    `stock prices (WebSocket): ${ws}/ws/stock/prices`,
    `signals (WebSocket): ${ws}/ws/signals and ${ws}/`,
    `health: ${base}/api/health · readiness: ${base}/api/ready · metrics: ${base}/metrics`,
  ];
}
