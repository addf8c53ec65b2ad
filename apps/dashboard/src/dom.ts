/** The few DOM helpers the panels share. */

/** The element with `id`, checked to be of `type`: a page/markup mismatch fails loudly at startup. */
export function byId<T extends HTMLElement>(id: string, type: abstract new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) {
    throw new Error(`#${id} is missing from the page or is not a ${type.name}`);
  }
  return element;
}

export interface ElementProps {
  class?: string;
  text?: string;
  title?: string;
  /** `data-*` attributes, for styling and for tests. */
  data?: Record<string, string>;
}

/** `h('td', {class: 'num', text: '12'})`: an element with text content only (never HTML). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: ElementProps = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class !== undefined) {
    element.className = props.class;
  }
  if (props.text !== undefined) {
    element.textContent = props.text;
  }
  if (props.title !== undefined) {
    element.title = props.title;
  }
  for (const [key, value] of Object.entries(props.data ?? {})) {
    element.dataset[key] = value;
  }
  element.append(...children);
  return element;
}

/** `ws://` or `wss://` URL of `path` on the page's own host, with query parameters (undefined ones left out). */
export function webSocketUrl(path: string, params: Record<string, string | undefined> = {}): string {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== '') {
      url.searchParams.set(key, value);
    }
  }
  return url.href;
}
