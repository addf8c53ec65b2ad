/** Where a token was found; logged and counted, never the token itself. */
export type TokenPlace = 'auth' | 'header' | 'query';

export interface TokenInput {
  /** Socket.IO `handshake.auth` (client-controlled, hence unknown): its `token` string is used. */
  auth?: unknown;
  /** The `Authorization` header of the HTTP or upgrade request. */
  authorization?: string | undefined;
  /** The request's query: a query string (with or without `?`), a URL/path with a query, or parsed params. */
  query?: string | URLSearchParams | undefined;
}

export interface ExtractedToken {
  token: string;
  from: TokenPlace;
}

// A lone "Bearer" (an empty value after the prefix) is stripped too, so it counts as missing.
const bearerPrefix = /^bearer(?:\s+|$)/i;

/** Trims, drops a `Bearer ` prefix (any case), trims again; an empty result counts as no token. */
function clean(value: unknown): string | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  const token = value.trim().replace(bearerPrefix, '').trim();
  return token.length > 0 ? token : undefined;
}

function fromAuth(auth: unknown): string | undefined {
  if (typeof auth !== 'object' || auth === null) {
    return undefined;
  }
  return clean((auth as { token?: unknown }).token);
}

function fromHeader(authorization: string | undefined): string | undefined {
  if (authorization === undefined) {
    return undefined;
  }
  const value = authorization.trim();
  // Another scheme (`Basic ...`, e.g. added by a proxy) is not ours: fall through to the query parameter.
  // A bare value without any scheme is tolerated as a token, as some clients send it that way.
  if (!bearerPrefix.test(value) && /\s/.test(value)) {
    return undefined;
  }
  return clean(value);
}

function fromQuery(query: string | URLSearchParams | undefined): string | undefined {
  if (query === undefined) {
    return undefined;
  }
  let params = query;
  if (typeof params === 'string') {
    const mark = params.indexOf('?');
    params = new URLSearchParams(mark === -1 ? params : params.slice(mark + 1));
  }
  return clean(params.get('token'));
}

/**
 * Finds the client's token. Places, in order of precedence: Socket.IO `auth.token`, then the
 * `Authorization: Bearer <token>` header, then the `token` query parameter. In each place a `Bearer ` /
 * `bearer ` prefix and surrounding whitespace are tolerated, and an empty value counts as missing (the next
 * place is tried). Returns undefined when no place holds a token; the caller rejects with reason `missing`.
 * Nothing is validated here: that is the verifier's job.
 */
export function extractToken(input: TokenInput): ExtractedToken | undefined {
  const auth = fromAuth(input.auth);
  if (auth !== undefined) {
    return { token: auth, from: 'auth' };
  }
  const header = fromHeader(input.authorization);
  if (header !== undefined) {
    return { token: header, from: 'header' };
  }
  const query = fromQuery(input.query);
  if (query !== undefined) {
    return { token: query, from: 'query' };
  }
  return undefined;
}
