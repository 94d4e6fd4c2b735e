/**
 * One owner per metric name: core's catalog (src/metrics/names.ts) spells every metric name; the `src` of every
 * other package, and of the rest of core, takes names from it. Three spellings are refused outside the catalog:
 * a string with a `networkobservability_` name in it, an `adv_*` family name of the catalog, and a literal `name`
 * handed to a metrics module's `counter`, `gauge` or `histogram` (a third-party plugin may do that; ours do not).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ADVANCED_FAMILY_NAMES } from '../src/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGES = join(HERE, '..', '..');
const CATALOG_DIR = join(PACKAGES, 'core', 'src', 'metrics');
const PREFIXED = /(^|[^a-z0-9_])(controlplane_)?networkobservability_[a-z0-9_]*/;
/** Files without any of these cannot spell a name; the others are parsed. */
const SUSPECT = /networkobservability_|adv_|\.(counter|gauge|histogram)\(/;
const ADVANCED = new Set<string>(Object.values(ADVANCED_FAMILY_NAMES));
const REGISTER = new Set(['counter', 'gauge', 'histogram']);

/** Every .ts file under each package's `src` (catalog folder excluded). */
function sourceFiles(): string[] {
  const out: string[] = [];
  for (const pkg of readdirSync(PACKAGES, { withFileTypes: true })) {
    if (!pkg.isDirectory()) continue;
    const src = join(PACKAGES, pkg.name, 'src');
    let entries: string[];
    try {
      entries = readdirSync(src, { recursive: true }) as string[];
    } catch {
      continue;
    }
    for (const rel of entries) {
      const file = join(src, rel);
      if (!/\.(ts|mts|tsx)$/.test(rel) || rel.endsWith('.d.ts') || rel.split(sep).includes('node_modules')) continue;
      if (file.startsWith(CATALOG_DIR + sep)) continue;
      out.push(file);
    }
  }
  return out.sort();
}

/** Where `text` spells a metric name, as `file:line: text`. */
export function metricNameLiterals(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const report = (node: ts.Node, value: string): void => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    found.push(`${relative(PACKAGES, file)}:${line}: ${value}`);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      const value = node.text;
      if (PREFIXED.test(value) || ADVANCED.has(value)) report(node, value);
    }
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const arg = node.arguments[0];
      if (REGISTER.has(node.expression.name.text) && arg && ts.isObjectLiteralExpression(arg)) {
        for (const prop of arg.properties) {
          if (
            ts.isPropertyAssignment(prop) &&
            prop.name.getText(source) === 'name' &&
            ts.isStringLiteralLike(prop.initializer)
          ) {
            report(prop.initializer, `name: ${prop.initializer.text}`);
          }
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('metric names', () => {
  it('are spelled only in core/src/metrics', () => {
    const files = sourceFiles();
    // The scan reaches every package (a wrong root would find nothing and pass).
    expect(files.some((f) => f.includes(`${sep}plugin-dns${sep}src${sep}`))).toBe(true);
    expect(files.some((f) => f.includes(`${sep}kubernetes${sep}src${sep}`))).toBe(true);
    const found = files.flatMap((f) => {
      const text = readFileSync(f, 'utf8');
      return SUSPECT.test(text) ? metricNameLiterals(f, text) : [];
    });
    expect(found).toEqual([]);
  });

  it('finds each kind of spelling (and not a name in a comment)', () => {
    const text = [
      "const a = 'networkobservability_drop_count';",
      'const b = `controlplane_networkobservability_${x}_total`;',
      "const c = { family: 'adv_forward_count' };",
      "metrics.counter({ name: 'acme_total', help: 'h' });",
      "metrics.gauge({ name: NAMES.x, help: 'fine' });",
      '// networkobservability_in_a_comment is fine',
    ].join('\n');
    expect(metricNameLiterals(join(PACKAGES, 'x', 'src', 'y.ts'), text)).toEqual([
      'x/src/y.ts:1: networkobservability_drop_count',
      'x/src/y.ts:2: controlplane_networkobservability_',
      'x/src/y.ts:3: adv_forward_count',
      'x/src/y.ts:4: name: acme_total',
    ]);
  });
});
