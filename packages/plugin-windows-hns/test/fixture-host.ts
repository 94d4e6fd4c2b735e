/**
 * A WindowsNetworkHost that answers from recorded responses, for driving the collector and the plugin on Linux.
 * Each answer is fixture text, an Error to reject with, or a function computing either.
 */
import { HnsCallError, HRESULT_ELEMENT_NOT_FOUND, VfpError } from '../src/errors.js';
import { canonicalGuid } from '../src/hns/guid.js';
import type { WindowsNetworkHost } from '../src/host.js';
import { EP, PORT, fixture, short } from './fixtures.js';

/** A recorded answer. */
export type Answer = string | Error | (() => string | Error | Promise<string>);

/** The answers of a FixtureHost. Keys of maps are canonical (lower-case) GUIDs or vfpctrl argument strings. */
export interface FixtureScript {
  list: Answer;
  properties: Map<string, Answer>;
  stats: Map<string, Answer>;
  vfpctrl: Map<string, Answer>;
}

/** One call the plugin made. */
export interface HostCall {
  fn: 'enumerateEndpoints' | 'queryEndpointProperties' | 'hnsCall' | 'vfpctrl';
  args: readonly unknown[];
}

async function answer(a: Answer | undefined, missing: () => Error): Promise<string> {
  const v = typeof a === 'function' ? await a() : a;
  if (v === undefined) throw missing();
  if (v instanceof Error) throw v;
  return v;
}

/** The recorded node: four endpoints (web, api, unknown pod, no IP) with their stats and VFP reports. */
export function recordedNode(): FixtureScript {
  const id = (x: string) => canonicalGuid(x);
  return {
    list: fixture('hns/endpoints.json'),
    properties: new Map(
      [EP.web, EP.api, EP.unknown, EP.noIp, EP.remote].map((e) => [
        id(e),
        fixture(`hns/endpoint-${short(e)}.json`),
      ]),
    ),
    stats: new Map([EP.web, EP.api, EP.unknown].map((e) => [id(e), fixture(`hns/stats-${short(e)}.json`)])),
    vfpctrl: new Map<string, Answer>([
      ['/list-vmswitch-port', fixture('vfp/list-vmswitch-port.txt')],
      ...[PORT.web, PORT.api, PORT.unknown].map(
        (p) =>
          [`/port ${id(p)} /get-port-counter`, fixture(`vfp/port-counter-${short(p)}.txt`)] as [
            string,
            Answer,
          ],
      ),
    ]),
  };
}

/** A WindowsNetworkHost serving a FixtureScript and recording every call. */
export class FixtureHost implements WindowsNetworkHost {
  readonly calls: HostCall[] = [];
  closed = 0;

  constructor(public script: FixtureScript = recordedNode()) {}

  /** Calls of one function. */
  callsOf(fn: HostCall['fn']): HostCall[] {
    return this.calls.filter((c) => c.fn === fn);
  }

  enumerateEndpoints(query: string): Promise<string> {
    this.calls.push({ fn: 'enumerateEndpoints', args: [query] });
    return answer(this.script.list, () => new Error('no recorded endpoint list'));
  }

  queryEndpointProperties(endpointId: string, query: string): Promise<string> {
    this.calls.push({ fn: 'queryEndpointProperties', args: [endpointId, query] });
    return answer(
      this.script.properties.get(canonicalGuid(endpointId)),
      () =>
        new HnsCallError(
          'HcnOpenEndpoint',
          HRESULT_ELEMENT_NOT_FOUND - 0x1_0000_0000,
          `endpoint ${endpointId}`,
          fixture('hns/error-record-not-found.json'),
        ),
    );
  }

  hnsCall(method: 'GET', path: string, request: string): Promise<string> {
    this.calls.push({ fn: 'hnsCall', args: [method, path, request] });
    const m = /^\/endpointstats\/(.+)$/.exec(path);
    return answer(
      m ? this.script.stats.get(canonicalGuid(m[1]!)) : undefined,
      () => new Error(`no recorded answer for ${path}`),
    );
  }

  vfpctrl(args: readonly string[], signal?: AbortSignal): Promise<string> {
    this.calls.push({ fn: 'vfpctrl', args: [...args, signal] });
    const key = args.map((a) => (/^[0-9a-f-]{36}$/i.test(a) ? canonicalGuid(a) : a)).join(' ');
    return answer(
      this.script.vfpctrl.get(key),
      () => new VfpError(`vfpctrl ${args.join(' ')} exited with code 1: ERROR: port not found`, 'exit'),
    );
  }

  close(): void {
    this.closed++;
  }
}
