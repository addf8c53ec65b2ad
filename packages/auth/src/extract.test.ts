import { describe, expect, it } from 'vitest';
import { extractToken } from './extract.js';

describe('extractToken', () => {
  it('precedence: auth.token, then the Authorization header, then the token query parameter', () => {
    const all = { auth: { token: 'A' }, authorization: 'Bearer H', query: 'token=Q' };
    expect(extractToken(all)).toEqual({ token: 'A', from: 'auth' });
    expect(extractToken({ ...all, auth: undefined })).toEqual({ token: 'H', from: 'header' });
    expect(extractToken({ query: 'token=Q' })).toEqual({ token: 'Q', from: 'query' });
    expect(extractToken({})).toBeUndefined();
  });

  it('tolerates Bearer / bearer prefixes and whitespace everywhere', () => {
    expect(extractToken({ auth: { token: 'Bearer abc' } })).toEqual({ token: 'abc', from: 'auth' });
    expect(extractToken({ auth: { token: '  bearer   abc  ' } })).toEqual({ token: 'abc', from: 'auth' });
    expect(extractToken({ authorization: 'bearer abc' })).toEqual({ token: 'abc', from: 'header' });
    expect(extractToken({ authorization: '  BEARER\tabc ' })).toEqual({ token: 'abc', from: 'header' });
    expect(extractToken({ query: 'token=Bearer%20abc' })).toEqual({ token: 'abc', from: 'query' });
  });

  it('an empty value counts as missing and the next place is tried', () => {
    expect(extractToken({ auth: { token: '' }, authorization: 'Bearer H' })).toEqual({ token: 'H', from: 'header' });
    expect(extractToken({ auth: { token: 'Bearer ' }, authorization: 'Bearer   ', query: '?token=Q' })).toEqual({
      token: 'Q',
      from: 'query',
    });
    expect(extractToken({ auth: { token: '   ' }, authorization: '', query: 'token=' })).toBeUndefined();
  });

  it('ignores auth that is not an object with a string token', () => {
    for (const auth of [null, 'abc', 42, { token: 42 }, { token: { value: 'x' } }, {}]) {
      expect(extractToken({ auth, query: 'token=Q' })).toEqual({ token: 'Q', from: 'query' });
    }
  });

  it('ignores another Authorization scheme but accepts a bare token', () => {
    expect(extractToken({ authorization: 'Basic dXNlcjpwYXNz', query: 'token=Q' })).toEqual({ token: 'Q', from: 'query' });
    expect(extractToken({ authorization: 'eyJ.x.y' })).toEqual({ token: 'eyJ.x.y', from: 'header' });
  });

  it('reads the query from a query string, a path with a query, or URLSearchParams', () => {
    expect(extractToken({ query: '?EIO=4&transport=websocket&token=abc' })).toEqual({ token: 'abc', from: 'query' });
    expect(extractToken({ query: '/socket.io/?EIO=4&token=abc' })).toEqual({ token: 'abc', from: 'query' });
    expect(extractToken({ query: new URLSearchParams({ token: 'abc' }) })).toEqual({ token: 'abc', from: 'query' });
    expect(extractToken({ query: 'access_token=abc' })).toBeUndefined();
  });
});
