import { describe, expect, it } from 'vitest';
import { histogramSeries, parseExposition } from './exposition.js';

// The metric tests trust this parser to reject malformed text, so its strictness is tested here.
describe('parseExposition', () => {
  it('reads help and label escapes, special values and timestamps', () => {
    const families = parseExposition(
      [
        '# HELP a_total x \\\\ y\\nz',
        '# TYPE a_total counter',
        'a_total{l="q\\"\\\\\\nw",m="",} 1 1700000000000',
        '# TYPE b gauge',
        'b Nan',
        'b{x="1"} +Inf',
        'b{x="2"} -1.5e-3',
        '',
      ].join('\n'),
    );
    const a = families.get('a_total')!;
    expect(a).toMatchObject({ type: 'counter', help: 'x \\ y\nz' });
    expect(a.samples).toEqual([{ name: 'a_total', labels: { l: 'q"\\\nw', m: '' }, value: 1 }]);
    const b = families.get('b')!.samples.map((s) => s.value);
    expect(b[0]).toBeNaN();
    expect(b.slice(1)).toEqual([Number.POSITIVE_INFINITY, -0.0015]);
  });

  it.each([
    ['a sample before any TYPE', 'x 1'],
    ['a sample of another family', '# TYPE x counter\ny 1'],
    ['a histogram sample name on a counter', '# TYPE x counter\nx_bucket{le="1"} 1'],
    ['a bad escape', '# TYPE x gauge\nx{a="\\t"} 1'],
    ['an unterminated label value', '# TYPE x gauge\nx{a="1} 1'],
    ['a bad label name', '# TYPE x gauge\nx{1a="1"} 1'],
    ['a duplicate series', '# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2'],
    ['a bad value', '# TYPE x gauge\nx 1,5'],
    ['a second TYPE after samples', '# TYPE x gauge\nx 1\n# TYPE x gauge'],
    ['an unknown type', '# TYPE x meter'],
  ])('rejects %s', (_, text) => {
    expect(() => parseExposition(text)).toThrow();
  });
});

describe('histogramSeries', () => {
  const histogram = (lines: string[]) =>
    histogramSeries(parseExposition(['# TYPE h histogram', ...lines].join('\n')).get('h')!);

  it('groups the series by their labels without le', () => {
    const series = histogram([
      'h_bucket{le="0.1",p="a"} 1',
      'h_bucket{le="+Inf",p="a"} 2',
      'h_sum{p="a"} 0.6',
      'h_count{p="a"} 2',
      'h_bucket{le="0.1",p="b"} 0',
      'h_bucket{le="+Inf",p="b"} 0',
      'h_sum{p="b"} 0',
      'h_count{p="b"} 0',
    ]);
    expect(series).toEqual([
      { labels: { p: 'a' }, buckets: new Map([[0.1, 1], [Number.POSITIVE_INFINITY, 2]]), sum: 0.6, count: 2 },
      { labels: { p: 'b' }, buckets: new Map([[0.1, 0], [Number.POSITIVE_INFINITY, 0]]), sum: 0, count: 0 },
    ]);
  });

  it('rejects buckets that are not cumulative, and a +Inf bucket unequal to the count', () => {
    expect(() => histogram(['h_bucket{le="0.1"} 2', 'h_bucket{le="+Inf"} 1', 'h_sum 1', 'h_count 1'])).toThrow();
    expect(() => histogram(['h_bucket{le="0.1"} 1', 'h_bucket{le="+Inf"} 1', 'h_sum 1', 'h_count 2'])).toThrow();
  });
});
