// The package boundaries of DESIGN.md, enforced by @nx/enforce-module-boundaries on the tags in each package.json:
// the root ESLint config is run on sources placed (virtually) inside real packages, so a wrong-way import must
// produce the rule's error and a right-way import must not.
import { createProjectGraphAsync } from '@nx/devkit';
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const RULE = '@nx/enforce-module-boundaries';

let eslint: ESLint;

beforeAll(async () => {
  // The rule reads Nx's cached project graph and silently skips itself when there is none: make sure it exists.
  process.env.NX_DAEMON = 'false';
  await createProjectGraphAsync({ exitOnError: false });
  eslint = new ESLint({ cwd: root });
});

/** Boundary errors for `source` linted as if it were the file `file` (relative to the repository root). */
async function boundaryErrors(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: `${root}${file}` });
  return (result?.messages ?? []).filter((m) => m.ruleId === RULE).map((m) => m.message);
}

const use = (pkg: string) => `import * as m from '${pkg}';\nexport const used = m;\n`;

// A wrong-way import of a package that already depends back on the importer is reported as the cycle it would close;
// the others as the tag constraint they break. Either way it is this rule's error.
const TAGS = /A project tagged with "[^"]+" can (only|not) depend on libs tagged with/;
const CYCLE = /^Circular dependency between/;

describe('wrong-way imports fail lint', () => {
  it.each([
    ['core imports native code', 'packages/core/src/wrong-way.ts', '@retina-ts/bpf-runtime', TAGS],
    ['core imports hubble', 'packages/core/src/wrong-way.ts', '@retina-ts/hubble', CYCLE],
    ['core imports a plugin', 'packages/core/src/wrong-way.ts', '@retina-ts/plugin-dns', CYCLE],
    ['core imports the agent', 'packages/core/src/wrong-way.ts', '@retina-ts/agent', CYCLE],
    ['bpf-runtime imports core', 'packages/bpf-runtime/src/wrong-way.ts', '@retina-ts/core', TAGS],
    ['bpf-runtime imports a plugin', 'packages/bpf-runtime/src/wrong-way.ts', '@retina-ts/plugin-dns', CYCLE],
    ['a plugin imports another plugin', 'packages/plugin-dns/src/wrong-way.ts', '@retina-ts/plugin-tcpretrans', TAGS],
    ['a plugin imports hubble', 'packages/plugin-linuxutil/src/wrong-way.ts', '@retina-ts/hubble', TAGS],
    ['a plugin imports kubernetes', 'packages/plugin-dns/src/wrong-way.ts', '@retina-ts/kubernetes', TAGS],
    ['a plugin imports the agent', 'packages/plugin-packetparser/src/wrong-way.ts', '@retina-ts/agent', CYCLE],
    ['the agent imports a plugin', 'packages/agent/src/wrong-way.ts', '@retina-ts/plugin-dropreason', TAGS],
    ['the operator imports a plugin', 'packages/operator/src/wrong-way.ts', '@retina-ts/plugin-dns', TAGS],
  ])('%s', async (_what, file, imported, message) => {
    const errors = await boundaryErrors(file, use(imported));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });
});

describe('right-way imports pass lint', () => {
  it.each([
    ['a plugin imports core', 'packages/plugin-dns/src/right-way.ts', '@retina-ts/core'],
    ['a plugin imports bpf-runtime', 'packages/plugin-tcpretrans/src/right-way.ts', '@retina-ts/bpf-runtime'],
    ['the OTLP exporter imports hubble', 'packages/exporter-otlp/src/right-way.ts', '@retina-ts/hubble'],
    ['the operator imports capture', 'packages/operator/src/right-way.ts', '@retina-ts/capture'],
    ['the command imports the agent', 'packages/agent-cli/src/right-way.ts', '@retina-ts/agent'],
    ['the agent imports core', 'packages/agent/src/right-way.ts', '@retina-ts/core'],
    ['hubble imports core', 'packages/hubble/src/right-way.ts', '@retina-ts/core'],
  ])('%s', async (_what, file, imported) => {
    expect(await boundaryErrors(file, use(imported))).toEqual([]);
  });

  it('tests may use the private test kit', async () => {
    expect(await boundaryErrors('packages/plugin-dns/test/right-way.test.ts', use('@retina-ts/testkit'))).toEqual([]);
  });
});
