/**
 * The Hubble server of one node: Observer (GetFlows, ServerStatus, GetNodes, GetNamespaces; UNIMPLEMENTED for agent
 * and debug events), Peer (Notify) and grpc.health.v1 (SERVING for `hubble.server.Observer`), on a unix socket
 * (plaintext) and a TCP listener (plaintext, TLS or mutual TLS), plus hubble_* metrics on their own HTTP listener.
 */
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '@retina-ts/core';
import { absoluteNodeName } from './convert.js';
import type { GetFlowsRequestInput } from './getflows.js';
import {
  FlowStreamer,
  RequestError,
  ResponseEncoder,
  TurnScheduler,
  parseGetFlowsRequest,
} from './getflows.js';
import { HubbleMetrics } from './metrics/hubble-metrics.js';
import { parseMetricsConfig } from './metrics/options.js';
import type { FlowSource } from './observer.js';
import { HubbleObserver } from './observer.js';
import type { HubbleOptions } from './options.js';
import { HUBBLE_DEFAULTS, parseListenAddress } from './options.js';
import type { ChangeNotification } from './peers.js';
import { PeerRegistry, hubbleServerName, peerAddress, preferredNodeIp } from './peers.js';
import { hubblePackageDefinition, hubbleTypes } from './protos.js';
import { ReloadingTlsCredentials } from './tls.js';
import { FlowExporter } from './exporter.js';

/** Service name `hubble status` checks with grpc.health.v1. */
export const OBSERVER_HEALTH_SERVICE = 'hubble.server.Observer';

/** The package version (also reported as the server version). */
export const HUBBLE_PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Arguments of `startHubble`. */
export interface StartHubbleArgs {
  /** Where flows come from (core's FlowBus). */
  flowBus: FlowSource;
  /** This node's name. */
  nodeName: string;
  logger?: Logger;
  options?: HubbleOptions;
}

/** Largest request message accepted (RESOURCE_EXHAUSTED beyond). */
export const MAX_REQUEST_BYTES = 1024 * 1024;

const HealthStatus = { SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

type UnaryCallback = grpc.sendUnaryData<unknown>;

function serviceOf(name: string): grpc.ServiceDefinition {
  return hubblePackageDefinition()[name] as grpc.ServiceDefinition;
}

function grpcError(code: grpc.status, details: string): Partial<grpc.StatusObject> {
  return { code, details };
}

/** A running Hubble server; `stop()` releases every listener. */
export class HubbleServer {
  readonly observer: HubbleObserver;
  readonly peers: PeerRegistry;
  readonly metrics: HubbleMetrics | undefined;
  readonly nodeName: string;
  readonly version: string;
  /** Bound TCP port (undefined without a TCP listener). */
  tcpPort: number | undefined;
  /** Unix socket path (undefined without one). */
  unixSocket: string | undefined;
  /** Bound metrics port (undefined without a metrics listener). */
  metricsPort: number | undefined;
  /** The flow export to a file (undefined unless configured). */
  exporter: FlowExporter | undefined;

  readonly #options: HubbleOptions;
  readonly #logger: Logger | undefined;
  // Requests are small (the CLI's filters are a few hundred bytes); a megabyte bounds what one message can cost.
  readonly #grpc = new grpc.Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES });
  readonly #encoder: ResponseEncoder;
  readonly #streamers = new Set<FlowStreamer>();
  readonly #scheduler = new TurnScheduler();
  readonly #longCalls = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  readonly #healthWatchers = new Set<() => void>();
  #credentials: ReloadingTlsCredentials | undefined;
  #metricsHttp: HttpServer | undefined;
  #serving = true;
  #stopping: Promise<void> | undefined;

  private constructor(args: StartHubbleArgs, credentials: ReloadingTlsCredentials | undefined) {
    const options = args.options ?? {};
    this.#options = options;
    this.#logger = args.logger;
    this.#credentials = credentials;
    this.nodeName = args.nodeName;
    this.version = options.version ?? `retina-ts v${HUBBLE_PACKAGE_VERSION}`;
    const types = hubbleTypes();
    this.#encoder = new ResponseEncoder(types.getFlowsResponse);
    const parsed = parseMetricsConfig(options.metrics?.enabled ?? []);
    for (const warning of parsed.warnings) this.#logger?.warn(warning);
    this.metrics =
      parsed.handlers.length > 0
        ? new HubbleMetrics({
            handlers: parsed.handlers,
            enums: { verdict: types.verdict, dropReason: types.dropReason, ipVersion: types.ipVersion },
            openMetrics: options.metrics?.openMetrics ?? false,
            ...(options.metrics?.maxSeriesPerMetric !== undefined
              ? { maxSeriesPerMetric: options.metrics.maxSeriesPerMetric }
              : {}),
            ...(options.metrics?.seriesTtlMs !== undefined
              ? { seriesTtlMs: options.metrics.seriesTtlMs }
              : {}),
          })
        : undefined;
    this.observer = new HubbleObserver({
      ringCapacity: options.ringCapacity ?? HUBBLE_DEFAULTS.ringCapacity,
      convert: {
        nodeName: args.nodeName,
        ...(options.clusterName ? { clusterName: options.clusterName } : {}),
        emitter: { name: 'Retina', version: HUBBLE_PACKAGE_VERSION },
        structType: types.struct,
      },
      ...(this.metrics ? { metrics: this.metrics } : {}),
      ...(args.logger ? { logger: args.logger } : {}),
    });
    this.peers = new PeerRegistry({
      ...(options.clusterName ? { clusterName: options.clusterName } : {}),
      tls: credentials !== undefined,
    });
    this.#addServices();
  }

  /** Builds the server, binds every listener and starts observing; throws naming the listener that failed. */
  static async start(args: StartHubbleArgs): Promise<HubbleServer> {
    const tlsOptions = args.options?.tls;
    const credentials = tlsOptions
      ? await ReloadingTlsCredentials.create(tlsOptions, args.logger)
      : undefined;
    const server = new HubbleServer(args, credentials);
    try {
      await server.#listen();
    } catch (err) {
      await server.stop();
      throw err;
    }
    if (args.options?.export) {
      try {
        server.exporter = new FlowExporter(server.observer.ring, args.options.export, args.logger);
      } catch (err) {
        await server.stop();
        throw err;
      }
    }
    server.observer.attach(args.flowBus);
    credentials?.startReloading();
    server.peers.upsert({ name: args.nodeName, address: server.#selfAddress() });
    args.logger?.info(
      {
        unixSocket: server.unixSocket,
        tcpPort: server.tcpPort,
        tls: credentials ? (credentials.mutual ? 'mtls' : 'tls') : 'off',
        metricsPort: server.metricsPort,
        ringCapacity: server.observer.ring.capacity,
      },
      'hubble server started',
    );
    return server;
  }

  /** GetFlows streams currently open. */
  get activeFlowStreams(): number {
    return this.#streamers.size;
  }

  /** Peer.Notify and Health.Watch streams currently open. */
  get activeWatchStreams(): number {
    return this.#longCalls.size;
  }

  /** Whether the TCP listener uses TLS. */
  get tls(): boolean {
    return this.#credentials !== undefined;
  }

  /** Re-reads the TLS files now (they are also re-read periodically). */
  async reloadTls(): Promise<boolean> {
    return (await this.#credentials?.reload()) ?? false;
  }

  /**
   * Announces a cluster node (from the Kubernetes node watcher) through Peer.Notify at `<InternalIP>:<port>`, the port
   * being this node's Hubble port (every agent of a DaemonSet listens alike). For this node, NODE_IP wins over the
   * node object. A node without an InternalIP is withdrawn: Relay could not dial it.
   */
  setNode(name: string, ips: readonly string[]): void {
    if (name === this.nodeName && this.#options.nodeIp) return;
    const ip = preferredNodeIp(ips);
    if (ip === undefined) {
      if (name === this.nodeName) this.peers.upsert({ name, address: this.#selfAddress() });
      else this.peers.remove(name);
      return;
    }
    this.peers.upsert({ name, address: peerAddress(ip, this.#peerPort()) });
  }

  /** Withdraws a node that left the cluster (this node stays announced). */
  removeNode(name: string): void {
    if (name === this.nodeName) this.peers.upsert({ name, address: this.#selfAddress() });
    else this.peers.remove(name);
  }

  #peerPort(): number {
    if (this.tcpPort !== undefined) return this.tcpPort;
    const listen = this.#options.listenAddress;
    return typeof listen === 'string' ? parseListenAddress(listen, 'hubble listen address').port : 4244;
  }

  #selfAddress(): string {
    const ip = this.#options.nodeIp;
    if (ip && this.tcpPort !== undefined) return peerAddress(ip, this.tcpPort);
    if (this.unixSocket) return `unix://${this.unixSocket}`;
    return `localhost:${this.tcpPort ?? 4244}`;
  }

  async #listen(): Promise<void> {
    const bind = (address: string, creds: grpc.ServerCredentials) =>
      new Promise<number>((resolve, reject) => {
        this.#grpc.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port)));
      });
    const socket = this.#options.unixSocket ?? HUBBLE_DEFAULTS.unixSocket;
    if (socket !== false) {
      prepareSocketPath(socket);
      try {
        await bind(`unix:${socket}`, grpc.ServerCredentials.createInsecure());
      } catch (err) {
        throw new Error(`hubble: cannot listen on unix socket ${socket}: ${(err as Error).message}`);
      }
      this.unixSocket = socket;
    }
    const listen =
      this.#options.listenAddress ??
      (this.#credentials ? HUBBLE_DEFAULTS.listenAddress : HUBBLE_DEFAULTS.plaintextListenAddress);
    if (listen !== false) {
      const { host, port } = parseListenAddress(listen, 'hubble listen address');
      const creds = this.#credentials ?? grpc.ServerCredentials.createInsecure();
      const candidates =
        host === ''
          ? [`[::]:${port}`, `0.0.0.0:${port}`]
          : [host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`];
      let lastError: unknown;
      for (const candidate of candidates) {
        try {
          this.tcpPort = await bind(candidate, creds);
          break;
        } catch (err) {
          lastError = err;
        }
      }
      if (this.tcpPort === undefined) {
        throw new Error(`hubble: cannot listen on ${listen}: ${(lastError as Error).message}`);
      }
    }
    const metricsListen = this.#options.metrics?.listenAddress ?? HUBBLE_DEFAULTS.metricsListenAddress;
    if (this.metrics && metricsListen !== false) {
      const { host, port } = parseListenAddress(metricsListen, 'hubble metrics listen address');
      this.metricsPort = await this.#listenMetrics(host, port);
    }
  }

  #listenMetrics(host: string, port: number): Promise<number> {
    const metrics = this.metrics as HubbleMetrics;
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end('not found: hubble metrics are served at GET /metrics\n');
        return;
      }
      metrics.expose().then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        (err: unknown) => {
          this.#logger?.error({ err }, 'hubble: metrics exposition failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics exposition failed\n');
        },
      );
    });
    this.#metricsHttp = server;
    return new Promise((resolve, reject) => {
      server.once('error', (err) =>
        reject(new Error(`hubble: cannot serve metrics on ${host || '*'}:${port}: ${err.message}`)),
      );
      server.listen(port, host === '' ? undefined : host, () =>
        resolve((server.address() as AddressInfo).port),
      );
    });
  }

  #addServices(): void {
    const observer = serviceOf('observer.Observer');
    const getFlows = observer.GetFlows as grpc.MethodDefinition<unknown, Uint8Array>;
    // Responses are encoded by the streamer (once per flow for all clients), so they pass through unchanged.
    const observerService: grpc.ServiceDefinition = {
      ...observer,
      GetFlows: {
        ...getFlows,
        responseSerialize: (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      },
    };
    this.#grpc.addService(observerService, {
      GetFlows: (call: grpc.ServerWritableStream<GetFlowsRequestInput, Uint8Array>) => this.#getFlows(call),
      ServerStatus: (_call: unknown, cb: UnaryCallback) => cb(null, this.serverStatus()),
      GetNodes: (_call: unknown, cb: UnaryCallback) => cb(null, { nodes: [this.#selfNode()] }),
      GetNamespaces: (_call: unknown, cb: UnaryCallback) =>
        cb(null, { namespaces: this.observer.namespaces() }),
      GetAgentEvents: (call: grpc.ServerWritableStream<unknown, unknown>) =>
        call.emit(
          'error',
          grpcError(grpc.status.UNIMPLEMENTED, 'GetAgentEvents: this server records no Cilium agent events'),
        ),
      GetDebugEvents: (call: grpc.ServerWritableStream<unknown, unknown>) =>
        call.emit(
          'error',
          grpcError(
            grpc.status.UNIMPLEMENTED,
            'GetDebugEvents: this server records no Cilium datapath debug events',
          ),
        ),
    });
    this.#grpc.addService(serviceOf('peer.Peer'), {
      Notify: (call: grpc.ServerWritableStream<unknown, ChangeNotification>) => this.#notify(call),
    });
    this.#grpc.addService(serviceOf('grpc.health.v1.Health'), {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: UnaryCallback) => {
        const status = this.#healthOf(call.request.service);
        if (status === HealthStatus.SERVICE_UNKNOWN) {
          cb(grpcError(grpc.status.NOT_FOUND, `unknown service ${JSON.stringify(call.request.service)}`));
        } else {
          cb(null, { status });
        }
      },
      Watch: (call: grpc.ServerWritableStream<{ service: string }, unknown>) => this.#watchHealth(call),
    });
  }

  /** The ServerStatus response of this node. */
  serverStatus(): Record<string, unknown> {
    const ring = this.observer.ring;
    return {
      num_flows: ring.size,
      max_flows: ring.capacity,
      seen_flows: this.observer.seenFlows,
      uptime_ns: this.observer.uptimeNs().toString(),
      version: this.version,
      flows_rate: this.observer.flowsRate(),
    };
  }

  #selfNode(): Record<string, unknown> {
    const status = this.serverStatus();
    return {
      name: absoluteNodeName(this.nodeName, this.#options.clusterName),
      version: this.version,
      address: this.#selfAddress(),
      state: 1, // relay.NodeState.NODE_CONNECTED
      tls: {
        enabled: this.tls,
        server_name: this.tls ? hubbleServerName(this.nodeName, this.#options.clusterName) : '',
      },
      uptime_ns: status.uptime_ns,
      num_flows: status.num_flows,
      max_flows: status.max_flows,
      seen_flows: status.seen_flows,
    };
  }

  #getFlows(call: grpc.ServerWritableStream<GetFlowsRequestInput, Uint8Array>): void {
    if (!this.#serving) {
      call.emit('error', grpcError(grpc.status.UNAVAILABLE, 'hubble server is shutting down'));
      return;
    }
    let query;
    try {
      query = parseGetFlowsRequest(call.request);
    } catch (err) {
      if (err instanceof RequestError) {
        const code =
          err.kind === 'unimplemented'
            ? grpc.status.UNIMPLEMENTED
            : err.kind === 'exhausted'
              ? grpc.status.RESOURCE_EXHAUSTED
              : grpc.status.INVALID_ARGUMENT;
        call.emit('error', grpcError(code, err.message));
        return;
      }
      throw err;
    }
    const streamer = new FlowStreamer({
      ring: this.observer.ring,
      query,
      encoder: this.#encoder,
      nodeName: absoluteNodeName(this.nodeName, this.#options.clusterName),
      maxLag: this.#options.followerBufferSize ?? this.observer.ring.capacity,
      sink: {
        write: (bytes) => call.write(bytes),
        onceDrain: (fn) => call.once('drain', fn),
        end: () => call.end(),
      },
      onLost: (n) => this.metrics?.lost('hubble_ring_buffer', n),
      scheduler: this.#scheduler,
    });
    this.#streamers.add(streamer);
    void streamer.done.then(() => this.#streamers.delete(streamer));
    const stop = () => streamer.stop();
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
    streamer.start();
  }

  #notify(call: grpc.ServerWritableStream<unknown, ChangeNotification>): void {
    for (const change of this.peers.snapshot()) call.write(change);
    const unsubscribe = this.peers.subscribe((change) => call.write(change));
    this.#longCalls.add(call as grpc.ServerWritableStream<unknown, unknown>);
    const stop = () => {
      unsubscribe();
      this.#longCalls.delete(call as grpc.ServerWritableStream<unknown, unknown>);
    };
    call.on('cancelled', stop);
    call.on('close', stop);
  }

  #healthOf(service: string): number {
    if (service !== '' && service !== OBSERVER_HEALTH_SERVICE) return HealthStatus.SERVICE_UNKNOWN;
    return this.#serving ? HealthStatus.SERVING : HealthStatus.NOT_SERVING;
  }

  #watchHealth(call: grpc.ServerWritableStream<{ service: string }, unknown>): void {
    let last = this.#healthOf(call.request.service);
    call.write({ status: last });
    const onChange = () => {
      const now = this.#healthOf(call.request.service);
      if (now !== last) call.write({ status: now });
      last = now;
    };
    this.#healthWatchers.add(onChange);
    this.#longCalls.add(call as grpc.ServerWritableStream<unknown, unknown>);
    const stop = () => {
      this.#healthWatchers.delete(onChange);
      this.#longCalls.delete(call as grpc.ServerWritableStream<unknown, unknown>);
    };
    call.on('cancelled', stop);
    call.on('close', stop);
  }

  /**
   * Stops: health turns NOT_SERVING, flow intake stops, open streams end with status OK, listeners close (waiting up
   * to `graceMs` for calls in flight, default 5000), the unix socket file is removed. Idempotent.
   */
  stop(graceMs = 5000): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#serving = false;
    for (const watcher of [...this.#healthWatchers]) watcher();
    this.observer.detach();
    this.metrics?.close();
    this.#credentials?.stopReloading();
    for (const streamer of [...this.#streamers]) streamer.close();
    for (const call of [...this.#longCalls]) call.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#grpc.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.#grpc.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (this.#metricsHttp) {
      const http = this.#metricsHttp;
      await new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
    }
    if (this.unixSocket) rmSync(this.unixSocket, { force: true });
    await this.exporter?.stop();
    this.#logger?.info('hubble server stopped');
  }
}

/** Creates the socket's directory and removes a stale socket left by an earlier run; refuses to replace other files. */
function prepareSocketPath(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  let isSocket: boolean;
  try {
    isSocket = statSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) {
    throw new Error(
      `hubble: ${path} exists and is not a socket; remove it or choose another unixSocket path`,
    );
  }
  rmSync(path, { force: true });
}

/** Starts a Hubble server over the flows of `flowBus`; see README for the options. Call `stop()` to release it. */
export function startHubble(args: StartHubbleArgs): Promise<HubbleServer> {
  return HubbleServer.start(args);
}
