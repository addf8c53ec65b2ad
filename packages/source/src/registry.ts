import type { ConfigSection } from '@gw/config';
import { GatewayError } from '@gw/core';
import type { DataSource } from './types.js';

/** The sources a process can run, by name. Apps build one from the source packages they depend on. */
export class SourceRegistry {
  readonly #sources = new Map<string, DataSource>();

  constructor(sources: readonly DataSource[] = []) {
    for (const source of sources) {
      this.register(source);
    }
  }

  register<S extends ConfigSection>(source: DataSource<S>): void {
    if (this.#sources.has(source.name)) {
      throw new GatewayError('config_invalid', { message: `source "${source.name}" is registered twice` });
    }
    this.#sources.set(source.name, source);
  }

  names(): string[] {
    return [...this.#sources.keys()];
  }

  all(): DataSource[] {
    return [...this.#sources.values()];
  }

  /** The named sources, in order; an unknown name fails with the list of known ones. */
  resolve(names: readonly string[]): DataSource[] {
    return names.map((name) => {
      const source = this.#sources.get(name);
      if (source === undefined) {
        throw new GatewayError('config_invalid', {
          message: `source "${name}": unknown (known sources: ${this.names().join(', ') || 'none'})`,
        });
      }
      return source;
    });
  }
}
