/**
 * The modules of src/ import each other without a cycle (a cycle makes the order in which ES modules initialise
 * depend on which file is imported first). Imports are read with TypeScript's own pre-processor; type-only imports
 * count too, since they tie the files together just the same for a reader of the code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src/', import.meta.url));

/** Local imports of every module of src/, by module name (`map` for src/map.ts). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of readdirSync(src).filter((f) => f.endsWith('.ts'))) {
    const info = ts.preProcessFile(readFileSync(src + file, 'utf8'), true, true);
    const local = info.importedFiles
      .map((f) => /^\.\/([\w-]+)\.js$/.exec(f.fileName)?.[1])
      .filter((name): name is string => name !== undefined);
    graph.set(file.slice(0, -3), local);
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as the list of modules around it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

describe('imports inside src/', () => {
  it('form no cycle', () => {
    const graph = importGraph();
    expect(graph.get('map')).toContain('struct');
    expect(cycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('the check finds a cycle when there is one', () => {
    const graph = new Map([
      ['map', ['struct']],
      ['struct', ['ringbuf']],
      ['ringbuf', ['reader']],
      ['reader', ['map']],
    ]);
    expect(cycles(graph).map((c) => c.join(' -> '))).toEqual(['map -> struct -> ringbuf -> reader -> map']);
  });
});
