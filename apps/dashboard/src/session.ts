import { REQUEST_TIMEOUT_MS } from './api.js';
import type { JsonReply } from './api.js';
import { parseObject } from './wire.js';

/** Where the admin token is kept: this tab's session only (closing the tab forgets it; other tabs never see it). */
const STORAGE_KEY = 'gateway-console-admin-token';

export function storedAdminToken(): string | undefined {
  const token = window.sessionStorage.getItem(STORAGE_KEY);
  return token === null || token === '' ? undefined : token;
}

export function storeAdminToken(token: string | undefined): void {
  if (token === undefined) {
    window.sessionStorage.removeItem(STORAGE_KEY);
  } else {
    window.sessionStorage.setItem(STORAGE_KEY, token);
  }
}

/**
 * `GET path` of an admin route, with `Authorization: Bearer <token>` when the console has one (without
 * ADMIN_TOKEN the gateway answers admin routes from this machine with no token). Rejects only when the
 * gateway cannot be reached.
 */
export async function getAdminJson(path: string, token: string | undefined): Promise<JsonReply> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== undefined) {
    headers['authorization'] = `Bearer ${token}`;
  }
  const response = await fetch(path, { cache: 'no-store', headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: response.status, body: parseObject(await response.text()) };
}
