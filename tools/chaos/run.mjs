#!/usr/bin/env node
// Chaos runner: starts the real agent under each probe in probes/*.mjs and prints a table of what each probe expected
// and what it observed. A probe module's default export is one probe `{ name, expected, run(ctx) }` or an array of
// them; run() resolves to `{ observed, ok }`. Every probe is bounded in time, and its processes, namespaces and files
// are released when it ends, however it ends.
//
//   node tools/chaos/run.mjs [--only name,prefix*] [--list] [--json] [--timeout-ms 60000]
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { ProbeContext } from './lib.mjs';

const PROBES = join(dirname(fileURLToPath(import.meta.url)), 'probes');

/** Every probe of probes/*.mjs, in file order. */
export async function loadProbes() {
  const out = [];
  for (const file of readdirSync(PROBES)
    .filter((f) => f.endsWith('.mjs'))
    .sort()) {
    const mod = await import(pathToFileURL(join(PROBES, file)).href);
    for (const p of [mod.default].flat()) {
      if (!p || typeof p.name !== 'string' || typeof p.expected !== 'string' || typeof p.run !== 'function') {
        throw new Error(`${file}: a probe needs { name, expected, run(ctx) }`);
      }
      out.push(p);
    }
  }
  return out;
}

/** Whether `name` matches one of the --only patterns (`*` at the end matches a prefix). */
export function selected(name, patterns) {
  if (patterns.length === 0) return true;
  return patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

/** Runs one probe with its own context and a time bound; never throws. */
export async function runProbe(probe, timeoutMs) {
  const ctx = new ProbeContext(probe.name);
  let timer;
  try {
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no result within ${timeoutMs} ms`)), timeoutMs);
    });
    const r = await Promise.race([probe.run(ctx), timeout]);
    return {
      name: probe.name,
      expected: probe.expected,
      observed: String(r.observed),
      verdict: r.ok ? 'ok' : 'DIFFERS',
    };
  } catch (err) {
    return {
      name: probe.name,
      expected: probe.expected,
      observed: `error: ${err.message}`,
      verdict: 'ERROR',
    };
  } finally {
    clearTimeout(timer);
    await ctx.close();
  }
}

/** The results as a plain-text table, long cells wrapped. */
export function formatTable(rows) {
  const cols = [
    ['probe', 'name', 24],
    ['expected', 'expected', 48],
    ['observed', 'observed', 60],
    ['verdict', 'verdict', 7],
  ];
  const wrap = (text, width) => {
    const lines = [];
    for (const word of String(text).split(' ')) {
      const last = lines.at(-1);
      if (last !== undefined && last.length + 1 + word.length <= width)
        lines[lines.length - 1] = `${last} ${word}`;
      else lines.push(word);
    }
    return lines.length ? lines : [''];
  };
  const widths = cols.map(([title, key, max]) =>
    Math.min(max, Math.max(title.length, ...rows.map((r) => String(r[key]).length))),
  );
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join(' | ');
  const out = [line(cols.map(([t]) => t)), widths.map((w) => '-'.repeat(w)).join('-|-')];
  for (const r of rows) {
    const wrapped = cols.map(([, key], i) => wrap(r[key], widths[i]));
    const height = Math.max(...wrapped.map((w) => w.length));
    for (let k = 0; k < height; k++) out.push(line(wrapped.map((w) => w[k] ?? '')));
  }
  return out.join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', default: '' },
      list: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'timeout-ms': { type: 'string', default: '60000' },
    },
  });
  const timeoutMs = Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    console.error(`--timeout-ms: expected a positive integer of milliseconds, got '${values['timeout-ms']}'`);
    return 2;
  }
  const patterns = values.only.split(',').filter(Boolean);
  const probes = (await loadProbes()).filter((p) => selected(p.name, patterns));
  if (values.list) {
    for (const p of probes) console.log(`${p.name}: ${p.expected}`);
    return 0;
  }
  if (probes.length === 0) {
    console.error(`no probe matches --only ${values.only}`);
    return 2;
  }
  const rows = [];
  for (const p of probes) {
    if (!values.json) process.stderr.write(`running ${p.name}...\n`);
    rows.push(await runProbe(p, timeoutMs));
  }
  console.log(values.json ? JSON.stringify(rows, null, 2) : formatTable(rows));
  return rows.every((r) => r.verdict === 'ok') ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main();
}
