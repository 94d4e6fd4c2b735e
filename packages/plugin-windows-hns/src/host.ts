/**
 * The OS boundary: the only things the plugin asks of Windows. Everything here returns raw text exactly as Windows
 * produced it; decoding happens in pure code. The real implementation is `openWindowsHost` (windows-host.ts);
 * tests substitute recorded responses.
 */

/** Access to the Host Networking Service and to vfpctrl. */
export interface WindowsNetworkHost {
  /**
   * `HcnEnumerateEndpoints(query)`: the JSON array of endpoint GUIDs matching `query`.
   * Rejects with an HnsCallError when HCN fails.
   */
  enumerateEndpoints(query: string): Promise<string>;
  /**
   * `HcnOpenEndpoint` + `HcnQueryEndpointProperties(query)` + `HcnCloseEndpoint`: the endpoint's properties JSON.
   * Rejects with an HnsCallError (its `notFound` is true when the endpoint was deleted meanwhile).
   */
  queryEndpointProperties(endpointId: string, query: string): Promise<string>;
  /** `HNSCall(method, path, request)`: the JSON envelope `{ Success, Error, Output }` HNS answers with. */
  hnsCall(method: 'GET', path: string, request: string): Promise<string>;
  /**
   * Runs `vfpctrl` with `args` and resolves with what it printed on stdout. Rejects with a VfpError when it cannot
   * be started, exits non-zero or runs longer than the configured timeout; aborting `signal` kills it.
   */
  vfpctrl(args: readonly string[], signal?: AbortSignal): Promise<string>;
  /** Refuses further calls. Idempotent. */
  close(): void;
}
