/**
 * In-process stand-ins for the remote stores: an Azure Blob endpoint that checks the SAS signature parameter and
 * implements Put Blob, Put Block and Put Block List, and an S3 endpoint that checks the SigV4 credential and
 * stores PutObject bodies. Both can be told to fail the next requests, to exercise retries.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A stored object and the request headers it came with. */
export interface StoredObject {
  body: Buffer;
  headers: IncomingMessage['headers'];
}

/** Common controls of the fakes. */
export interface FakeStore {
  url: string;
  objects: Map<string, StoredObject>;
  requests: { method: string; url: string }[];
  /** Answer the next `n` requests with `status`. */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function controls() {
  let failing = 0;
  let failStatus = 503;
  let server: Server | undefined;
  return {
    url: '',
    async listen(s: Server) {
      server = s;
      this.url = await listen(s);
    },
    objects: new Map<string, StoredObject>(),
    requests: [] as { method: string; url: string }[],
    failNext(n: number, status = 503) {
      failing = n;
      failStatus = status;
    },
    shouldFail(): number | undefined {
      if (failing <= 0) return undefined;
      failing--;
      return failStatus;
    },
    close: () => new Promise<void>((r) => (server ? server.close(() => r()) : r())),
  };
}

/** A fake Blob service; the SAS URL of its container `container` carries `sig=<signature>`. */
export async function startFakeBlob(signature: string): Promise<FakeStore & { sasUrl(container: string): string }> {
  const blocks = new Map<string, Buffer>();
  const c = controls();
  const server = createServer((req, res) => {
    void (async () => {
      const u = new URL(req.url ?? '/', 'http://x');
      c.requests.push({ method: req.method ?? '', url: req.url ?? '' });
      const data = await body(req);
      const fail = c.shouldFail();
      if (fail) return void res.writeHead(fail).end('<Error><Code>ServerBusy</Code></Error>');
      if (u.searchParams.get('sig') !== signature) {
        return void res.writeHead(403).end('<Error><Code>AuthenticationFailed</Code></Error>');
      }
      if (req.method !== 'PUT') return void res.writeHead(405).end();
      const comp = u.searchParams.get('comp');
      if (comp === 'block') {
        blocks.set(`${u.pathname}#${u.searchParams.get('blockid')}`, data);
        return void res.writeHead(201).end();
      }
      if (comp === 'blocklist') {
        const ids = [...data.toString('utf8').matchAll(/<Latest>([^<]+)<\/Latest>/g)].map((m) => m[1]!);
        const parts = ids.map((id) => blocks.get(`${u.pathname}#${id}`));
        if (parts.some((p) => p === undefined)) return void res.writeHead(400).end('<Error><Code>InvalidBlockList</Code></Error>');
        c.objects.set(decodeURIComponent(u.pathname), { body: Buffer.concat(parts as Buffer[]), headers: req.headers });
        return void res.writeHead(201).end();
      }
      if (req.headers['x-ms-blob-type'] !== 'BlockBlob') return void res.writeHead(400).end('missing x-ms-blob-type');
      c.objects.set(decodeURIComponent(u.pathname), { body: data, headers: req.headers });
      res.writeHead(201).end();
    })();
  });
  await c.listen(server);
  return { ...c, sasUrl: (container: string) => `${c.url}/devstoreaccount1/${container}?sv=2021-08-06&sp=cw&sig=${signature}` };
}

/** A fake S3 endpoint (path-style) that accepts requests signed with `accessKeyId`. */
export async function startFakeS3(accessKeyId: string): Promise<FakeStore> {
  const c = controls();
  const server = createServer((req, res) => {
    void (async () => {
      c.requests.push({ method: req.method ?? '', url: req.url ?? '' });
      const data = await body(req);
      const fail = c.shouldFail();
      if (fail) return void res.writeHead(fail, { 'content-type': 'application/xml' }).end('<Error><Code>SlowDown</Code></Error>');
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith(`AWS4-HMAC-SHA256 Credential=${accessKeyId}/`)) {
        return void res
          .writeHead(403, { 'content-type': 'application/xml' })
          .end('<Error><Code>InvalidAccessKeyId</Code><Message>bad key</Message></Error>');
      }
      if (req.method !== 'PUT') return void res.writeHead(405).end();
      c.objects.set(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname), { body: data, headers: req.headers });
      res.writeHead(200, { etag: '"0"' }).end();
    })();
  });
  await c.listen(server);
  return c;
}

/** Runs `body` with a fake blob store (SAS signature `signature`) and a fake S3 (`accessKeyId`), closing both after. */
export async function withFakeStores(
  signature: string,
  accessKeyId: string,
  body: (blob: Awaited<ReturnType<typeof startFakeBlob>>, s3: FakeStore) => Promise<void>,
): Promise<void> {
  const blob = await startFakeBlob(signature);
  const s3 = await startFakeS3(accessKeyId);
  try {
    await body(blob, s3);
  } finally {
    await blob.close();
    await s3.close();
  }
}
