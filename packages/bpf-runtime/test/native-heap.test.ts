/**
 * trimNativeHeap in a child process of its own: native buffers freed below a live one stay resident until the
 * trim gives their pages back.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The built package: the child is plain Node, without the test transform.
const entry = new URL('../dist/index.js', import.meta.url).href;
const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
  ?.glibcVersionRuntime;

const CHILD = `
import { trimNativeHeap } from ${JSON.stringify(entry)};
import { readFileSync } from 'node:fs';
const anonKb = () => Number(/^RssAnon:\\s+(\\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
// 64 KiB is under glibc's mmap threshold: these come from an arena, and a live buffer after them keeps the
// arena's top from shrinking by itself when they are freed.
let held = Array.from({ length: 640 }, () => Buffer.allocUnsafeSlow(64 * 1024).fill(1));
const pin = Buffer.allocUnsafeSlow(1024).fill(2);
held = undefined;
globalThis.gc();
globalThis.gc();
const before = anonKb();
const released = trimNativeHeap();
const after = anonKb();
console.log(JSON.stringify({ before, after, released, pinned: pin.length }));
`;

describe('trimNativeHeap', () => {
  it.runIf(process.platform === 'linux' && glibc !== undefined)('returns freed arena pages to the system', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD], {
      encoding: 'utf8',
    });
    const r = JSON.parse(out) as { before: number; after: number; released: boolean };
    expect(r.released).toBe(true);
    // 40 MiB were freed; most of it must leave the resident set (page granularity and arena headers keep a little).
    expect(r.before - r.after).toBeGreaterThan(30 * 1024);
  });
});
