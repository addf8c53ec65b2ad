import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { sourceNames } from './names.js';
import { registrationEdits, runtimePackageFile, runtimeSourcesFile } from './register.js';
import { renderTemplate, sourceKinds, templateDir } from './template.js';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const roots: string[] = [];

afterEach(() => {
  for (const root of roots.splice(0)) {
    rmSync(root, { recursive: true, force: true });
  }
});

/** A temporary root holding copies of the two runtime files the registration edits. */
function copyOfRuntime(): string {
  const root = mkdtempSync(join(tmpdir(), 'gw-register-'));
  roots.push(root);
  for (const file of [runtimeSourcesFile, runtimePackageFile]) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    cpSync(join(repositoryRoot, file), join(root, file));
  }
  return root;
}

describe('registrationEdits', () => {
  it('adds the import and the registry entry at the markers of the real runtime files, and the dependency', () => {
    const root = copyOfRuntime();
    const [sources, manifest] = registrationEdits(root, sourceNames('okx-tickers'));
    expect(sources?.path).toBe(runtimeSourcesFile);
    const added = sources!.after.split('\n').filter((line) => !sources!.before.split('\n').includes(line));
    expect(added).toEqual(["import { okxTickersSource } from '@gw/source-okx-tickers';", '    okxTickersSource,']);
    expect(sources!.after.indexOf('okxTickersSource,')).toBeGreaterThan(sources!.after.indexOf('builtInSources'));
    const before = JSON.parse(manifest!.before) as { dependencies: Record<string, string> };
    const after = JSON.parse(manifest!.after) as { dependencies: Record<string, string> };
    expect(after.dependencies).toEqual({ ...before.dependencies, '@gw/source-okx-tickers': 'workspace:*' });
    expect(manifest!.after.endsWith('}\n')).toBe(true);
  });

  it('refuses a source registered already, and says which marker is missing', () => {
    const root = copyOfRuntime();
    expect(() => registrationEdits(root, sourceNames('heartbeat'))).toThrow('packages/runtime/src/sources.ts already imports @gw/source-heartbeat');
    const file = join(root, runtimeSourcesFile);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/.*new:source inserts each generated source.*\n/, ''));
    expect(() => registrationEdits(root, sourceNames('okx-tickers'))).toThrow(
      'packages/runtime/src/sources.ts: the marker comment "// new:source inserts each generated source above this line" is missing',
    );
  });
});

describe('renderTemplate', () => {
  it.each(sourceKinds)('fills every placeholder of the %s template', (kind) => {
    const files = renderTemplate(sourceNames('okx-tickers'), kind);
    expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(['package.json', 'src/source.ts', 'src/topics.ts', 'src/publish.ts', 'src/source.test.ts']));
    expect(files.map((f) => f.path).includes('src/client.test.ts')).toBe(kind !== 'data');
    expect(files.every((f) => !f.content.includes('{{'))).toBe(true);
    // A trading source reads the users clients watch (bus interest), not configured keys.
    const config = files.find((f) => f.path === 'src/config.ts')?.content;
    expect(config).toContain("OKX_TICKERS_INTERVAL_MS: 'intervalMs'");
    expect(config?.includes("OKX_TICKERS_KEYS: 'keys'")).toBe(kind !== 'trading');
  });

  it('lets a kind replace a common file, and refuses an unknown placeholder', () => {

    const dir = mkdtempSync(join(tmpdir(), 'gw-template-'));
    roots.push(dir);
    mkdirSync(join(dir, 'common'));
    mkdirSync(join(dir, 'signals'));
    writeFileSync(join(dir, 'common/a.ts.tmpl'), 'export const {{camelName}} = "common";\n');
    writeFileSync(join(dir, 'common/b.ts.tmpl'), 'export const kind = "{{kind}}";\n');
    writeFileSync(join(dir, 'signals/a.ts.tmpl'), 'export const {{camelName}} = "{{snake_name}}";\n');
    expect(renderTemplate(sourceNames('okx-tickers'), 'signals', dir)).toEqual([
      { path: 'a.ts', content: 'export const okxTickers = "okx_tickers";\n' },
      { path: 'b.ts', content: 'export const kind = "signals";\n' },
    ]);
    expect(renderTemplate(sourceNames('okx-tickers'), 'data', dir)[0]).toEqual({ path: 'a.ts', content: 'export const okxTickers = "common";\n' });
    writeFileSync(join(dir, 'common/a.ts.tmpl'), 'export const {{camelName}} = "{{nmae}}";\n');
    expect(() => renderTemplate(sourceNames('okx-tickers'), 'data', dir)).toThrow('template file a.ts.tmpl: unknown placeholder {{nmae}}');
    expect(templateDir.endsWith('/tools/new-source/template/')).toBe(true);
  });
});
