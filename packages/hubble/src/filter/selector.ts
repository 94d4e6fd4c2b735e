/**
 * Kubernetes label selectors over Hubble labels (`source:key=value`), as `hubble observe --label` sends them:
 * `app=web`, `k8s:app in (a,b)`, `!key`, `tier!=db`, `key`, `count>3`, comma-separated requirements (all must hold).
 * A selector key without a source (`app`) matches a label of any source; `k8s:app` only the `k8s` source.
 */
import { FilterError } from './errors.js';

/** One parsed label: `k8s:app=web` → { source: 'k8s', key: 'app', value: 'web' }. */
export interface ParsedLabel {
  source: string;
  key: string;
  value: string;
}

type Operator = 'exists' | 'notExists' | 'in' | 'notIn' | 'gt' | 'lt';

/** One requirement of a selector. */
export interface Requirement {
  source: string;
  key: string;
  op: Operator;
  values: string[];
}

/** A parsed selector: matches when every requirement holds. */
export type Selector = Requirement[];

const KEY_STOP = new Set([' ', '\t', '=', '!', '<', '>', ',', '(', ')']);

/** Parses a Hubble label (`source:key=value`; a label without a source gets `unspec`). */
export function parseLabel(label: string): ParsedLabel {
  const eq = label.indexOf('=');
  const keyPart = eq < 0 ? label : label.slice(0, eq);
  const value = eq < 0 ? '' : label.slice(eq + 1);
  const colon = keyPart.indexOf(':');
  if (colon < 0) return { source: 'unspec', key: keyPart, value };
  return { source: keyPart.slice(0, colon), key: keyPart.slice(colon + 1), value };
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
    if (depth < 0) throw new FilterError(`label selector ${JSON.stringify(text)}: unbalanced ")"`);
  }
  if (depth !== 0) throw new FilterError(`label selector ${JSON.stringify(text)}: missing ")"`);
  parts.push(text.slice(start));
  return parts;
}

function parseKey(raw: string, selector: string): { source: string; key: string } {
  if (raw === '')
    throw new FilterError(`label selector ${JSON.stringify(selector)}: a requirement has no key`);
  const colon = raw.indexOf(':');
  if (colon < 0) return { source: 'any', key: raw };
  const source = raw.slice(0, colon);
  const key = raw.slice(colon + 1);
  if (source === '' || key === '') {
    throw new FilterError(
      `label selector ${JSON.stringify(selector)}: key ${JSON.stringify(raw)} is not [source:]key`,
    );
  }
  return { source, key };
}

function checkValue(value: string, selector: string): string {
  if (/[\s,()=!<>]/.test(value)) {
    throw new FilterError(
      `label selector ${JSON.stringify(selector)}: invalid value ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function parseRequirement(text: string, selector: string): Requirement {
  let s = text.trim();
  if (s.startsWith('!')) {
    s = s.slice(1).trim();
    if ([...s].some((c) => KEY_STOP.has(c))) {
      throw new FilterError(`label selector ${JSON.stringify(selector)}: "!" must be followed by a key only`);
    }
    return { ...parseKey(s, selector), op: 'notExists', values: [] };
  }
  let i = 0;
  while (i < s.length && !KEY_STOP.has(s[i] as string)) i++;
  const key = parseKey(s.slice(0, i), selector);
  const rest = s.slice(i).trim();
  if (rest === '') return { ...key, op: 'exists', values: [] };
  const setMatch = /^(in|notin)\s*\((.*)\)$/s.exec(rest);
  if (setMatch) {
    const values = (setMatch[2] as string).split(',').map((v) => checkValue(v.trim(), selector));
    return { ...key, op: setMatch[1] === 'in' ? 'in' : 'notIn', values };
  }
  const opMatch = /^(==|=|!=|<|>)(.*)$/s.exec(rest);
  if (!opMatch) {
    throw new FilterError(
      `label selector ${JSON.stringify(selector)}: unknown operator in ${JSON.stringify(text.trim())} ` +
        '(use =, ==, !=, in (...), notin (...), <, >, key or !key)',
    );
  }
  const op = opMatch[1] as string;
  const value = checkValue((opMatch[2] as string).trim(), selector);
  if (op === '<' || op === '>') {
    if (!/^-?\d+$/.test(value)) {
      throw new FilterError(
        `label selector ${JSON.stringify(selector)}: ${op} needs an integer, got ${JSON.stringify(value)}`,
      );
    }
    return { ...key, op: op === '<' ? 'lt' : 'gt', values: [value] };
  }
  return { ...key, op: op === '!=' ? 'notIn' : 'in', values: [value] };
}

/** Parses a label selector; throws FilterError naming the selector and the problem. */
export function parseSelector(selector: string): Selector {
  if (selector.trim() === '') throw new FilterError('label selector is empty');
  return splitTopLevel(selector).map((part) => parseRequirement(part, selector));
}

function matchingValues(req: Requirement, labels: readonly ParsedLabel[]): string[] {
  const out: string[] = [];
  for (const l of labels) {
    if (l.key === req.key && (req.source === 'any' || l.source === req.source)) out.push(l.value);
  }
  return out;
}

/** Whether the parsed labels satisfy every requirement of the selector. */
export function selectorMatches(selector: Selector, labels: readonly ParsedLabel[]): boolean {
  for (const req of selector) {
    const values = matchingValues(req, labels);
    let ok: boolean;
    switch (req.op) {
      case 'exists':
        ok = values.length > 0;
        break;
      case 'notExists':
        ok = values.length === 0;
        break;
      case 'in':
        ok = values.some((v) => req.values.includes(v));
        break;
      case 'notIn':
        ok = !values.some((v) => req.values.includes(v));
        break;
      case 'gt':
      case 'lt': {
        const bound = Number(req.values[0]);
        ok = values.some(
          (v) => /^-?\d+$/.test(v) && (req.op === 'gt' ? Number(v) > bound : Number(v) < bound),
        );
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}
