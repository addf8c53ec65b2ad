// The cluster views reveal node ids and load and make every node answer a gather: admin only, while the
// node-local views stay public as the legacy services had them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../testing/gateway.js';
import { httpGet } from '../testing/http.js';
import { ADMIN_TOKEN, startSignalsGateway } from '../protocols/signals/fixture.js';

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startSignalsGateway({});
});

afterAll(async () => {
  await gateway.shutdown();
});

const get = (path: string, authorization?: string) =>
  httpGet(`${gateway.httpUrl}${path}`, authorization === undefined ? {} : { headers: { authorization } });

describe('cluster views require the admin token', () => {
  for (const path of ['/api/cluster/nodes', '/api/websocket/stats?scope=cluster', '/api/websocket/clients?scope=cluster']) {
    it(`${path}: 401 without the token or with a wrong one, 200 with it`, async () => {
      // Two failures per path: six in all from this address, under the per-address limit of failed attempts.
      for (const authorization of [undefined, 'Bearer not-the-admin-token']) {
        const refused = await get(path, authorization);
        expect(refused.status, String(authorization)).toBe(401);
        expect(refused.json()).toMatchObject({ code: 401, error: 'unauthorized' });
        expect(refused.body).not.toContain(gateway.nodeId);
      }
      const allowed = await get(path, `Bearer ${ADMIN_TOKEN}`);
      expect(allowed.status).toBe(200);
      expect(allowed.body).toContain(gateway.nodeId);
    });
  }

  it('the node-local stats stay public', async () => {
    const local = await get('/api/websocket/stats');
    expect(local.status).toBe(200);
    expect(local.json()).toMatchObject({ code: 200, data: expect.any(Object) as object });
    expect((local.json() as { data: Record<string, unknown> }).data['scope']).toBeUndefined();
  });
});
