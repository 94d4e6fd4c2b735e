/**
 * The config schema on both ends of the zod range core declares: the lowest version the range admits (installed as
 * `zod-floor`) and the version the workspace resolves `zod` to, which the lockfile keeps at the newest release. A
 * user's install resolves the range to its newest version, so both ends must behave the same.
 */
import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import * as floor from 'zod-floor';
import * as locked from 'zod';

const require = createRequire(import.meta.url);
const range = (require('../package.json') as { dependencies: Record<string, string> }).dependencies['zod'] as string;
const versionOf = (m: typeof locked): string => {
  const v = m.z.core.version;
  return `${v.major}.${v.minor}.${v.patch}`;
};

/** Loads the config modules afresh with `zod` resolved to the given module. */
async function coreWith(zod: typeof locked) {
  vi.resetModules();
  vi.doMock('zod', () => zod);
  try {
    return await import('../src/index.js');
  } finally {
    vi.doUnmock('zod');
  }
}

const ends: Array<[string, typeof locked]> = [
  ['the lowest version of the range', floor as unknown as typeof locked],
  ['the locked (newest) version', locked],
];

describe('zod versions', () => {
  it('tests the ends of the declared range', () => {
    // A caret range of 4.x: its lowest version is the one it names.
    expect(range).toMatch(/^\^4\.\d+\.\d+$/);
    expect(versionOf(floor as unknown as typeof locked)).toBe(range.slice(1));
    // 4.4 made a key with a bare `z.unknown().transform()` required; the lock must be past that change.
    expect(locked.z.core.version.major).toBe(4);
    expect(locked.z.core.version.minor).toBeGreaterThanOrEqual(4);
  });

  for (const [what, zod] of ends) {
    describe(what, () => {
      it('applies the defaults of missing and empty keys', async () => {
        const core = await coreWith(zod);
        const { config } = core.parseConfig({ enableTCX: null, apiServer: {} }, { platform: 'linux' });
        expect(config.logLevel).toBe('info');
        expect(config.enableTCX).toBe('auto');
        expect(config.apiServer).toEqual({ host: '0.0.0.0', port: 10093 });
        expect(config.enabledPlugin).toBeUndefined();
        expect(config.metricsIntervalMs).toBe(10_000);
      });

      it('reports bad values with the key', async () => {
        const core = await coreWith(zod);
        expect(() => core.parseConfig({ logLevel: 'loud', metricsIntervalDuration: '1ns' })).toThrow(
          'config: logLevel: "loud" is not allowed (allowed: trace, debug, info, warn, error, dpanic, panic, fatal, silent)\n' +
            'config: metricsIntervalDuration: "1ns" is out of range (allowed: 1s to 24h0m0s, or 0 for the default)',
        );
      });

      it('builds a test context with default options', async () => {
        vi.resetModules();
        vi.doMock('zod', () => zod);
        try {
          const { createTestContext } = await import('../src/testing.js');
          const t = createTestContext({ name: 'example' });
          expect(t.ctx.config.logLevel).toBeDefined();
        } finally {
          vi.doUnmock('zod');
        }
      });
    });
  }
});
