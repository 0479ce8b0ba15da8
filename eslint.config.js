// Lint: ESLint's recommended rules plus a few type-aware typescript-eslint
// rules that catch real bugs (promises nobody awaits, awaits of non-promises,
// promises passed where a callback's result is ignored, values that print as
// "[object Object]"). Style is prettier's job (`npm run format:check`), and
// the import layers are hack/check-layers.ts's (`npm run layers`).
//
// Left out on purpose, measured on this tree: no-unnecessary-condition (44
// hits, most of them false: a flag set by another async task, a `let` set in
// beforeAll), only-throw-error (the constraint parser throws plain position
// records on purpose), the no-unsafe-* family (JSON bodies in tests), and
// no-non-null-assertion (noUncheckedIndexedAccess makes `!` the honest idiom).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.fog/', '.fleet/', 'tmp/'] },
  js.configs.recommended,
  tseslint.configs.eslintRecommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: globals.node,
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // Promises.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      // Values and types.
      '@typescript-eslint/no-base-to-string': 'error',
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      '@typescript-eslint/no-for-in-array': 'error',
      '@typescript-eslint/no-implied-eval': 'error',
      '@typescript-eslint/no-array-delete': 'error',
      '@typescript-eslint/no-duplicate-type-constituents': 'error',
      // Dead code and imports.
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      'no-unused-expressions': 'off',
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // `== null` is the one loose comparison that is allowed.
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: globals.node },
  },
);
