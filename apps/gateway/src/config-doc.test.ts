import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configurationDoc } from './config-doc.js';

describe('docs/configuration.md', () => {
  it('lists every variable with its current default (regenerate with `pnpm config-doc > docs/configuration.md`)', () => {
    const file = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    expect(file).toBe(configurationDoc());
  });
});
