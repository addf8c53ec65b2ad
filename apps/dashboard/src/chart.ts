import { h } from './dom.js';
import type { Sample } from './history.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 320;
const HEIGHT = 96;
/** Room under the lines for the axis labels. */
const PLOT_HEIGHT = HEIGHT - 14;

export interface ChartSeries {
  readonly key: string;
  readonly label: string;
  /** A CSS colour (a custom property such as `var(--accent)` works). */
  readonly colour: string;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string>, text?: string): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, value);
  }
  if (text !== undefined) {
    element.textContent = text;
  }
  return element;
}

/**
 * A small time-series chart in hand-written SVG: one line per series over the history's window, the y axis
 * from 0 to the largest value shown. Redrawn whole on every sample (a few hundred points at most).
 */
export class LineChart {
  readonly #plot: SVGSVGElement;
  readonly #peak: HTMLElement;
  readonly #series: readonly ChartSeries[];
  readonly #format: (value: number) => string;

  constructor(container: HTMLElement, title: string, series: readonly ChartSeries[], format: (value: number) => string) {
    this.#series = series;
    this.#format = format;
    this.#plot = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': title });
    this.#peak = h('span', { class: 'muted chart-peak' });
    const legend = h(
      'div',
      { class: 'chart-legend' },
      ...series.map((s) => {
        const swatch = h('i', { class: 'swatch' });
        swatch.style.background = s.colour;
        return h('span', {}, swatch, document.createTextNode(s.label));
      }),
    );
    container.append(h('div', { class: 'chart-head' }, h('h3', { text: title }), this.#peak), this.#plot, legend);
  }

  render(samples: readonly Sample[], windowMs: number, nowMs: number): void {
    const start = nowMs - windowMs;
    let peak = 0;
    for (const sample of samples) {
      for (const series of this.#series) {
        peak = Math.max(peak, sample.values.get(series.key) ?? 0);
      }
    }
    const top = peak > 0 ? peak * 1.1 : 1;
    const x = (atMs: number): number => ((atMs - start) / windowMs) * WIDTH;
    const y = (value: number): number => PLOT_HEIGHT - (value / top) * (PLOT_HEIGHT - 2);
    const children: SVGElement[] = [
      svg('line', { x1: '0', y1: String(PLOT_HEIGHT), x2: String(WIDTH), y2: String(PLOT_HEIGHT), class: 'axis' }),
      svg('text', { x: '2', y: String(HEIGHT - 2), class: 'tick' }, `−${Math.round(windowMs / 60_000)} min`),
      svg('text', { x: String(WIDTH - 2), y: String(HEIGHT - 2), class: 'tick', 'text-anchor': 'end' }, 'now'),
    ];
    for (const series of this.#series) {
      // A missing value breaks the line instead of drawing a misleading segment across the gap.
      let run: string[] = [];
      const flush = (): void => {
        if (run.length > 0) {
          const attributes = { points: run.join(' '), fill: 'none', stroke: series.colour, 'stroke-width': '1.5', 'vector-effect': 'non-scaling-stroke' };
          children.push(svg('polyline', attributes));
        }
        run = [];
      };
      for (const sample of samples) {
        const value = sample.values.get(series.key);
        if (value === undefined) {
          flush();
        } else {
          run.push(`${x(sample.atMs).toFixed(1)},${y(value).toFixed(1)}`);
        }
      }
      flush();
    }
    this.#plot.replaceChildren(...children);
    this.#peak.textContent = samples.length === 0 ? '' : `max ${this.#format(peak)}`;
  }
}
