/**
 * Label and field selectors as the API server accepts them in `labelSelector` and `fieldSelector` query
 * parameters. Parsing is strict: a selector the real server would refuse is refused here too, so a client bug
 * shows up in tests.
 */

/** A parsed selector: true when an object matches. */
export type Selector = (obj: KubeObject) => boolean;

/** The shape the double stores: any JSON object with Kubernetes metadata. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** Thrown for a selector the API server would refuse (answered with 400 Bad Request). */
export class SelectorError extends Error {
  override name = 'SelectorError';
}

/** Splits on commas outside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((p) => p.trim()).filter((p) => p !== '');
}

const KEY = String.raw`[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = String.raw`([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const SET_RE = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`);
const EQ_RE = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const EXISTS_RE = new RegExp(`^(!?)\\s*(${KEY})$`);

/** Parses a label selector (`app=web,tier!=db,env in (a,b),!legacy`); throws SelectorError when malformed. */
export function parseLabelSelector(text: string): Selector {
  const reqs: Selector[] = [];
  const labels = (o: KubeObject) => o.metadata.labels ?? {};
  for (const part of splitTop(text)) {
    let m = SET_RE.exec(part);
    if (m) {
      const key = m[1]!;
      const op = m[3]!;
      const values = new Set(m[4]!.split(',').map((v) => v.trim()).filter((v) => v !== ''));
      if (values.size === 0) throw new SelectorError(`labelSelector "${text}": "${part}" has an empty value set`);
      reqs.push(
        op === 'in'
          ? (o) => key in labels(o) && values.has(labels(o)[key]!)
          : (o) => !(key in labels(o)) || !values.has(labels(o)[key]!),
      );
      continue;
    }
    m = EQ_RE.exec(part);
    if (m) {
      const key = m[1]!;
      const op = m[3]!;
      const value = m[4] ?? '';
      reqs.push(op === '!=' ? (o) => labels(o)[key] !== value : (o) => labels(o)[key] === value);
      continue;
    }
    m = EXISTS_RE.exec(part);
    if (m) {
      const key = m[2]!;
      reqs.push(m[1] === '!' ? (o) => !(key in labels(o)) : (o) => key in labels(o));
      continue;
    }
    throw new SelectorError(`labelSelector "${text}": cannot parse requirement "${part}"`);
  }
  return (o) => reqs.every((r) => r(o));
}

/** The value at a dotted path (`spec.nodeName`) as the string a field selector compares, or '' when absent. */
export function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[seg];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'object' ? JSON.stringify(cur) : String(cur);
}

/** Splits a field selector on unescaped commas and unescapes `\,`, `\=`, `\\` in values. */
function splitFieldTerms(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      cur += ch + text[i + 1]!;
      i++;
    } else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.filter((t) => t.trim() !== '');
}

function unescapeField(v: string): string {
  return v.replace(/\\(.)/g, '$1');
}

/** Parses a field selector (`spec.nodeName=n1,status.podIP!=10.0.0.1`); throws SelectorError when malformed. */
export function parseFieldSelector(text: string): Selector {
  const reqs: Selector[] = [];
  for (const term of splitFieldTerms(text)) {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)(.*)$/.exec(term.trim());
    if (!m) throw new SelectorError(`fieldSelector "${text}": cannot parse term "${term}" (use path=value or path!=value)`);
    const path = m[1]!;
    const value = unescapeField(m[3]!);
    reqs.push(m[2] === '!=' ? (o) => fieldValue(o, path) !== value : (o) => fieldValue(o, path) === value);
  }
  return (o) => reqs.every((r) => r(o));
}
