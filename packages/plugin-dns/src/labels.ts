/**
 * Label values of the DNS metrics, derived from a decoded message. The rules (see README, "Label values") are the
 * same for the basic families this plugin writes and for the advanced per-pod families built from its flows.
 */
import type { DnsAnswer, DnsQuestion } from './decode.js';

/** Mnemonics of RCODE 0..5, as Retina writes them; any other RCODE becomes the empty string. */
export const RETURN_CODES: readonly string[] = [
  'NOERROR',
  'FORMERR',
  'SERVFAIL',
  'NXDOMAIN',
  'NOTIMP',
  'REFUSED',
];

/** Value that stands for every `query` (or `response`) beyond the configured cap. */
export const OTHER_LABEL_VALUE = 'other';

/** `return_code` for an RCODE: NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, or '' for others. */
export function returnCodeLabel(rcode: number): string {
  return RETURN_CODES[rcode] ?? '';
}

/** `query_type`: the question types joined by `,` (one type for ordinary messages; '' without a question). */
export function queryTypeLabel(questions: readonly DnsQuestion[]): string {
  if (questions.length === 1) return (questions[0] as DnsQuestion).type;
  return questions.map((q) => q.type).join(',');
}

/**
 * The queried name as the `query` label shows it: the first question's name in lower case (DNS names are
 * case-insensitive, and resolvers that randomise case would otherwise multiply series), without the trailing dot
 * unless `trailingDot`; the root is `.`; '' without a question.
 */
export function queryLabel(questions: readonly DnsQuestion[], trailingDot = false): string {
  const first = questions[0];
  if (!first) return '';
  const name = first.name.toLowerCase();
  if (name === '.' || !trailingDot) return name;
  return `${name}.`;
}

/** The queried name as flows carry it (Hubble's form): the first question's name with a trailing dot. */
export function flowQueryName(questions: readonly DnsQuestion[]): string {
  const first = questions[0];
  if (!first) return '';
  return first.name === '.' ? '.' : `${first.name}.`;
}

/** Addresses of the A and AAAA answers, in wire order. */
export function answerIps(answers: readonly DnsAnswer[]): string[] {
  const ips: string[] = [];
  for (const a of answers) if (a.ip !== undefined) ips.push(a.ip);
  return ips;
}

/**
 * `response`: the answer addresses sorted and joined by `,`. Sorting keeps one series per address set, however a
 * server rotates the order (round-robin DNS).
 */
export function responseLabel(ips: readonly string[]): string {
  if (ips.length <= 1) return ips[0] ?? '';
  return [...ips].sort().join(',');
}

/**
 * Keeps at most `cap` distinct label values: the first `cap` values seen pass unchanged, later new values become
 * `other`. First come, first kept, so a series never changes meaning while the plugin runs; the set starts empty
 * again when the plugin restarts (its series are reset then too).
 */
export class BoundedLabelValues {
  readonly #seen = new Set<string>();
  #folded = 0;

  constructor(readonly cap: number) {
    if (!Number.isInteger(cap) || cap < 0)
      throw new RangeError(`label cap must be a whole number >= 0, got ${cap}`);
  }

  /** `value` if it is (or can become) one of the kept values, else `other`. */
  label(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size < this.cap) {
      this.#seen.add(value);
      return value;
    }
    this.#folded++;
    return OTHER_LABEL_VALUE;
  }

  /** Distinct values kept. */
  get size(): number {
    return this.#seen.size;
  }

  /** Label lookups answered with `other`. */
  get folded(): number {
    return this.#folded;
  }

  /** Forgets every kept value. */
  clear(): void {
    this.#seen.clear();
    this.#folded = 0;
  }
}
