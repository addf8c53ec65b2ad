import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { signalTopicDeclaration, strategyTopicDeclaration } from '@gw/topics';
import { TopicContract, declarationProblems, schemasOf } from './topic-schemas.js';

describe('TopicContract', () => {
  const contract = new TopicContract({
    'demo.*': z.object({ n: z.number() }),
    'demo.status': z.object({ ok: z.boolean() }),
    'demo.deep.*': (topic) => (topic.endsWith('.x') ? z.object({ x: z.string() }) : undefined),
  });

  it('files a topic under its exact pattern first, else under the longest matching prefix', () => {
    expect(contract.patternOf('demo.status')).toBe('demo.status');
    expect(contract.patternOf('demo.deep.a.x')).toBe('demo.deep.*');
    expect(contract.patternOf('demo.other')).toBe('demo.*');
    expect(contract.patternOf('demo')).toBeUndefined();
    expect(contract.patternOf('other.x')).toBeUndefined();
  });

  it('checks the payload (as JSON) against the schema of its pattern, or the schema the pattern picks for the topic', () => {
    expect(contract.check('demo.a', '{"n":1}')).toBeUndefined();
    expect(contract.check('demo.status', '{"ok":true}')).toBeUndefined();
    expect(contract.check('demo.status', '{"n":1}')).toBe(
      'published on "demo.status" a payload its schema refuses: ✖ Invalid input: expected boolean, received undefined → at ok (payload {"n":1})',
    );
    expect(contract.check('demo.deep.a.x', '{"x":"y"}')).toBeUndefined();
    expect(contract.check('demo.deep.a.y', '{"x":"y"}')).toBe('published on "demo.deep.a.y" (under "demo.deep.*"), a topic its schema does not define');
    expect(contract.check('elsewhere', '{}')).toBe('published on "elsewhere", outside its declared topics');
    // NaN does not survive JSON: what a Redis subscriber parses is null.
    expect(contract.check('demo.a', JSON.stringify({ n: NaN }))).toMatch(/expected number, received null/);
  });

  it('shortens long payloads in its messages', () => {
    const problem = contract.check('demo.a', JSON.stringify({ n: 'x'.repeat(500) }));
    expect(problem).toMatch(/… \(508 characters\)\)$/);
    expect(problem!.length).toBeLessThan(400);
  });
});

describe('declarationProblems', () => {
  it('accepts patterns declared once with a kind they may use, and names every mismatch', () => {
    const schema = z.object({});
    expect(declarationProblems([{ kind: 'data', pattern: 'a.*', schema }, { kind: 'data', pattern: 'b', schema }])).toEqual([]);
    expect(declarationProblems([])).toEqual(['declares no topics: `topics` lists the patterns it publishes on']);
    expect(
      declarationProblems([{ kind: 'data', pattern: 'a.*', schema }, { kind: 'data', pattern: '~x', schema }], { 'a.*': schema, c: schema }),
    ).toEqual([
      'declares "~x", which is not a topic pattern (an exact topic, or a prefix ending in *)',
      'declares "~x" but the fixture gives no payload schema for it',
      'the fixture gives a schema for "c", which the source does not declare',
    ]);
    expect(declarationProblems([{ kind: 'trading', pattern: 'account.*', schema }, { kind: 'quotes', pattern: 'stock.bars.1m.*', schema }])).toEqual([
      'declares "account.*" as trading: trading topics start with trading.',
      'declares "stock.bars.1m.*" as quotes: quotes are stock.universe, stock.quote.* or stock.quote.<code>',
    ]);
  });
});

describe('declared schemas', () => {
  const contract = new TopicContract(schemasOf([signalTopicDeclaration('my-signals'), strategyTopicDeclaration('my_strategy')]));
  const signal = { type: 'buy', content: { symbol: 'BTCUSDT', price: 1, timestamp: 1 } };

  it('hold a signal producer to its declared name and a strategy to its own buy list', () => {
    expect(contract.check('signals', JSON.stringify({ ...signal, source: 'my-signals' }))).toBeUndefined();
    expect(contract.check('signals', JSON.stringify({ ...signal, source: 'crypto-signals' }))).toMatch(/a payload its schema refuses: .*expected "my-signals" → at source/);
    const list = { updated_ms: 1, stocks: [] };
    expect(contract.check('stock.buylist.my_strategy', JSON.stringify({ ...list, strategy: 'my_strategy' }))).toBeUndefined();
    expect(contract.check('stock.buylist.my_strategy', JSON.stringify({ ...list, strategy: 'volume_wave' }))).toMatch(/expected "my_strategy" → at strategy/);
  });
});
