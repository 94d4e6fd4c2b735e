/**
 * One poll of the node: list the endpoints through HCN, read each one's HNS counters and, where its VFP port is
 * known, its VFP port counters. The collector talks only to the WindowsNetworkHost interface and decodes with the
 * pure parsers, so it runs the same against Windows and against recorded responses.
 */
import pMap from 'p-map';
import { HnsCallError, HnsRequestError } from './errors.js';
import {
  decodeEndpoint,
  decodeEndpointIdList,
  decodeEndpointStats,
  type HnsCounters,
  type HnsEndpoint,
} from './hns/decode.js';
import { endpointQuery, endpointStatsPath } from './hns/query.js';
import type { WindowsNetworkHost } from './host.js';
import { parseVfpPortCounters, portCounterArgs, type VfpPortCounters } from './vfp/counters.js';
import { LIST_PORTS_ARGS, parseVmSwitchPorts, portsByMac } from './vfp/ports.js';

/** Code-unit order: the same on every host, and no ICU collation data loaded (unlike localeCompare). */
const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** What one endpoint contributed to a poll. */
export interface EndpointSample {
  /** Canonical endpoint GUID. */
  id: string;
  /** The endpoint's IPs, primary first. */
  ips: string[];
  /** HNS counters. */
  hns: HnsCounters;
  /** VFP port counters, when the port was found and read. */
  vfp?: VfpPortCounters;
  /** The VFP port GUID used. */
  portId?: string;
}

/** Where a problem happened during a poll. */
export type CollectStage = 'properties' | 'stats' | 'vfp-ports' | 'vfp-port' | 'vfp-counters';

/** A survivable problem of one poll (the endpoint is skipped, or has no VFP counters). */
export interface CollectProblem {
  stage: CollectStage;
  /** The endpoint concerned; absent for node-wide problems (the vSwitch port list). */
  endpoint?: string;
  message: string;
}

/** What a poll found. */
export interface CollectReport {
  /** Endpoints HCN listed. */
  listed: number;
  /** Endpoints whose HNS counters were read. */
  sampled: number;
  /** Of those, endpoints whose VFP counters were read too. */
  withVfp: number;
  /** Endpoints left out on purpose: on another host, without an IP, or deleted while the poll ran. */
  skipped: { remote: number; noIp: number; vanished: number };
  problems: CollectProblem[];
}

/** Settings of the collector (from the plugin options). */
export interface HnsCollectorOptions {
  attachedOnly: boolean;
  vfpCounters: boolean;
  concurrency: number;
}

/** How an endpoint's VFP port was resolved. */
type PortLookup = { portId: string } | { missing: string } | { unavailable: true };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isVanished(err: unknown): boolean {
  return (err instanceof HnsCallError || err instanceof HnsRequestError) && err.notFound;
}

/** Reads endpoints and their counters through a WindowsNetworkHost. */
export class HnsCollector {
  readonly #host: WindowsNetworkHost;
  readonly #options: HnsCollectorOptions;
  readonly #query: string;

  constructor(host: WindowsNetworkHost, options: HnsCollectorOptions) {
    this.#host = host;
    this.#options = options;
    this.#query = endpointQuery({ attachedOnly: options.attachedOnly });
  }

  /** The HCN query sent for listing and reading endpoints. */
  get query(): string {
    return this.#query;
  }

  /** Lists the endpoint IDs (HcnEnumerateEndpoints). Throws when HCN cannot list them: nothing is known then. */
  async listEndpointIds(): Promise<string[]> {
    return decodeEndpointIdList(await this.#host.enumerateEndpoints(this.#query));
  }

  /**
   * Runs one poll. Only a failure to list the endpoints rejects; problems with single endpoints or with vfpctrl are
   * reported in `report.problems` and the rest of the node is still sampled. Samples are ordered by endpoint ID.
   */
  async collect(signal?: AbortSignal): Promise<{ samples: EndpointSample[]; report: CollectReport }> {
    const ids = await this.listEndpointIds();
    const report: CollectReport = {
      listed: ids.length,
      sampled: 0,
      withVfp: 0,
      skipped: { remote: 0, noIp: 0, vanished: 0 },
      problems: [],
    };
    const mapOptions = { concurrency: this.#options.concurrency, ...(signal ? { signal } : {}) };

    const described = await pMap(
      ids,
      async (id) => {
        try {
          return decodeEndpoint(await this.#host.queryEndpointProperties(id, this.#query), id);
        } catch (err) {
          if (isVanished(err)) report.skipped.vanished++;
          else report.problems.push({ stage: 'properties', endpoint: id, message: message(err) });
          return undefined;
        }
      },
      mapOptions,
    );
    const endpoints: HnsEndpoint[] = [];
    for (const ep of described) {
      if (!ep) continue;
      // Remote endpoints belong to other hosts, and endpoints without an IP to no pod: neither has local counters.
      if (ep.remote) report.skipped.remote++;
      else if (ep.ips.length === 0) report.skipped.noIp++;
      else endpoints.push(ep);
    }

    const portOf = await this.#portResolver(endpoints, report, signal);

    const samples = await pMap(
      endpoints,
      async (ep): Promise<EndpointSample | undefined> => {
        let hns: HnsCounters;
        try {
          hns = decodeEndpointStats(await this.#host.hnsCall('GET', endpointStatsPath(ep.id), ''), ep.id);
        } catch (err) {
          if (isVanished(err)) report.skipped.vanished++;
          else report.problems.push({ stage: 'stats', endpoint: ep.id, message: message(err) });
          return undefined;
        }
        const sample: EndpointSample = { id: ep.id, ips: ep.ips, hns };
        if (!portOf) return sample;
        const port = portOf(ep);
        if ('unavailable' in port) return sample;
        if ('missing' in port) {
          report.problems.push({ stage: 'vfp-port', endpoint: ep.id, message: port.missing });
          return sample;
        }
        const { portId } = port;
        sample.portId = portId;
        try {
          const text = await this.#host.vfpctrl(portCounterArgs(portId), signal);
          sample.vfp = parseVfpPortCounters(text, portId);
        } catch (err) {
          report.problems.push({ stage: 'vfp-counters', endpoint: ep.id, message: message(err) });
        }
        return sample;
      },
      mapOptions,
    );

    const kept = samples
      .filter((s): s is EndpointSample => s !== undefined)
      .sort((a, b) => compareStrings(a.id, b.id));
    report.sampled = kept.length;
    report.withVfp = kept.filter((s) => s.vfp).length;
    report.problems.sort(
      (a, b) => compareStrings(a.stage, b.stage) || compareStrings(a.endpoint ?? '', b.endpoint ?? ''),
    );
    return { samples: kept, report };
  }

  /**
   * Finds each endpoint's VFP port: the port GUID HCN reports, else the vSwitch port with the endpoint's MAC
   * address (listed once per poll, only when some endpoint needs it). Undefined when VFP counters are off; an
   * endpoint whose port cannot be known because the listing failed is `unavailable` (the listing failure is the
   * one problem reported).
   */
  async #portResolver(
    endpoints: readonly HnsEndpoint[],
    report: CollectReport,
    signal: AbortSignal | undefined,
  ): Promise<((ep: HnsEndpoint) => PortLookup) | undefined> {
    if (!this.#options.vfpCounters) return undefined;
    let byMac: Map<string, string> | undefined = new Map();
    if (endpoints.some((ep) => !ep.portId)) {
      try {
        byMac = portsByMac(parseVmSwitchPorts(await this.#host.vfpctrl(LIST_PORTS_ARGS, signal)));
      } catch (err) {
        byMac = undefined;
        report.problems.push({ stage: 'vfp-ports', message: message(err) });
      }
    }
    return (ep) => {
      if (ep.portId) return { portId: ep.portId };
      if (!byMac) return { unavailable: true };
      if (!ep.mac)
        return { missing: `endpoint ${ep.id} reports no MAC address, so its vSwitch port cannot be found` };
      const portId = byMac.get(ep.mac);
      return portId
        ? { portId }
        : { missing: `no vSwitch port has the MAC address ${ep.mac} of endpoint ${ep.id}` };
    };
  }
}
