/**
 * Options of the Hubble server, their defaults, and how they are read from the agent configuration (Retina's Hubble
 * ConfigMap keys, kept by core in `config.ciliumOptions`).
 */
import type { AgentConfig } from '@retina-ts/core';
import type { TlsOptions } from './tls.js';
import { isValidRingCapacity } from './ring.js';
import { splitMetricsList } from './metrics/options.js';
import type { FlowExportOptions } from './exporter.js';
import { parseExportFilters, parseFieldMask } from './exporter.js';

/** hubble_* metrics settings. */
export interface HubbleMetricsSettings {
  /** Metric specs, e.g. `flow:sourceEgressContext=pod;destinationIngressContext=pod`, `dns:query`. */
  enabled: string[];
  /** Listen address of /metrics (default `:9965`; `false` serves no HTTP listener). */
  listenAddress?: string | false;
  /** OpenMetrics exposition instead of Prometheus text. */
  openMetrics?: boolean;
  /** Series per family before new label combinations are counted under `other` (default 10000). */
  maxSeriesPerMetric?: number;
  /** Idle series are removed after this many milliseconds (default 600000; 0 keeps them). */
  seriesTtlMs?: number;
}

/** Options of `startHubble`. Every field has a default. */
export interface HubbleOptions {
  /** Flows kept for GetFlows: 2^n-1 from 1 to 65535 (default 4095). */
  ringCapacity?: number;
  /** Unix socket path (default `/var/run/cilium/hubble.sock`; `false` for none). Always plaintext. */
  unixSocket?: string | false;
  /** TCP listen address (default `:4244`; `false` for none). */
  listenAddress?: string | false;
  /** TLS (and mutual TLS with client CA files) for the TCP listener; plaintext when absent. */
  tls?: TlsOptions;
  /** hubble_* metrics; none when absent or `enabled` is empty. */
  metrics?: HubbleMetricsSettings;
  /** Cluster name: prefixes node names unless empty or `default`. */
  clusterName?: string;
  /** This node's IP, announced to Hubble Relay through Peer.Notify. */
  nodeIp?: string;
  /** A live follower further than this many flows behind the newest skips ahead (default: ringCapacity). */
  followerBufferSize?: number;
  /** Version reported by ServerStatus and GetNodes. */
  version?: string;
  /** Flows written as JSON lines to a rotated file (Hubble's flow export); none when absent. */
  export?: FlowExportOptions;
}

/**
 * Defaults of the options. The TCP listener binds every address only with TLS (as Retina's chart runs it, with
 * mutual TLS); without TLS it binds loopback unless an address is named.
 */
export const HUBBLE_DEFAULTS = {
  ringCapacity: 4095,
  unixSocket: '/var/run/cilium/hubble.sock',
  listenAddress: ':4244',
  plaintextListenAddress: '127.0.0.1:4244',
  metricsListenAddress: ':9965',
} as const;

/** Where Retina's chart mounts the Hubble server certificate, key and client CA (used when TLS is switched on). */
export const HUBBLE_TLS_DEFAULT_FILES = {
  certFile: '/var/lib/cilium/tls/hubble/server.crt',
  keyFile: '/var/lib/cilium/tls/hubble/server.key',
  clientCaFile: '/var/lib/cilium/tls/hubble/client-ca.crt',
} as const;

/** A host and port parsed from `host:port`, `:port` or `[v6]:port`. */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses a Go-style listen address; an empty host means every address. */
export function parseListenAddress(address: string, what: string): HostPort {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d+)$/.exec(address.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(
      `${what}: ${JSON.stringify(address)} is not a listen address (examples: :4244, 0.0.0.0:4244, [::1]:4244)`,
    );
  }
  return { host: m[1] ?? m[2] ?? '', port };
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|t|true|yes|on)$/i.test(value.trim());
}

/** Options read from the agent configuration, and notes about settings that could not be honoured as written. */
export interface OptionsFromConfig {
  options: HubbleOptions;
  warnings: string[];
}

/**
 * Reads Retina's Hubble ConfigMap keys: `hubble-event-buffer-capacity`, `hubble-socket-path`,
 * `hubble-listen-address`, `hubble-disable-tls`, `hubble-tls-cert-file`, `hubble-tls-key-file`,
 * `hubble-tls-client-ca-files`, `hubble-metrics`, `hubble-metrics-server`, `enable-hubble-open-metrics`, plus
 * `clusterName` and `nodeIp`. Throws for values that cannot be used (bad capacity or address).
 */
export function hubbleOptionsFromConfig(config: AgentConfig): OptionsFromConfig {
  const o = config.ciliumOptions;
  const warnings: string[] = [];
  const options: HubbleOptions = {};
  const capacity = o['hubble-event-buffer-capacity'];
  if (capacity !== undefined && capacity.trim() !== '') {
    const n = Number(capacity);
    if (!isValidRingCapacity(n)) {
      throw new Error(
        `hubble-event-buffer-capacity: ${JSON.stringify(capacity)} is not 2^n-1 between 1 and 65535 (e.g. 4095)`,
      );
    }
    options.ringCapacity = n;
  }
  const socket = o['hubble-socket-path'];
  if (socket !== undefined) options.unixSocket = socket.trim() === '' ? false : socket.trim();
  const listen = o['hubble-listen-address'];
  if (listen !== undefined) {
    options.listenAddress = listen.trim() === '' ? false : listen.trim();
    if (options.listenAddress) parseListenAddress(options.listenAddress, 'hubble-listen-address');
  }
  const certFile = o['hubble-tls-cert-file']?.trim();
  const keyFile = o['hubble-tls-key-file']?.trim();
  const caFiles = (o['hubble-tls-client-ca-files'] ?? '').split(/[\s,]+/).filter((f) => f !== '');
  const disableTls = o['hubble-disable-tls'];
  if (disableTls !== undefined && disableTls.trim() !== '' && !truthy(disableTls)) {
    // The one switch a chart sets (`hubble-disable-tls: "false"`): mutual TLS with the files where the chart mounts
    // them, unless other paths are named. Missing files fail the start; the listener never falls back to plaintext.
    if (options.listenAddress !== false) {
      options.tls = {
        certFile: certFile || HUBBLE_TLS_DEFAULT_FILES.certFile,
        keyFile: keyFile || HUBBLE_TLS_DEFAULT_FILES.keyFile,
        clientCaFiles: caFiles.length > 0 ? caFiles : [HUBBLE_TLS_DEFAULT_FILES.clientCaFile],
      };
    }
  } else if (!truthy(disableTls) && options.listenAddress !== false) {
    if (certFile && keyFile) {
      options.tls = { certFile, keyFile, ...(caFiles.length > 0 ? { clientCaFiles: caFiles } : {}) };
    } else if (certFile || keyFile || caFiles.length > 0) {
      warnings.push(
        'hubble TLS needs both hubble-tls-cert-file and hubble-tls-key-file; the TCP listener serves plaintext',
      );
    }
  }
  if (!options.tls && typeof options.listenAddress === 'string') {
    const { host } = parseListenAddress(options.listenAddress, 'hubble-listen-address');
    if (host === '' || host === '0.0.0.0' || host === '::') {
      warnings.push(
        `hubble-listen-address ${JSON.stringify(options.listenAddress)} serves plaintext gRPC on every interface; ` +
          'set hubble-disable-tls: "false" (with certificates) or bind 127.0.0.1',
      );
    }
  }
  const metrics = o['hubble-metrics'];
  if (metrics !== undefined && metrics.trim() !== '') {
    const server = o['hubble-metrics-server'];
    options.metrics = {
      enabled: splitMetricsList(metrics),
      listenAddress:
        server === undefined
          ? HUBBLE_DEFAULTS.metricsListenAddress
          : server.trim() === ''
            ? false
            : server.trim(),
      openMetrics: truthy(o['enable-hubble-open-metrics']),
    };
    if (options.metrics.listenAddress)
      parseListenAddress(options.metrics.listenAddress, 'hubble-metrics-server');
  }
  const exportPath = o['hubble-export-file-path']?.trim();
  if (exportPath) {
    options.export = {
      filePath: exportPath,
      allowlist: parseExportFilters(o['hubble-export-allowlist'], 'hubble-export-allowlist'),
      denylist: parseExportFilters(o['hubble-export-denylist'], 'hubble-export-denylist'),
      fieldMask: parseFieldMask(o['hubble-export-fieldmask']),
    };
    const size = exportNumber(o['hubble-export-file-max-size-mb'], 'hubble-export-file-max-size-mb', 1);
    if (size !== undefined) options.export.maxSizeMb = size;
    const backups = exportNumber(o['hubble-export-file-max-backups'], 'hubble-export-file-max-backups', 0);
    if (backups !== undefined) options.export.maxBackups = backups;
  }
  if (config.clusterName) options.clusterName = config.clusterName;
  if (config.nodeIp) options.nodeIp = config.nodeIp;
  return { options, warnings };
}

/** An integer export setting of at least `min` (up to 100000), or undefined when unset. */
function exportNumber(value: string | undefined, key: string, min: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value.trim());
  if (!Number.isInteger(n) || n < min || n > 100_000) {
    throw new Error(`${key}: ${JSON.stringify(value)} is not a whole number from ${min} to 100000`);
  }
  return n;
}
