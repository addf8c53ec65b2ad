import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactQuery } from './index.js';
import { resolveLogFormat } from './logger.js';

function capture(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  const logger = createLogger({ level: 'info', destination: stream });
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logger', () => {
  it('writes one JSON line per event with level, time and message', () => {
    const { logger, lines } = capture();
    logger.child({ protocol: 'signals', client_id: 'c1' }).info({ user_id: 4 }, 'client connected');
    const [line] = lines();
    expect(line).toMatchObject({ level: 'info', msg: 'client connected', protocol: 'signals', client_id: 'c1', user_id: 4 });
    expect(typeof line!['time']).toBe('string');
  });

  it('never writes tokens, authorization headers or secrets', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        token: 'tok-1',
        auth: { token: 'tok-2' },
        headers: { authorization: 'Bearer tok-3', host: 'example' },
        req: { headers: { authorization: 'Bearer tok-4' } },
        account: { apiKey: 'key-5', secret: 'sec-6' },
      },
      'handshake',
    );
    const text = JSON.stringify(lines());
    for (const leaked of ['tok-1', 'tok-2', 'tok-3', 'tok-4', 'key-5', 'sec-6']) {
      expect(text).not.toContain(leaked);
    }
    expect(text).toContain('example');
    expect(text).toContain('[redacted]');
  });

  it('redacts token query parameters', () => {
    expect(redactQuery('/ws/signals?symbols=BTCUSDT&token=abc.def.ghi&since=1')).toBe(
      '/ws/signals?symbols=BTCUSDT&token=[redacted]&since=1',
    );
    expect(redactQuery('token=abc')).toBe('token=[redacted]');
  });

  it('picks pretty lines for a terminal and JSON otherwise; an explicit format wins', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('writes JSON to a destination that is not a terminal by default', () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    createLogger({ destination: stream }).info({ port: 8080 }, 'gateway listening');
    expect(JSON.parse(chunks.join(''))).toMatchObject({ level: 'info', port: 8080, msg: 'gateway listening' });
  });

  it('pretty format writes one readable line per event, without color off a terminal, still redacted', () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    const logger = createLogger({ destination: stream, format: 'pretty', name: 'gateway' });
    logger.info({ ports: [8080], token: 'tok-7' }, 'gateway listening');
    logger.warn('bus disconnected');
    const lines = chunks.join('').split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(gateway\): gateway listening \{"ports":\[8080\],"token":"\[redacted\]"\}$/);
    expect(lines[1]).toMatch(/^\[[\d:.]+\] WARN \(gateway\): bus disconnected$/);
    expect(chunks.join('')).not.toContain('\u001b[');
  });
});
