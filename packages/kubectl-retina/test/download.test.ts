import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBlobList, runProgram } from '../src/index.js';

const blobs: Record<string, string> = {
  'web-n1-20240101000000UTC.tar.gz': 'one',
  'web-n2-20240101000000UTC.tar.gz': 'two',
  'other-n1-20240101000000UTC.tar.gz': 'three',
  'web-notes.txt': 'not a capture',
};
let url: string;
let dir: string;
const server = createServer((req, res) => {
  const u = new URL(req.url ?? '/', 'http://x');
  if (u.searchParams.get('sig') !== 'good') return void res.writeHead(403).end();
  if (u.searchParams.get('comp') === 'list') {
    const prefix = u.searchParams.get('prefix') ?? '';
    const names = Object.keys(blobs).filter((n) => n.startsWith(prefix));
    // Two pages, to follow the marker.
    const [first, ...rest] = names;
    const page = u.searchParams.get('marker') ? rest : first ? [first] : [];
    const next = !u.searchParams.get('marker') && rest.length ? '<NextMarker>m1</NextMarker>' : '<NextMarker />';
    return void res
      .writeHead(200, { 'content-type': 'application/xml' })
      .end(`<?xml version="1.0"?><EnumerationResults><Blobs>${page.map((n) => `<Blob><Name>${n}</Name><Properties/></Blob>`).join('')}</Blobs>${next}</EnumerationResults>`);
  }
  const name = decodeURIComponent(u.pathname.split('/').pop()!);
  if (blobs[name] === undefined) return void res.writeHead(404).end();
  res.writeHead(200).end(blobs[name]);
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/account/captures?sv=1&sig=good`;
  dir = await mkdtemp(join(tmpdir(), 'download-'));
});
afterAll(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('capture download', () => {
  it('parses List Blobs pages', () => {
    expect(parseBlobList('<Blobs><Blob><Name>a&amp;b</Name></Blob></Blobs><NextMarker>x</NextMarker>')).toEqual({ names: ['a&b'], next: 'x' });
    expect(parseBlobList('<Blobs></Blobs><NextMarker />')).toEqual({ names: [] });
  });

  it('downloads the tarballs of a capture from a blob container', async () => {
    const out: string[] = [];
    const code = await runProgram(['capture', 'download', '--name', 'web', '--blob-url', url, '-o', dir], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    });
    expect(code).toBe(0);
    expect(out.at(-1)).toBe(`Downloaded 2 file(s) to ${dir}`);
    expect(await readFile(join(dir, 'web-n1-20240101000000UTC.tar.gz'), 'utf8')).toBe('one');
    expect(await readFile(join(dir, 'web-n2-20240101000000UTC.tar.gz'), 'utf8')).toBe('two');
  });

  it('says when nothing matches, without the SAS token', async () => {
    const err: string[] = [];
    const code = await runProgram(['capture', 'download', '--name', 'none', '--blob-url', url], { out: () => {}, err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(err[0]).toMatch(/^error: no capture tarballs of none found in http:\/\/127\.0\.0\.1:\d+\/account\/captures\?<redacted>$/);
  });
});
