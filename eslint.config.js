// Typed lint rules for the whole workspace (run by `pnpm lint`, part of `pnpm test`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Infrastructure libraries and the only files that may import them. */
const owners = {
  ioredis: ['packages/bus-redis/**'],
  jose: ['packages/auth/**'],
  'uWebSockets.js': ['packages/uws/**'],
  ccxt: ['packages/sources/**'],
  'socket.io': ['packages/adapter-socketio/**'],
};

function restrictedImports(allowed) {
  return {
    paths: Object.keys(owners)
      .filter((library) => library !== allowed)
      .map((name) => ({ name, message: `only ${owners[name].join(', ')} may import ${name}: use its package` })),
    patterns: [{ group: ['@gw/*/src/*'], message: 'Import a package through its entry point.' }],
  };
}

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'docs/**', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      curly: ['error', 'all'],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', restrictedImports()],
    },
  },
  // Each infrastructure library is owned by one package; everyone else goes through that package.
  ...Object.entries(owners).map(([library, files]) => ({
    files,
    rules: { 'no-restricted-imports': ['error', restrictedImports(library)] },
  })),
  {
    // Tests may use non-null assertions on values they have just checked.
    files: ['**/*.test.ts', '**/testing/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
