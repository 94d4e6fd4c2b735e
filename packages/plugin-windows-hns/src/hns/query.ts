/** The HCN query the plugin sends to HcnEnumerateEndpoints and HcnQueryEndpointProperties. */

/** HCN endpoint states (the `State` filter of an endpoint query). */
export const HcnEndpointState = {
  Created: 1,
  Attached: 2,
  /** The state of an endpoint shared by a running pod's containers. */
  AttachedSharing: 3,
  Detached: 4,
  Degraded: 5,
  Destroyed: 6,
} as const;

/** Endpoint flag set on endpoints that live on another host (overlay networks); they have no local counters. */
export const HCN_ENDPOINT_FLAG_REMOTE = 1;

/**
 * The HostComputeQuery JSON (schema 2.0). With `attachedOnly`, HCN returns only endpoints in the AttachedSharing
 * state, i.e. those of running pods; otherwise every endpoint on the host.
 */
export function endpointQuery(options: { attachedOnly: boolean }): string {
  const query: Record<string, unknown> = { SchemaVersion: { Major: 2, Minor: 0 }, Flags: 0 };
  // HCN expects the filter itself as a JSON string inside the query.
  if (options.attachedOnly) query.Filter = JSON.stringify({ State: HcnEndpointState.AttachedSharing });
  return JSON.stringify(query);
}

/** The HNS JSON API path of one endpoint's statistics. */
export function endpointStatsPath(endpointId: string): string {
  return `/endpointstats/${endpointId}`;
}
