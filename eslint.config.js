// One lint config for the workspace. Package boundaries from DESIGN.md are enforced here, so a wrong-way import
// fails `nx run-many -t lint` instead of being caught in review.
import tseslint from 'typescript-eslint';

const restrict = (patterns, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }],
});

export default tseslint.config(
  { ignores: ['**/dist/**', '**/build/**', '**/node_modules/**', '**/.nx/**', '**/*.d.ts'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['packages/core/src/**/*.ts'],
    rules: restrict(
      ['@retina-ts/plugin-*', '@retina-ts/agent', '@retina-ts/agent/*', '@retina-ts/bpf-runtime', '@retina-ts/hubble'],
      'core is the contract: it never imports plugins, the agent, hubble or native code.',
    ),
  },
  {
    files: ['packages/bpf-runtime/src/**/*.ts'],
    rules: restrict(['@retina-ts/*'], 'bpf-runtime knows nothing of plugins, flows or the agent.'),
  },
  {
    files: ['packages/plugin-*/src/**/*.ts'],
    rules: restrict(
      ['@retina-ts/agent', '@retina-ts/agent/*', '@retina-ts/plugin-*'],
      'a plugin depends only on @retina-ts/core and @retina-ts/bpf-runtime.',
    ),
  },
  {
    files: ['packages/agent/src/**/*.ts'],
    rules: restrict(['@retina-ts/plugin-*'], 'the agent reaches plugins only through discovery.'),
  },
);
