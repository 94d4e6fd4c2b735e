/**
 * FQDN and node-name patterns of Hubble filters. An FQDN pattern is a whole name where `*` stands for any run of
 * `[-.0-9a-z]`; one trailing dot and letter case are ignored. A node-name pattern is `[cluster/]node`, each part an
 * FQDN pattern, an empty part matching anything.
 */
import { RE2JS } from 're2js';
import { FilterError } from './errors.js';

const NAME_RE = '(?:[-0-9_a-z]+(?:\\.[-0-9_a-z]+)*)';

/** Trims space and one trailing dot and lower-cases, as FQDN patterns and names are compared. */
export function canonicalName(name: string): string {
  let s = name.trim();
  if (s.endsWith('.')) s = s.slice(0, -1);
  return s.toLowerCase();
}

function fqdnPatternSource(pattern: string): string {
  const p = canonicalName(pattern);
  if (p === '') throw new FilterError(`FQDN pattern ${JSON.stringify(pattern)} is empty`);
  if (p.endsWith('.'))
    throw new FilterError(`FQDN pattern ${JSON.stringify(pattern)} has more than one trailing dot`);
  let out = '';
  for (const c of p) {
    if (c === '.') out += '\\.';
    else if (c === '*') out += '[-.0-9a-z]*';
    else if (/[-0-9_a-z]/.test(c)) out += c;
    else
      throw new FilterError(
        `FQDN pattern ${JSON.stringify(pattern)}: invalid character ${JSON.stringify(c)}`,
      );
  }
  return out;
}

/** A matcher for any of the FQDN patterns, applied to canonicalised names. */
export function compileFqdnPatterns(patterns: readonly string[]): (name: string) => boolean {
  // RE2: many `*` in one pattern would make a backtracking engine take polynomial time on a non-matching name.
  const re = RE2JS.compile(`^(?:${patterns.map(fqdnPatternSource).join('|')})$`);
  return (name) => re.test(canonicalName(name));
}

/** A matcher for any of the node-name patterns; flow node names without a cluster are read as `default/<name>`. */
export function compileNodeNamePatterns(patterns: readonly string[]): (nodeName: string) => boolean {
  const sources = patterns.map((pattern) => {
    if (pattern === '') throw new FilterError('node name pattern is empty');
    const parts = pattern.split('/');
    if (parts.length > 2)
      throw new FilterError(`node name pattern ${JSON.stringify(pattern)} has more than one "/"`);
    const [cluster, node] = parts.length === 2 ? (parts as [string, string]) : ['', parts[0] as string];
    const part = (p: string) => (p === '' ? NAME_RE : fqdnPatternSource(p));
    return `${part(cluster)}/${part(node)}`;
  });
  const re = RE2JS.compile(`^(?:${sources.join('|')})$`);
  return (nodeName) => {
    if (nodeName === '') return false;
    return re.test(nodeName.includes('/') ? nodeName : `default/${nodeName}`);
  };
}
