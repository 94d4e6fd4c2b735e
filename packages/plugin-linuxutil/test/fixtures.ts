/** Paths and readers for the test fixtures. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures */
export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
/** A proc root captured from a real kernel (network namespace with IPv4, IPv6 and IPv4-mapped sockets). */
export const PROC_ROOT = path.join(FIXTURES, 'proc');

/** A file of the captured proc root, e.g. `net/tcp6`. */
export function procFile(rel: string): string {
  return readFileSync(path.join(PROC_ROOT, rel), 'utf8');
}

/** A file of test/fixtures/malformed. */
export function malformed(name: string): string {
  return readFileSync(path.join(FIXTURES, 'malformed', name), 'latin1');
}
