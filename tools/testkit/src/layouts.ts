// Layout tests of plugin packages: the structs their decoders declare, checked against the BTF clang wrote into
// their compiled BPF object, plus broken copies of each declaration that must be reported, so the check cannot
// pass by reporting nothing. The checker (bpf-runtime's objectLayoutMismatches) is passed in because
// bpf-runtime's own tests use this kit, which therefore cannot depend on it.
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** What the checks read of a declared layout; bpf-runtime's StructLayout has it. */
export interface LayoutShape {
  readonly size: number;
  readonly fields: readonly { readonly name: string; readonly offset: number; readonly size: number }[];
}

/** Differences between the struct `name` in the object's BTF and `layout`, one sentence each (none: they agree). */
export type LayoutChecker<L extends LayoutShape> = (objectPath: string, name: string, layout: L) => string[];

/** One test of describeLayouts(): its title and its body (throws on failure). */
export interface LayoutCase {
  readonly title: string;
  run(): void;
}

function expectOneProblemNaming(problems: readonly string[], subject: string): void {
  expect(problems, `exactly one difference, about ${subject}`).toHaveLength(1);
  expect(problems[0]).toContain(subject);
}

/**
 * The tests describeLayouts() registers, for running them by other means: per struct, one that its declaration
 * matches and three that a declaration which lost its last field, moved it by a byte, or got the wrong size is
 * reported (each with exactly one difference naming the field or struct); per object, one that a struct it
 * does not have is reported.
 */
export function layoutCases<L extends LayoutShape>(
  object: string | URL,
  layouts: Readonly<Record<string, L>>,
  check: LayoutChecker<L>,
): LayoutCase[] {
  const objectPath = typeof object === 'string' ? object : fileURLToPath(object);
  const names = Object.keys(layouts);
  if (names.length === 0) throw new TypeError('describeLayouts: no layouts given');
  const cases: LayoutCase[] = [];
  for (const name of names) {
    const layout = layouts[name]!;
    const last = layout.fields.at(-1);
    if (!last) throw new TypeError(`describeLayouts: layout '${name}' has no fields`);
    // Copies with one thing changed; the checker reads only size and fields, the rest is the original's.
    const variant = (changes: Partial<LayoutShape>): L => ({ ...layout, ...changes });
    cases.push(
      {
        title: `struct ${name} matches its declaration`,
        run: () => expect(check(objectPath, name, layout)).toEqual([]),
      },
      {
        title: `reports a declaration of ${name} without its last field`,
        run: () =>
          expectOneProblemNaming(
            check(objectPath, name, variant({ fields: layout.fields.slice(0, -1) })),
            `${name}.${last.name}`,
          ),
      },
      {
        title: `reports a declaration of ${name} with a field one byte off`,
        run: () => {
          const moved = [...layout.fields.slice(0, -1), { ...last, offset: last.offset + 1 }];
          expectOneProblemNaming(check(objectPath, name, variant({ fields: moved })), `${name}.${last.name}`);
        },
      },
      {
        title: `reports a declaration of ${name} with the wrong size`,
        run: () =>
          expectOneProblemNaming(
            check(objectPath, name, variant({ size: layout.size + 8 })),
            `struct ${name}`,
          ),
      },
    );
  }
  const absent = `${names[0]}_absent`;
  cases.push({
    title: 'reports a struct the object does not have',
    run: () => expectOneProblemNaming(check(objectPath, absent, layouts[names[0]!]!), absent),
  });
  return cases;
}

/**
 * A describe() block checking each layout of `layouts` (struct name → declaration) against the BTF of the BPF
 * object at `object` with `check`, and that broken declarations are reported (see layoutCases()).
 *
 * ```ts
 * describeLayouts(new URL('../dist/bpf/dns.bpf.o', import.meta.url), { rts_dns_event: RTS_DNS_EVENT }, objectLayoutMismatches);
 * ```
 */
export function describeLayouts<L extends LayoutShape>(
  object: string | URL,
  layouts: Readonly<Record<string, L>>,
  check: LayoutChecker<L>,
): void {
  const objectPath = typeof object === 'string' ? object : fileURLToPath(object);
  describe(`layouts against the BTF of ${basename(objectPath)}`, () => {
    for (const c of layoutCases(objectPath, layouts, check)) it(c.title, () => c.run());
  });
}
