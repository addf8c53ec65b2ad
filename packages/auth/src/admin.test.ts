import { describe, expect, it } from 'vitest';
import { checkAdminToken } from './admin.js';

describe('checkAdminToken', () => {
  it('is open when no ADMIN_TOKEN is configured', () => {
    expect(checkAdminToken(undefined, undefined)).toBe(true);
    expect(checkAdminToken('Bearer anything', undefined)).toBe(true);
    expect(checkAdminToken(undefined, '')).toBe(true);
  });

  it('requires Authorization: Bearer <ADMIN_TOKEN>', () => {
    const admin = 'adm-7f3c';
    expect(checkAdminToken('Bearer adm-7f3c', admin)).toBe(true);
    expect(checkAdminToken('bearer  adm-7f3c ', admin)).toBe(true);
    expect(checkAdminToken(undefined, admin)).toBe(false);
    expect(checkAdminToken('', admin)).toBe(false);
    expect(checkAdminToken('Bearer ', admin)).toBe(false);
    expect(checkAdminToken('adm-7f3c', admin)).toBe(false);
    expect(checkAdminToken('Basic adm-7f3c', admin)).toBe(false);
    expect(checkAdminToken('Bearer adm-7f3', admin)).toBe(false);
    expect(checkAdminToken('Bearer adm-7f3cc', admin)).toBe(false);
    expect(checkAdminToken('Bearer ADM-7F3C', admin)).toBe(false);
  });
});
