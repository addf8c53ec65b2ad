import { afterEach, describe, expect, it } from 'vitest';
import { TestRedisServer, startTestSource, stopTestSources } from '@gw/source-testing';
import { heartbeatSchema, heartbeatSource, heartbeatTopic } from './index.js';

describe('heartbeat source on Redis', () => {
  let redis: TestRedisServer | undefined;
  afterEach(async () => {
    await stopTestSources();
    await redis?.stop();
    redis = undefined;
  });

  it('beats again at once when Redis comes back empty, not at its next interval', async () => {
    const server = (redis = await TestRedisServer.start());
    startTestSource(heartbeatSource, { HEARTBEAT_INTERVAL_MS: '60000' }, await server.bus());
    const beat = async (): Promise<unknown> => (await server.latest([heartbeatTopic]))[0];
    await expect.poll(beat).toMatchObject({ seq: 1 });

    await server.restart();
    const restartedAt = Date.now();
    await expect.poll(beat, { timeout: 5_000, interval: 20 }).toBeDefined();
    expect(Date.now() - restartedAt).toBeLessThan(5_000);
    const after = heartbeatSchema.parse(await beat());
    expect(after.seq).toBeGreaterThanOrEqual(2);
    expect(after.at).toBeGreaterThanOrEqual(restartedAt - 1_000);
  });
});
