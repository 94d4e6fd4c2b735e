// The tsup settings every package builds with: ESM for Node 20 with source maps and bundled type declarations.
import { defineConfig, type Options } from 'tsup';

/** One package's tsup config: the shared settings plus its own entries and extras. */
export function packageBuild(options: Options & { entry: NonNullable<Options['entry']> }): Options {
  const dts = options.dts ?? true;
  return {
    format: ['esm'],
    sourcemap: true,
    // dist/bpf holds kernel objects the package's build-bpf target compiled before tsup runs.
    clean: ['!bpf/**'],
    target: 'node20',
    ...options,
    // The package tsconfig is a composite project for `tsc --build` (typecheck); tsup's declaration bundler
    // compiles a single program, which composite's file-list rule would reject.
    dts:
      dts === false
        ? false
        : { ...(typeof dts === 'object' ? dts : typeof dts === 'string' ? { entry: dts } : {}), compilerOptions: { composite: false } },
  };
}

/** A tsup config file's default export for a package with one set of entries. */
export const definePackage = (options: Parameters<typeof packageBuild>[0]) => defineConfig(packageBuild(options));
