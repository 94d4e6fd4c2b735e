/**
 * An in-process Kubernetes API server double. It speaks the parts of the real protocol that clients' informers
 * rely on (JSON over HTTP): list with resourceVersion, limit and continue; watch streams of JSON lines with
 * ADDED/MODIFIED/DELETED and, when asked, BOOKMARK events; `410 Gone` after compaction; label and field selectors;
 * create/replace/merge-patch/delete. Tests drive it through its methods: change objects, compact history, close
 * watch connections, inject failures, and take the server off-line and back.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { PassThrough, type Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { apiVersionOf, RESOURCE_TYPES, resourceKey, resourceType, resourceTypeForPath, type ResourceType } from './resources.js';
import { parseFieldSelector, parseLabelSelector, SelectorError, type KubeObject, type Selector } from './selectors.js';
import { ApiError, objectKey, ObjectStore, type StoredEvent } from './store.js';

/** How to start the double. */
export interface ApiServerDoubleOptions {
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Serve HTTPS with this PEM key and certificate (default: plain HTTP). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** When set, every request must carry `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
  /** Send BOOKMARK events to watches that allow them every this many ms (default: only on `sendBookmarks()`). */
  bookmarkIntervalMs?: number;
  /**
   * How a watch from a compacted resourceVersion is refused: `event` (HTTP 200, then an ERROR event carrying a 410
   * Status, then the stream ends; what the watch cache does) or `status` (HTTP 410 Gone). Default `event`.
   */
  goneAs?: 'event' | 'status';
  /** The version `/version` reports (default v1.31.0). */
  gitVersion?: string;
}

/** One request the double answered, for assertions. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The resource key (`pods`, `replicasets.apps`) when the path named one. */
  resource?: string;
  /** `log`, `exec`, `status` when the path named a subresource. */
  subresource?: string;
  verb: 'list' | 'watch' | 'get' | 'create' | 'update' | 'patch' | 'delete' | 'other';
  status: number;
}

/** A command a client runs in a pod's container (`pods/exec`). */
export interface ExecRequest {
  namespace: string;
  pod: string;
  /** The `container` parameter, when given. */
  container?: string;
  command: string[];
  /** The pod as stored. */
  object: KubeObject;
}

/** What an exec'd command printed and how it ended. */
export interface ExecResult {
  stdout?: Buffer | string;
  stderr?: Buffer | string;
  /** Exit code (default 0); non-zero answers a `NonZeroExitCode` Status as the kubelet does. */
  exitCode?: number;
}

/** Runs exec'd commands for the test: the double has no containers. */
export type ExecHandler = (req: ExecRequest) => ExecResult | Promise<ExecResult>;

/** A client attached to a container's main process (`pods/attach`). */
export interface AttachRequest {
  namespace: string;
  pod: string;
  container?: string;
  /** What the client types (channel 0); ends when it closes stdin or the connection. */
  input: AsyncIterable<Buffer>;
  object: KubeObject;
}

/** Plays the attached process for the test: reads `input`, returns what it printed and how it ended. */
export type AttachHandler = (req: AttachRequest) => ExecResult | Promise<ExecResult>;

/** Largest stdout/stderr frame the double sends, so clients see output arrive in several messages. */
const EXEC_FRAME_BYTES = 16 * 1024;
const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

/** A failure to answer instead of the real response. */
export interface InjectedFailure {
  /** Resource key or kind (`pods`, `Pod`); any when omitted. */
  resource?: string;
  /** Verb; any when omitted. */
  verb?: RecordedRequest['verb'];
  /** HTTP status to answer (e.g. 500, 503, 403, 410). */
  status: number;
  /** How many requests to fail (default 1). */
  count?: number;
}

interface OpenWatch {
  type: ResourceType;
  res: ServerResponse;
  socket: Socket;
  bookmarks: boolean;
  cancel(): void;
}

const STATUS_REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

function statusObject(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

/** JSON merge patch (RFC 7386). */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function encodeContinue(rv: number, after: string): string {
  return Buffer.from(JSON.stringify({ rv, after })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; after: string } {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { rv: unknown; after: unknown };
    if (typeof v.rv === 'number' && typeof v.after === 'string') return { rv: v.rv, after: v.after };
  } catch {
    // fall through
  }
  throw new ApiError(400, 'BadRequest', `continue: "${token}" is not a continue token this server issued`);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'BadRequest', `request body is not JSON: ${text.slice(0, 80)}`);
  }
}

/** A running API server double. Create it with `startApiServerDouble`. */
export class ApiServerDouble {
  readonly store = new ObjectStore();
  readonly #options: ApiServerDoubleOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #watches = new Set<OpenWatch>();
  readonly #requests: RecordedRequest[] = [];
  readonly #failures: (InjectedFailure & { left: number })[] = [];
  #port = 0;
  #online = false;
  #bookmarkTimer?: NodeJS.Timeout;
  #execHandler?: ExecHandler;
  #attachHandler?: AttachHandler;
  readonly #podLogs = new Map<string, string>();
  readonly #wss = new WebSocketServer({
    noServer: true,
    // Channel protocols only: a client offering none of them gets no subprotocol and the double closes it.
    handleProtocols: (offered) => EXEC_PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });

  /** Use `startApiServerDouble`. */
  constructor(options: ApiServerDoubleOptions = {}) {
    this.#options = options;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((err: unknown) => this.#fail(res, err));
    };
    this.#server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createHttpServer(handler);
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    this.#server.on('secureConnection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#upgrade(req, socket, head).catch((err: unknown) => refuseUpgrade(socket, err));
    });
    if (options.bookmarkIntervalMs) {
      this.#bookmarkTimer = setInterval(() => this.sendBookmarks(), options.bookmarkIntervalMs);
      this.#bookmarkTimer.unref();
    }
  }

  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  get url(): string {
    const host = this.#options.host ?? '127.0.0.1';
    const h = host.includes(':') ? `[${host}]` : host;
    return `${this.#options.tls ? 'https' : 'http'}://${h}:${this.#port}`;
  }

  /** The port it listens on (kept across `goOffline`/`goOnline`). */
  get port(): number {
    return this.#port;
  }

  /** Whether it currently accepts connections. */
  get online(): boolean {
    return this.#online;
  }

  /** Starts listening (on the same port as before after `goOffline`). */
  async goOnline(): Promise<void> {
    if (this.#online) return;
    const port = this.#port || this.#options.port || 0;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`api server double: cannot listen on port ${port}: ${err.message}`));
      this.#server.once('error', onError);
      this.#server.listen(port, this.#options.host ?? '127.0.0.1', () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#online = true;
  }

  /** Stops listening and drops every connection, as an API server that went away. Objects are kept. */
  async goOffline(): Promise<void> {
    if (!this.#online) return;
    this.#online = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const w of this.#watches) w.cancel();
    this.#watches.clear();
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  /** Stops for good. */
  async close(): Promise<void> {
    if (this.#bookmarkTimer) clearInterval(this.#bookmarkTimer);
    await this.goOffline();
  }

  // ---- test API: objects ----

  /** Creates an object of `resource` (`pods`, `Pod`, `replicasets.apps`, ...); returns the stored copy. */
  create<T extends KubeObject>(resource: string, obj: T): T {
    return this.store.create(resourceType(resource), obj) as T;
  }

  /** Replaces an existing object (its resourceVersion, when set, must be current). */
  update<T extends KubeObject>(resource: string, obj: T): T {
    return this.store.update(resourceType(resource), obj) as T;
  }

  /** Creates or replaces (ignoring resourceVersion). */
  apply<T extends KubeObject>(resource: string, obj: T): T {
    const t = resourceType(resource);
    let exists = true;
    try {
      this.store.get(t, obj.metadata.namespace, obj.metadata.name);
    } catch {
      exists = false;
    }
    const copy = structuredClone(obj);
    delete copy.metadata.resourceVersion;
    return (exists ? this.store.update(t, copy) : this.store.create(t, copy)) as T;
  }

  /** Changes an object with `fn` (which may mutate its argument or return a new object) and stores it. */
  modify<T extends KubeObject = KubeObject>(resource: string, namespace: string | undefined, name: string, fn: (obj: T) => T | void): T {
    const t = resourceType(resource);
    const cur = this.store.get(t, namespace, name) as T;
    const next = fn(cur) ?? cur;
    return this.store.update(t, next) as T;
  }

  /** Deletes an object; returns its last state. */
  delete(resource: string, namespace: string | undefined, name: string): KubeObject {
    return this.store.delete(resourceType(resource), namespace, name);
  }

  /** One object (throws ApiError 404 when absent). */
  get<T extends KubeObject = KubeObject>(resource: string, namespace: string | undefined, name: string): T {
    return this.store.get(resourceType(resource), namespace, name) as T;
  }

  /** The current objects of a resource. */
  list<T extends KubeObject = KubeObject>(resource: string): T[] {
    return this.store.stateAt(resourceType(resource), this.store.resourceVersion) as T[];
  }

  // ---- test API: pods ----

  /**
   * Sets what runs `pods/exec` commands (WebSocket, channel protocol v4/v5), or removes it. Without a handler an
   * exec into an existing running pod is refused with 500.
   */
  setExecHandler(handler: ExecHandler | undefined): void {
    this.#execHandler = handler;
  }

  /**
   * Sets what plays the process a `pods/attach` client talks to (WebSocket, channel protocol v4/v5), or removes
   * it. Without a handler an attach is refused with 500.
   */
  setAttachHandler(handler: AttachHandler | undefined): void {
    this.#attachHandler = handler;
  }

  /** Sets the text `pods/log` returns for a pod (and container, when given). */
  setPodLog(namespace: string, pod: string, text: string, container?: string): void {
    this.#podLogs.set(`${namespace}/${pod}/${container ?? ''}`, text);
  }

  // ---- test API: protocol events ----

  /** Forgets history up to `rv` (default: all); watches and continue tokens from before get 410 Gone. */
  compact(rv?: number): void {
    this.store.compact(rv);
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watch that allowed bookmarks; returns how many. */
  sendBookmarks(resource?: string): number {
    const only = resource ? resourceKey(resourceType(resource)) : undefined;
    let n = 0;
    for (const w of this.#watches) {
      if (!w.bookmarks || (only && resourceKey(w.type) !== only)) continue;
      this.#write(w.res, {
        type: 'BOOKMARK',
        object: { kind: w.type.kind, apiVersion: apiVersionOf(w.type), metadata: { resourceVersion: String(this.store.resourceVersion) } },
      });
      n++;
    }
    return n;
  }

  /**
   * Closes open watch connections (of one resource, or all): `end` finishes the response cleanly, as an API server
   * ending a watch; `destroy` resets the TCP connection, as a network failure. Returns how many were closed.
   */
  closeWatches(resource?: string, mode: 'end' | 'destroy' = 'end'): number {
    const only = resource ? resourceKey(resourceType(resource)) : undefined;
    let n = 0;
    for (const w of [...this.#watches]) {
      if (only && resourceKey(w.type) !== only) continue;
      w.cancel();
      if (mode === 'destroy') w.socket.destroy();
      else w.res.end();
      n++;
    }
    return n;
  }

  /** Number of open watches (of one resource, or all). */
  openWatches(resource?: string): number {
    const only = resource ? resourceKey(resourceType(resource)) : undefined;
    return [...this.#watches].filter((w) => !only || resourceKey(w.type) === only).length;
  }

  /** Answers the next matching requests with an error status instead. */
  injectFailure(failure: InjectedFailure): void {
    this.#failures.push({
      ...failure,
      ...(failure.resource ? { resource: resourceKey(resourceType(failure.resource)) } : {}),
      left: failure.count ?? 1,
    });
  }

  /** Requests answered so far, optionally only those of one resource and verb. */
  requests(filter: { resource?: string; verb?: RecordedRequest['verb'] } = {}): RecordedRequest[] {
    const only = filter.resource ? resourceKey(resourceType(filter.resource)) : undefined;
    return this.#requests.filter((r) => (!only || r.resource === only) && (!filter.verb || r.verb === filter.verb));
  }

  /** Waits until `predicate` holds, polling every 10 ms; rejects after `timeoutMs` (default 10 s) naming `what`. */
  async waitFor(predicate: () => boolean, what = 'condition', timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`api server double: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // ---- HTTP ----

  #record(req: RecordedRequest): void {
    this.#requests.push(req);
  }

  #write(res: ServerResponse, ev: unknown): void {
    if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify(ev) + '\n');
  }

  #send(res: ServerResponse, code: number, body: unknown): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  #fail(res: ServerResponse, err: unknown): void {
    if (err instanceof ApiError) {
      this.#send(res, err.code, statusObject(err.code, err.reason, err.message, err.details));
    } else if (err instanceof SelectorError) {
      this.#send(res, 400, statusObject(400, 'BadRequest', err.message));
    } else {
      const msg = err instanceof Error ? err.message : String(err);
      this.#send(res, 500, statusObject(500, 'InternalError', `api server double: ${msg}`));
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double');
    const query = Object.fromEntries(url.searchParams.entries());
    const method = req.method ?? 'GET';
    const record: RecordedRequest = { method, path: url.pathname, query, verb: 'other', status: 200 };
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    this.#record(record);

    if (this.#options.token !== undefined && req.headers.authorization !== `Bearer ${this.#options.token}`) {
      record.status = 401;
      return this.#send(res, 401, statusObject(401, 'Unauthorized', 'Unauthorized'));
    }

    const segs = url.pathname.split('/').filter((s) => s !== '');
    if (segs.length === 1 && ['healthz', 'readyz', 'livez'].includes(segs[0]!)) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('ok');
    }
    if (segs.length === 1 && segs[0] === 'version') {
      const gitVersion = this.#options.gitVersion ?? 'v1.31.0';
      const [, major = '1', minor = '31'] = /^v(\d+)\.(\d+)/.exec(gitVersion) ?? [];
      return this.#send(res, 200, { major, minor, gitVersion, platform: 'linux/amd64' });
    }
    if (segs.length === 1 && segs[0] === 'api') return this.#send(res, 200, { kind: 'APIVersions', versions: ['v1'] });
    if (segs.length === 1 && segs[0] === 'apis') return this.#send(res, 200, this.#groupList());

    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs.length >= 2) {
      group = '';
      version = segs[1]!;
      rest = segs.slice(2);
    } else if (segs[0] === 'apis' && segs.length >= 3) {
      group = segs[1]!;
      version = segs[2]!;
      rest = segs.slice(3);
    } else {
      record.status = 404;
      return this.#send(res, 404, statusObject(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`));
    }
    if (rest.length === 0) return this.#send(res, 200, this.#resourceList(group, version));

    let legacyWatch = false;
    if (rest[0] === 'watch') {
      legacyWatch = true;
      rest = rest.slice(1);
    }
    let namespace: string | undefined;
    let plural: string;
    let name: string | undefined;
    let subresource: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      plural = rest[2]!;
      name = rest[3];
      subresource = rest[4];
    } else {
      plural = rest[0]!;
      name = rest[1];
      subresource = rest[2];
    }
    const type = resourceTypeForPath(group, version, plural);
    if (!type) {
      return this.#send(res, 404, statusObject(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`));
    }
    if (!type.namespaced && namespace !== undefined) {
      return this.#send(res, 404, statusObject(404, 'NotFound', `${type.plural} is not namespaced (${url.pathname})`));
    }
    record.resource = resourceKey(type);
    if (subresource !== undefined) record.subresource = subresource;
    const isWatch = legacyWatch || query.watch === 'true' || query.watch === '1';
    record.verb =
      method === 'GET'
        ? name !== undefined
          ? 'get'
          : isWatch
            ? 'watch'
            : 'list'
        : method === 'POST'
          ? 'create'
          : method === 'PUT'
            ? 'update'
            : method === 'PATCH'
              ? 'patch'
              : method === 'DELETE'
                ? 'delete'
                : 'other';

    const failure = this.#failures.find((f) => f.left > 0 && (!f.resource || f.resource === record.resource) && (!f.verb || f.verb === record.verb));
    if (failure) {
      failure.left--;
      const reason = STATUS_REASONS[failure.status] ?? 'Unknown';
      return this.#send(res, failure.status, statusObject(failure.status, reason, `injected failure: ${reason}`));
    }

    if (subresource === 'log' && type.plural === 'pods' && method === 'GET') {
      const pod = this.store.get(type, namespace, name!);
      const text = this.#podLogs.get(`${pod.metadata.namespace}/${name}/${query.container ?? ''}`) ?? '';
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
      return void res.end(text);
    }
    if (subresource === 'exec' && type.plural === 'pods') {
      throw new ApiError(400, 'BadRequest', 'Upgrade request required: pods/exec speaks WebSocket (channel.k8s.io protocols)');
    }
    const ephemeral = subresource === 'ephemeralcontainers' && type.plural === 'pods';
    if (subresource !== undefined && subresource !== 'status' && !ephemeral) {
      throw new ApiError(404, 'NotFound', `the double does not serve the ${subresource} subresource of ${type.plural}`);
    }
    // Custom resources have a status subresource (as every CRD of retina.sh declares): writes to the object keep
    // the stored status, writes to /status change only the status. metadata.generation counts spec changes.
    const statusOnly = subresource === 'status' && type.custom;
    const keepStatus = subresource === undefined && type.custom;
    const writeView = (cur: KubeObject | undefined, next: KubeObject): KubeObject => {
      if (ephemeral && cur) {
        const spec = { ...(cur.spec as Record<string, unknown>) };
        spec.ephemeralContainers = (next.spec as { ephemeralContainers?: unknown } | undefined)?.ephemeralContainers ?? [];
        return { ...cur, metadata: { ...cur.metadata, resourceVersion: next.metadata.resourceVersion }, spec };
      }
      if (statusOnly && cur) {
        return { ...cur, metadata: { ...cur.metadata, resourceVersion: next.metadata.resourceVersion }, status: next.status };
      }
      if (!type.custom) return next;
      const out: KubeObject = { ...next };
      if (keepStatus) {
        if (cur?.status !== undefined) out.status = cur.status;
        else delete out.status;
      }
      const prevGen = Number((cur?.metadata as { generation?: unknown } | undefined)?.generation ?? 0);
      const specChanged = !cur || JSON.stringify(cur.spec ?? null) !== JSON.stringify(next.spec ?? null);
      out.metadata = { ...out.metadata, generation: specChanged ? prevGen + 1 : prevGen };
      return out;
    };
    const current = (n: string): KubeObject | undefined => {
      try {
        return this.store.get(type, namespace, n);
      } catch {
        return undefined;
      }
    };

    switch (record.verb) {
      case 'list':
        return this.#send(res, 200, this.#list(type, namespace, query));
      case 'watch':
        return this.#watch(type, namespace, query, req, res);
      case 'get':
        return this.#send(res, 200, this.store.get(type, namespace, name!));
      case 'create': {
        if (name !== undefined) throw new ApiError(405, 'MethodNotAllowed', `POST is not allowed on a single ${type.kind}`);
        return this.#send(res, 201, this.store.create(type, writeView(undefined, (await readBody(req)) as KubeObject), namespace));
      }
      case 'update': {
        if (name === undefined) throw new ApiError(405, 'MethodNotAllowed', `PUT needs an object name`);
        const body = (await readBody(req)) as KubeObject;
        if (body?.metadata?.name !== name) {
          throw new ApiError(400, 'BadRequest', `the name of the object (${body?.metadata?.name}) does not match the name on the URL (${name})`);
        }
        const cur = current(name);
        if (!cur) return this.#send(res, 200, this.store.update(type, body, namespace));
        return this.#send(res, 200, this.store.update(type, writeView(cur, body), namespace));
      }
      case 'patch': {
        if (name === undefined) throw new ApiError(405, 'MethodNotAllowed', `PATCH needs an object name`);
        const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
        if (ct !== 'application/merge-patch+json' && ct !== 'application/strategic-merge-patch+json') {
          throw new ApiError(415, 'UnsupportedMediaType', `the double applies merge patches only; got content-type "${ct}"`);
        }
        const patch = await readBody(req);
        const cur = this.store.get(type, namespace, name);
        const next = mergePatch(cur, patch) as KubeObject;
        next.metadata = { ...next.metadata, name, resourceVersion: cur.metadata.resourceVersion };
        return this.#send(res, 200, this.store.update(type, writeView(cur, next), namespace));
      }
      case 'delete':
        if (name === undefined) throw new ApiError(405, 'MethodNotAllowed', `deleting a collection is not supported by the double`);
        return this.#send(res, 200, this.store.delete(type, namespace, name));
      default:
        throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported on ${url.pathname}`);
    }
  }

  /** `pods/exec` and `pods/attach` over WebSocket: checks the pod, runs the test's handler, sends its output and Status. */
  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double');
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams.entries()),
      verb: 'other',
      status: 101,
    };
    this.#record(record);
    const fail = (err: ApiError) => {
      record.status = err.code;
      throw err;
    };
    if (this.#options.token !== undefined && req.headers.authorization !== `Bearer ${this.#options.token}`) {
      return fail(new ApiError(401, 'Unauthorized', 'Unauthorized'));
    }
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach)$/.exec(url.pathname);
    if (!m) return fail(new ApiError(404, 'NotFound', `the double upgrades only pods/exec and pods/attach requests (${url.pathname})`));
    const [, namespace, podName, sub] = m as unknown as [string, string, string, 'exec' | 'attach'];
    Object.assign(record, { resource: 'pods', subresource: sub, verb: 'create' });
    const command = url.searchParams.getAll('command');
    if (sub === 'exec' && command.length === 0) return fail(new ApiError(400, 'BadRequest', 'exec: at least one command parameter is required'));
    let pod: KubeObject;
    try {
      pod = this.store.get(resourceType('pods'), namespace, podName);
    } catch (err) {
      return fail(err as ApiError);
    }
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (phase !== 'Running') {
      return fail(new ApiError(400, 'BadRequest', `unable to upgrade connection: pod ${podName} is ${phase ?? 'not started'}, not Running`));
    }
    const container = url.searchParams.get('container');
    if (container && sub === 'attach') {
      const spec = pod.spec as { containers?: { name?: string }[]; ephemeralContainers?: { name?: string }[] } | undefined;
      const names = [...(spec?.containers ?? []), ...(spec?.ephemeralContainers ?? [])].map((c) => c.name);
      if (!names.includes(container)) {
        return fail(new ApiError(400, 'BadRequest', `container ${container} is not valid for pod ${podName}`));
      }
    }
    const handler = sub === 'exec' ? this.#execHandler : this.#attachHandler;
    if (!handler) return fail(new ApiError(500, 'InternalError', `api server double: no ${sub} handler is set (set${sub === 'exec' ? 'Exec' : 'Attach'}Handler)`));
    const ws = await new Promise<WebSocket>((resolve) => this.#wss.handleUpgrade(req, socket, head, resolve));
    let result: ExecResult;
    try {
      if (sub === 'exec') {
        result = await this.#execHandler!({ namespace, pod: podName, command, object: pod, ...(container ? { container } : {}) });
      } else {
        // Channel 0 is stdin; v5's channel 255 with 0 closes it. Resize messages (channel 4) are ignored.
        const input = new PassThrough();
        ws.on('message', (data: Buffer) => {
          if (data[0] === 0) input.write(data.subarray(1));
          else if (data[0] === 255 && data[1] === 0) input.end();
        });
        ws.on('close', () => input.end());
        result = await this.#attachHandler!({ namespace, pod: podName, object: pod, input, ...(container ? { container } : {}) });
      }
    } catch (err) {
      result = { stderr: `${(err as Error).message}\n`, exitCode: 126 };
    }
    const frames = (channel: number, data: Buffer | string | undefined) => {
      const buf = typeof data === 'string' ? Buffer.from(data) : (data ?? Buffer.alloc(0));
      for (let off = 0; off < buf.length; off += EXEC_FRAME_BYTES) {
        ws.send(Buffer.concat([Buffer.from([channel]), buf.subarray(off, off + EXEC_FRAME_BYTES)]));
      }
    };
    frames(1, result.stdout);
    frames(2, result.stderr);
    const code = result.exitCode ?? 0;
    const status =
      code === 0
        ? { metadata: {}, status: 'Success' }
        : {
            metadata: {},
            status: 'Failure',
            message: `command terminated with non-zero exit code: error executing command [${command.join(' ') || 'attach'}]: exit status ${code}`,
            reason: 'NonZeroExitCode',
            details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
          };
    ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(status))]));
    ws.close(1000);
  }

  #selectors(query: Record<string, string>, namespace: string | undefined): Selector {
    const parts: Selector[] = [];
    if (namespace !== undefined) parts.push((o) => o.metadata.namespace === namespace);
    if (query.labelSelector) parts.push(parseLabelSelector(query.labelSelector));
    if (query.fieldSelector) parts.push(parseFieldSelector(query.fieldSelector));
    return (o) => parts.every((p) => p(o));
  }

  #list(type: ResourceType, namespace: string | undefined, query: Record<string, string>) {
    const match = this.#selectors(query, namespace);
    let rv = this.store.resourceVersion;
    let after = '';
    if (query.continue) {
      const token = decodeContinue(query.continue);
      if (token.rv < this.store.compactedResourceVersion) {
        throw new ApiError(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
      rv = token.rv;
      after = token.after;
    }
    const all = this.store
      .stateAt(type, rv)
      .filter((o) => objectKey(o.metadata.namespace, o.metadata.name) > after || after === '')
      .filter(match);
    const limit = query.limit ? Number(query.limit) : 0;
    if (query.limit && (!Number.isInteger(limit) || limit < 0)) {
      throw new ApiError(400, 'BadRequest', `limit: "${query.limit}" is not a non-negative integer`);
    }
    const page = limit > 0 ? all.slice(0, limit) : all;
    const more = limit > 0 && all.length > limit;
    const last = page[page.length - 1];
    const items = page.map((o) => {
      if (type.custom) return o;
      const { kind: _k, apiVersion: _a, ...rest } = o;
      return rest;
    });
    return {
      kind: `${type.kind}List`,
      apiVersion: apiVersionOf(type),
      metadata: {
        resourceVersion: String(rv),
        ...(more && last
          ? { continue: encodeContinue(rv, objectKey(last.metadata.namespace, last.metadata.name)), remainingItemCount: all.length - page.length }
          : {}),
      },
      items,
    };
  }

  #watch(type: ResourceType, namespace: string | undefined, query: Record<string, string>, req: IncomingMessage, res: ServerResponse): void {
    const match = this.#selectors(query, namespace);
    const rvParam = query.resourceVersion ?? '';
    const fromScratch = rvParam === '' || rvParam === '0';
    const from = fromScratch ? this.store.resourceVersion : Number(rvParam);
    if (!Number.isInteger(from)) throw new ApiError(400, 'BadRequest', `resourceVersion: "${rvParam}" is not a resource version`);
    const bookmarks = query.allowWatchBookmarks === 'true' || query.allowWatchBookmarks === '1';

    const pending: StoredEvent[] = [];
    let live = false;
    const deliver = (ev: StoredEvent) => {
      // A change that moves an object into or out of the selection is an ADDED or DELETED for this watch.
      const now = ev.type !== 'DELETED' && match(ev.object);
      const before = ev.previous !== undefined && match(ev.previous);
      let type: StoredEvent['type'] | undefined;
      if (ev.type === 'ADDED') type = now ? 'ADDED' : undefined;
      else if (ev.type === 'DELETED') type = before ? 'DELETED' : undefined;
      else type = now && before ? 'MODIFIED' : now ? 'ADDED' : before ? 'DELETED' : undefined;
      if (!type) return;
      this.#write(res, { type, object: ev.object });
    };
    let sub: { replay: StoredEvent[]; cancel: () => void };
    try {
      sub = this.store.watchFrom(type, from, (ev) => (live ? deliver(ev) : pending.push(ev)));
    } catch (err) {
      if (err instanceof ApiError && err.code === 410 && (this.#options.goneAs ?? 'event') === 'event') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(JSON.stringify({ type: 'ERROR', object: statusObject(410, 'Expired', err.message) }) + '\n');
        res.end();
        return;
      }
      throw err;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (fromScratch) {
      for (const o of this.store.stateAt(type, from).filter(match)) this.#write(res, { type: 'ADDED', object: o });
    } else {
      for (const ev of sub.replay) deliver(ev);
    }
    for (const ev of pending) deliver(ev);
    live = true;

    let timer: NodeJS.Timeout | undefined;
    const cancel = () => {
      sub.cancel();
      if (timer) clearTimeout(timer);
      this.#watches.delete(watch);
    };
    const watch: OpenWatch = { type, res, socket: req.socket, bookmarks, cancel };
    this.#watches.add(watch);
    const timeoutSeconds = Number(query.timeoutSeconds ?? 0);
    if (timeoutSeconds > 0) {
      timer = setTimeout(() => {
        cancel();
        res.end();
      }, timeoutSeconds * 1000);
    }
    res.on('close', cancel);
  }

  #groupList() {
    const groups = new Map<string, Set<string>>();
    for (const t of RESOURCE_TYPES) {
      if (t.group === '') continue;
      if (!groups.has(t.group)) groups.set(t.group, new Set());
      groups.get(t.group)!.add(t.version);
    }
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups].map(([name, versions]) => {
        const vs = [...versions].map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
        return { name, versions: vs, preferredVersion: vs[0] };
      }),
    };
  }

  #resourceList(group: string, version: string) {
    const resources = RESOURCE_TYPES.filter((t) => t.group === group && t.version === version);
    if (resources.length === 0) throw new ApiError(404, 'NotFound', `the server does not serve ${group || 'core'}/${version}`);
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group ? `${group}/${version}` : version,
      resources: resources.map((t) => ({
        name: t.plural,
        singularName: t.kind.toLowerCase(),
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      })),
    };
  }
}

/** Answers a refused upgrade as plain HTTP with a Status body, as the API server does, and closes the socket. */
function refuseUpgrade(socket: Duplex, err: unknown): void {
  const e = err instanceof ApiError ? err : new ApiError(500, 'InternalError', `api server double: ${(err as Error).message}`);
  const body = JSON.stringify(statusObject(e.code, e.reason, e.message, e.details));
  socket.end(
    `HTTP/1.1 ${e.code} ${e.reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Starts an API server double and waits until it listens. */
export async function startApiServerDouble(options: ApiServerDoubleOptions = {}): Promise<ApiServerDouble> {
  const api = new ApiServerDouble(options);
  await api.goOnline();
  return api;
}
