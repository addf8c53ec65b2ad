import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import type { AsyncAPIDocumentInterface, MessageInterface } from '@asyncapi/parser';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as signals from '@gw/adapter-signals';
import * as socketio from '@gw/adapter-socketio';
import * as stock from '@gw/adapter-stock';

const documentPath = resolve(dirname(fileURLToPath(import.meta.url)), '../../../docs/asyncapi/gateway.yaml');

/**
 * The gateway's zod schema for each message of the document (by its id under `components.messages`). `null`
 * marks a message the adapters export no schema for, with the reason: the list the test expects is exact, so a
 * new message needs a schema here or a deliberate entry.
 */
const serverSchemas: Record<string, z.ZodType | { none: string }> = {
  signal: signals.signalFrameSchema,
  signalRecovery: signals.recoveryFrameSchema,
  signalError: signals.errorFrameSchema,
  signalTestCommand: { none: 'a plain text frame, "test"; the adapter compares the text' },
  stockConnected: stock.connectedFrameSchema,
  stockSubscribe: stock.subscriptionRequestSchema.refine((request) => request.type === 'subscribe'),
  stockUnsubscribe: stock.subscriptionRequestSchema.refine((request) => request.type === 'unsubscribe'),
  stockPing: stock.pingSchema,
  stockSubscribed: stock.subscribedFrameSchema,
  stockUnsubscribed: stock.unsubscribedFrameSchema,
  stockPong: stock.pongFrameSchema,
  stockPriceUpdate: stock.priceUpdateFrameSchema,
  stockError: stock.errorFrameSchema,
  // In-band token refresh: the same frames on the signal and stock price channels (the connection pipeline
  // writes them for both; the stock adapter exports their schemas).
  wsRefreshToken: stock.refreshTokenFrameSchema,
  wsTokenRefreshed: stock.tokenRefreshedFrameSchema,
  wsTokenExpiring: stock.tokenExpiringFrameSchema,
  tradingConnected: socketio.connectedSchema,
  tradingConnectError: { none: '@gw/adapter-socketio exports the ConnectError type, not a schema' },
  subscribeTrading: socketio.subscriptionRequestSchema,
  unsubscribeTrading: socketio.subscriptionRequestSchema,
  // The adapter reads `refresh_token` as `{token}` (or a bare string); the documented form is the object.
  refreshToken: z.object({ token: z.string() }),
  tradingTokenRefreshed: socketio.tokenRefreshedSchema,
  tradingTokenExpiring: socketio.tokenExpiringSchema,
  tradingSubscribed: socketio.subscribedSchema,
  tradingUnsubscribed: socketio.unsubscribedSchema,
  tradingRequestFailed: socketio.requestFailedSchema,
  balanceUpdate: socketio.pushSchemas.balance_update,
  positionsUpdate: socketio.pushSchemas.positions_update,
  pnlUpdate: socketio.pushSchemas.pnl_update,
  ordersUpdate: socketio.pushSchemas.orders_update,
  tradingError: socketio.errorEventSchema,
};

function examplesOf(message: MessageInterface): { name: string; payload: unknown }[] {
  return message.examples().all().map((example, i) => ({ name: example.name() ?? `#${i}`, payload: example.payload() }));
}

describe('docs/asyncapi/gateway.yaml', () => {
  let document: AsyncAPIDocumentInterface;
  let messages: MessageInterface[];

  beforeAll(async () => {
    const text = await readFile(documentPath, 'utf8');
    const { document: parsed, diagnostics } = await new Parser().parse(text, { source: documentPath });
    // Information (such as "3.1.0 exists") is fine; errors and warnings are not.
    const blocking = new Set<number>([DiagnosticSeverity.Error, DiagnosticSeverity.Warning]);
    const problems = diagnostics
      .filter((d) => blocking.has(d.severity)).map((d) => `${d.code} at ${d.path.join('.')}: ${d.message}`);
    expect(problems).toEqual([]);
    expect(parsed).toBeDefined();
    document = parsed!;
    messages = document.components().messages().all();
  });

  it('is a valid AsyncAPI 3.0 document describing the three protocols on their paths', () => {
    expect(document.version()).toBe('3.0.0');
    expect(document.channels().all().map((channel) => channel.address()).sort()).toEqual(['/', '/socket.io/', '/ws/signals', '/ws/stock/prices']);
    expect(document.servers().all().map((server) => server.protocol()).sort()).toEqual(['ws', 'wss']);
    // Every operation's messages belong to its channel (the parser resolves both).
    for (const operation of document.operations().all()) {
      const channelMessages = new Set<unknown>(
        operation.channels().all().flatMap((channel) => channel.messages().all().map((m): unknown => m.json())),
      );
      for (const message of operation.messages().all()) {
        expect(channelMessages.has(message.json()), `${operation.id()}: ${message.id()}`).toBe(true);
      }
    }
  });

  it('gives every message at least one example, each valid against the message payload schema in the document', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    for (const message of messages) {
      const examples = examplesOf(message);
      expect(examples.length, message.id()).toBeGreaterThan(0);
      const validate = ajv.compile(message.payload()?.json() ?? {});
      for (const example of examples) {
        const valid = validate(example.payload);
        expect(valid ? [] : validate.errors, `${message.id()} example ${example.name}`).toEqual([]);
      }
    }
  });

  it("has examples that the gateway's own zod schemas accept unchanged (no field the server does not know)", () => {
    expect(messages.map((m) => m.id()).sort()).toEqual(Object.keys(serverSchemas).sort());
    const withoutSchema: string[] = [];
    for (const message of messages) {
      const schema = serverSchemas[message.id()]!;
      if ('none' in schema) {
        withoutSchema.push(message.id());
        continue;
      }
      for (const example of examplesOf(message)) {
        const parsed = schema.safeParse(example.payload);
        expect(parsed.error?.issues ?? [], `${message.id()} example ${example.name}`).toEqual([]);
        // zod drops keys it does not know: a misspelled field would disappear here.
        expect(parsed.data, `${message.id()} example ${example.name}`).toEqual(example.payload);
      }
    }
    expect(withoutSchema.sort()).toEqual(['signalTestCommand', 'tradingConnectError']);
    const test = messages.find((m) => m.id() === 'signalTestCommand')!;
    expect(examplesOf(test).map((e) => e.payload)).toEqual(['test']);
  });

  it('names the Socket.IO events as the adapter does', () => {
    const trading = document.channels().all().find((channel) => channel.address() === '/socket.io/')!;
    const names = new Set(trading.messages().all().map((m) => m.name()));
    for (const event of [...socketio.inboundEvents, ...Object.keys(socketio.pushSchemas), 'connected', 'subscribed', 'unsubscribed', 'error', 'token_refreshed', 'token_expiring']) {
      expect(names.has(event), event).toBe(true);
    }
  });
});
