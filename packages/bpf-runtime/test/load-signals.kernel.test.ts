/**
 * Loading while signals arrive: a CPU profiler interrupts the process every 50 µs, and a program whose verification
 * takes about 100 ms still loads (the kernel answers EAGAIN to a load interrupted by a signal).
 */
import { execFileSync } from 'node:child_process';
import { describeKernel } from '@retina-ts/testkit';
import { expect, it } from 'vitest';
import { addonMissing, fixture } from './helpers.js';
import { scratchDir } from './scratch.js';

const profiles = scratchDir('retina-bpf-prof-');

const CHILD = `
import { BpfObject } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
const obj = BpfObject.open(${JSON.stringify(fixture('slow_verify'))});
try {
  obj.load();
  console.log('loaded');
} catch (err) {
  console.log('failed ' + (err.code ?? err.message));
} finally {
  obj.close();
}
`;

describeKernel(
  'BpfObject.load under a profiler',
  () => {
    it('loads a slowly verified program while SIGPROF arrives every 50 µs', () => {
      const results: string[] = [];
      for (let i = 0; i < 3; i++) {
        const out = execFileSync(
          process.execPath,
          ['--cpu-prof', '--cpu-prof-dir', profiles, '--cpu-prof-interval', '50', '--input-type=module', '-e', CHILD],
          { encoding: 'utf8' },
        );
        results.push(out.trim());
      }
      expect(results).toEqual(['loaded', 'loaded', 'loaded']);
    });
  },
  { requires: addonMissing },
);
