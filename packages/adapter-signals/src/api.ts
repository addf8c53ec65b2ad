import { GatewayError } from '@gw/core';
import { apiSignalProducer, signalHistoryOptions, signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import { parseJsonBody, route } from '@gw/uws';
import type { AdapterDeps } from '@gw/connections';
import type { SignalsAdapterConfig } from './config.js';
import { publishSignalBodySchema } from './schema.js';
import type { SignalFrame } from './schema.js';

/**
 * `POST /api/signals` (admin): validates the body with zod, appends the signal to the bus history (which also
 * publishes it live to every gateway node) and answers 201 with the signal as clients receive it, id included.
 */
export function registerPublishRoute(deps: AdapterDeps, config: SignalsAdapterConfig): void {
  route(
    deps.app,
    deps,
    'post',
    '/api/signals',
    async (request) => {
      const parsed = publishSignalBodySchema.safeParse(parseJsonBody(request));
      if (!parsed.success) {
        const fields = parsed.error.issues.map((issue) => ({
          field: issue.path.join('.') || '(body)',
          message: issue.message,
        }));
        throw new GatewayError('bad_request', {
          message: `invalid signal: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`,
          details: { fields },
        });
      }
      const body = parsed.data;
      const signal: Signal = {
        type: body.type,
        content: {
          symbol: body.content.symbol,
          price: body.content.price,
          timestamp: body.content.timestamp ?? Math.floor(Date.now() / 1000),
        },
        source: apiSignalProducer,
      };
      // Delivery latency runs from the request's arrival: reading, parsing and validating it are part of it.
      const envelope = await deps.bus.append(signalsTopic, signal, { ...signalHistoryOptions(config), publishedAt: request.receivedAt });
      deps.metrics.busMessagePublished('history');
      const published: SignalFrame = { type: signal.type, content: signal.content, is_test: false, id: envelope.id };
      return { status: 201, body: published };
    },
    { body: true, maxBodyBytes: 16_384, admin: true },
  );
}
