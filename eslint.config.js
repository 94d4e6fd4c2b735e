// One lint config for the workspace. Package boundaries from DESIGN.md are enforced here by Nx project tags (the
// `nx.tags` of each package.json), so a wrong-way import fails `nx run-many -t lint` instead of being caught in review.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/build/**', '**/node_modules/**', '**/.nx/**', '**/out-tsc/**', '**/*.d.ts'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Only shipped sources: tests may use the private test kits and fixtures of other packages.
    files: ['packages/*/src/**/*.ts', 'packages/*/src/**/*.tsx'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          depConstraints: [
            {
              // core is the contract: it never imports plugins, the agent, hubble or native code.
              sourceTag: 'scope:core',
              notDependOnLibsWithTags: ['type:plugin', 'type:app', 'scope:hubble', 'scope:runtime'],
            },
            // bpf-runtime knows nothing of plugins, flows or the agent.
            { sourceTag: 'scope:runtime', onlyDependOnLibsWithTags: ['scope:runtime'] },
            // A plugin depends only on @retina-ts/core and @retina-ts/bpf-runtime.
            { sourceTag: 'type:plugin', onlyDependOnLibsWithTags: ['scope:core', 'scope:runtime'] },
            // The agent (and every other program) reaches plugins only through discovery. A list of what it may
            // import rather than a ban on plugins: a ban also follows the agent's test-only edges to plugins.
            {
              sourceTag: 'type:app',
              onlyDependOnLibsWithTags: ['scope:core', 'scope:runtime', 'scope:hubble', 'type:lib', 'type:app'],
            },
            { sourceTag: '*', onlyDependOnLibsWithTags: ['*'] },
          ],
        },
      ],
    },
  },
);
