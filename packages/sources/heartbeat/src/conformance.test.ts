import { z } from 'zod';
import { runSourceConformance } from '@gw/source-testing';
import { heartbeatSource, heartbeatTopic } from './index.js';

/** The payload of `system.heartbeat` (the `Heartbeat` interface, as a schema). */
const heartbeatSchema = z.object({
  runId: z.uuid(),
  seq: z.number().int().positive(),
  at: z.number().int().positive(),
});

runSourceConformance('heartbeat', () => ({
  source: heartbeatSource,
  env: { HEARTBEAT_INTERVAL_MS: '50' },
  schemas: { [heartbeatTopic]: heartbeatSchema },
}));
