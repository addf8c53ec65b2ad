import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TopicContract, declarationProblems } from './topic-schemas.js';

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
  it('accepts patterns that each have a schema, and names every mismatch', () => {
    const schema = z.object({});
    expect(declarationProblems(['a.*', 'b'], { 'a.*': schema, b: schema })).toEqual([]);
    expect(declarationProblems([], {})).toEqual(['declares no topics: `topics` lists the patterns it publishes on']);
    expect(declarationProblems(['a.*', '~x'], { 'a.*': schema, c: schema })).toEqual([
      'declares "~x", which is not a topic pattern (an exact topic, or a prefix ending in *)',
      'declares "~x" but the fixture gives no payload schema for it',
      'the fixture gives a schema for "c", which the source does not declare',
    ]);
  });
});
