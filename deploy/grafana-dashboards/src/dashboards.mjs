// The retina-ts dashboards, panel by panel. Metric names, labels and label values are the ones the agent emits
// (packages/core/src/metrics/names.ts, packages/core/src/advanced, the plugins' READMEs, packages/hubble/src/metrics).
import {
  bargauge,
  dashboard,
  queryVariable,
  rate,
  row,
  scopeVariables,
  sel,
  stat,
  table,
  timeseries,
} from './grafana.mjs';

const P = 'networkobservability_';
const SELF = 'controlplane_networkobservability_';
const M = {
  forwardCount: `${P}forward_count`,
  forwardBytes: `${P}forward_bytes`,
  dropCount: `${P}drop_count`,
  dropBytes: `${P}drop_bytes`,
  tcpState: `${P}tcp_state`,
  tcpRemote: `${P}tcp_connection_remote`,
  tcpStats: `${P}tcp_connection_stats`,
  ipStats: `${P}ip_connection_stats`,
  udpStats: `${P}udp_connection_stats`,
  ifStats: `${P}interface_stats`,
  retrans: `${P}tcp_retransmission_count`,
  apiHandshake: `${P}node_apiserver_handshake_latency_ms_bucket`,
  dnsRequests: `${P}dns_request_count`,
  dnsResponses: `${P}dns_response_count`,
  dnsLatency: `${P}dns_response_latency_seconds_bucket`,
  dnsParseErrors: `${P}dns_parse_errors_total`,
  pluginStatus: `${SELF}plugin_status`,
  pluginFailures: `${SELF}plugin_manager_failed_to_reconcile`,
  pluginRestarts: `${SELF}plugin_restarts_total`,
  pluginErrors: `${SELF}plugin_errors_total`,
  lost: `${SELF}lost_events_counter`,
  parsed: `${SELF}parsed_packets_counter`,
  buildInfo: `${SELF}build_info`,
  advForwardCount: `${P}adv_forward_count`,
  advForwardBytes: `${P}adv_forward_bytes`,
  advDropCount: `${P}adv_drop_count`,
  advDropBytes: `${P}adv_drop_bytes`,
  advFlags: `${P}adv_tcpflags_count`,
  advRetrans: `${P}adv_tcpretrans_count`,
  advDnsRequests: `${P}adv_dns_request_count`,
  advDnsResponses: `${P}adv_dns_response_count`,
  advApiLatency: `${P}adv_node_apiserver_latency_bucket`,
  advApiHandshake: `${P}adv_node_apiserver_tcp_handshake_latency_bucket`,
  advApiNoResponse: `${P}adv_node_apiserver_no_response`,
  hubbleFlows: 'hubble_flows_processed_total',
  hubbleDrops: 'hubble_drop_total',
  hubbleFlags: 'hubble_tcp_flags_total',
  hubbleDnsQueries: 'hubble_dns_queries_total',
  hubbleDnsResponses: 'hubble_dns_responses_total',
  hubbleDnsTypes: 'hubble_dns_response_types_total',
  hubblePorts: 'hubble_port_distribution_total',
  hubbleIcmp: 'hubble_icmp_total',
  hubbleLost: 'hubble_lost_events_total',
};

/** The retina-ts DNS plugin and advanced metrics write Retina's code mnemonics (upper case), e.g. NOERROR. */
const NOERROR = 'NOERROR';

const quantiles = (metric, extra = '', by = '') =>
  [0.5, 0.95, 0.99].map((q) => [
    `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (${rate(metric, extra)}))`,
    `p${q * 100}${by ? ` {{${by}}}` : ''}`,
  ]);

// ---------------------------------------------------------------------------------------------------------------
// Clusters and nodes: the basic (node-level) metrics and the agent's own.

const clusters = dashboard({
  uid: 'retina-ts-clusters',
  title: 'retina-ts / Clusters and nodes',
  description:
    'Node-level traffic, drops, TCP/UDP/IP statistics, interfaces and agent health from retina-ts agents.',
  variables: scopeVariables(M.buildInfo),
  rows: [
    row('Overview', [
      stat(
        'Forwarded (egress)',
        'Bytes per second leaving the watched node interfaces.',
        [[`sum(${rate(M.forwardBytes, 'direction="egress"')})`]],
        { unit: 'Bps' },
      ),
      stat(
        'Forwarded (ingress)',
        'Bytes per second entering the watched node interfaces.',
        [[`sum(${rate(M.forwardBytes, 'direction="ingress"')})`]],
        { unit: 'Bps' },
      ),
      stat(
        'Dropped packets',
        'Packets per second the kernel dropped, all reasons.',
        [[`sum(${rate(M.dropCount)})`]],
        {
          unit: 'pps',
        },
      ),
      stat(
        'Plugins not running',
        'Plugins in any state other than running (failed, backoff, unsupported, ...).',
        [
          [
            `count(max by (cluster, instance, plugin) (${M.pluginStatus}${sel('state!="running"')}) == 1) or vector(0)`,
          ],
        ],
      ),
    ]),
    row('Traffic', [
      timeseries(
        'Forwarded bytes by direction',
        'packetforward: bytes per second on the watched interfaces.',
        [[`sum by (direction) (${rate(M.forwardBytes)})`, '{{direction}}']],
        { unit: 'Bps' },
      ),
      timeseries(
        'Forwarded packets by direction',
        'packetforward: packets per second on the watched interfaces.',
        [[`sum by (direction) (${rate(M.forwardCount)})`, '{{direction}}']],
        { unit: 'pps' },
      ),
      timeseries(
        'Forwarded bytes by node',
        'Both directions.',
        [[`sum by (instance) (${rate(M.forwardBytes)})`, '{{instance}}']],
        { unit: 'Bps', stack: true },
      ),
      timeseries(
        'Forwarded bytes by cluster',
        'Both directions.',
        [[`sum by (cluster) (${rate(M.forwardBytes)})`, '{{cluster}}']],
        { unit: 'Bps', stack: true },
      ),
    ]),
    row('Drops', [
      timeseries(
        'Dropped packets by reason',
        'dropreason: packets per second by Retina drop reason.',
        [[`sum by (reason) (${rate(M.dropCount)})`, '{{reason}}']],
        { unit: 'pps' },
      ),
      timeseries(
        'Dropped bytes by reason',
        'dropreason: bytes per second by drop reason.',
        [[`sum by (reason) (${rate(M.dropBytes)})`, '{{reason}}']],
        { unit: 'Bps' },
      ),
      timeseries(
        'Dropped packets by direction',
        'ingress or egress, all reasons.',
        [[`sum by (direction) (${rate(M.dropCount)})`, '{{direction}}']],
        { unit: 'pps' },
      ),
      timeseries(
        'Dropped packets by node',
        'All reasons and directions.',
        [[`sum by (instance) (${rate(M.dropCount)})`, '{{instance}}']],
        { unit: 'pps', stack: true },
      ),
    ]),
    row('TCP, UDP and IP', [
      timeseries(
        'TCP sockets by state',
        'linuxutil: TCP sockets of the node network namespace in each state.',
        [[`sum by (state) (${M.tcpState}${sel()})`, '{{state}}']],
      ),
      timeseries('TCP connections by remote address (top 10)', 'linuxutil: sockets per peer address.', [
        [`topk(10, sum by (address) (${M.tcpRemote}${sel()}))`, '{{address}}'],
      ]),
      timeseries(
        'TCP connection attempts',
        'Active and passive opens, and attempts that failed, per second.',
        [
          [
            `sum by (statistic_name) (${rate(M.tcpStats, 'statistic_name=~"ActiveOpens|PassiveOpens|AttemptFails"')})`,
            '{{statistic_name}}',
          ],
        ],
        { unit: 'ops' },
      ),
      timeseries(
        'TCP resets',
        'Resets sent (Linux OutRsts) and reset connections (EstabResets; Windows ResetCount), per second.',
        [
          [
            `sum by (instance, statistic_name) (${rate(M.tcpStats, 'statistic_name=~"OutRsts|EstabResets|ResetCount"')})`,
            '{{instance}} {{statistic_name}}',
          ],
        ],
        { unit: 'ops' },
      ),
      timeseries(
        'TCP retransmissions',
        'tcpretrans: retransmitted segments per second, by node.',
        [[`sum by (instance) (${rate(M.retrans)})`, '{{instance}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'TCP timeouts',
        'linuxutil: retransmission timeouts (TCPTimeouts) per second.',
        [[`sum by (instance) (${rate(M.tcpStats, 'statistic_name="TCPTimeouts"')})`, '{{instance}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'TCP reordering',
        'linuxutil: reordering detected (TCPTSReorder, TCPSACKReorder) per second.',
        [
          [
            `sum by (instance, statistic_name) (${rate(M.tcpStats, 'statistic_name=~"TCPTSReorder|TCPSACKReorder"')})`,
            '{{instance}} {{statistic_name}}',
          ],
        ],
        { unit: 'ops' },
      ),
      timeseries('UDP sockets', 'linuxutil: open UDP sockets (ACTIVE).', [
        [`sum by (instance) (${M.udpStats}${sel('statistic_name="ACTIVE"')})`, '{{instance}}'],
      ]),
      timeseries(
        'UDP datagrams',
        'Datagrams received and sent, and received for a closed port (NoPorts), per second.',
        [
          [
            `sum by (statistic_name) (${rate(M.udpStats, 'statistic_name=~"InDatagrams|OutDatagrams|NoPorts"')})`,
            '{{statistic_name}}',
          ],
        ],
        { unit: 'ops' },
      ),
      timeseries(
        'IP packets',
        'IP packets received and sent by the node stack, per second.',
        [
          [
            `sum by (statistic_name) (${rate(M.ipStats, 'statistic_name=~"InReceives|OutRequests|InDelivers"')})`,
            '{{statistic_name}}',
          ],
        ],
        { unit: 'pps' },
      ),
    ]),
    row('Interfaces', [
      timeseries(
        'Interface packets (driver counters)',
        'linuxutil: packet counters of each interface driver (ethtool -S names).',
        [
          [
            `sum by (instance, interface_name, statistic_name) (${rate(M.ifStats, 'statistic_name=~"(rx|tx)_packets|(rx|tx)[0-9]+_packets|(rx|tx)_queue_[0-9]+_(xdp_)?packets"')})`,
            '{{instance}} {{interface_name}} {{statistic_name}}',
          ],
        ],
        { unit: 'pps' },
      ),
      timeseries(
        'Interface drops and errors (driver counters)',
        'linuxutil: driver counters naming drops, errors, timeouts or full queues.',
        [
          [
            `sum by (instance, interface_name, statistic_name) (${rate(M.ifStats, 'statistic_name=~".*(drop|err|timeout|full|nop).*"')})`,
            '{{instance}} {{interface_name}} {{statistic_name}}',
          ],
        ],
        { unit: 'ops' },
      ),
    ]),
    row('Agent', [
      table(
        'Plugin status',
        'Current state of each plugin on each node (1 = the plugin is in that state).',
        [[`max by (cluster, instance, plugin, state) (${M.pluginStatus}${sel()}) == 1`]],
        { width: 12 },
      ),
      timeseries(
        'Plugin failures and restarts',
        'Failures (init, start, crash, unsupported), restarts and survived errors per plugin.',
        [
          [`sum by (reason) (increase(${M.pluginFailures}${sel()}[$__rate_interval]))`, 'failed {{reason}}'],
          [
            `sum by (plugin) (increase(${M.pluginRestarts}${sel()}[$__rate_interval]))`,
            'restarted {{plugin}}',
          ],
          [`sum by (plugin) (increase(${M.pluginErrors}${sel()}[$__rate_interval]))`, 'errors {{plugin}}'],
        ],
      ),
      timeseries(
        'Lost events',
        'Events lost per second, by where they were lost (type) and by whom (reason).',
        [[`sum by (type, reason) (${rate(M.lost)})`, '{{type}} {{reason}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'Parsed packets',
        'packetparser: packet records read from the kernel per second.',
        [[`sum by (instance) (${rate(M.parsed)})`, '{{instance}}']],
        { unit: 'pps' },
      ),
      timeseries(
        'API server handshake latency',
        'TCP handshake time from the node to the API server (quantiles over all nodes).',
        quantiles(M.apiHandshake),
        { unit: 'ms' },
      ),
      table(
        'Agent versions',
        'retina-ts and Node.js version of each agent.',
        [[`max by (cluster, instance, version, nodejs_version) (${M.buildInfo}${sel()})`]],
        { width: 12 },
      ),
    ]),
  ],
});

// ---------------------------------------------------------------------------------------------------------------
// DNS: the dns plugin's node-level families, and the pod-level ones when enablePodLevel is on.

const dns = dashboard({
  uid: 'retina-ts-dns',
  title: 'retina-ts / DNS',
  description:
    'DNS requests and responses seen by the retina-ts dns plugin: types, return codes, errors, top names.',
  variables: scopeVariables(M.dnsRequests),
  rows: [
    row('Requests and responses', [
      timeseries(
        'DNS requests by query type',
        'Requests per second.',
        [[`sum by (query_type) (${rate(M.dnsRequests)})`, '{{query_type}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'DNS responses by return code',
        `Responses per second; ${NOERROR} is a success.`,
        [[`sum by (return_code) (${rate(M.dnsResponses)})`, '{{return_code}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'DNS errors by return code and query type',
        `Responses other than ${NOERROR} per second.`,
        [
          [
            `sum by (return_code, query_type) (${rate(M.dnsResponses, `return_code!="${NOERROR}"`)})`,
            '{{return_code}} {{query_type}}',
          ],
        ],
        { unit: 'ops' },
      ),
      timeseries(
        'DNS requests without a response',
        'Share of requests not matched by a response over the interval, per query type.',
        [
          [
            `clamp_min(1 - sum by (query_type) (${rate(M.dnsResponses)}) / sum by (query_type) (${rate(M.dnsRequests)}), 0) * 100`,
            '{{query_type}}',
          ],
        ],
        { unit: 'percent' },
      ),
      timeseries(
        'Answers per response',
        `${NOERROR} responses per second by number of answer records.`,
        [
          [
            `sum by (num_response) (${rate(M.dnsResponses, `return_code="${NOERROR}"`)})`,
            '{{num_response}} answers',
          ],
        ],
        { unit: 'ops' },
      ),
      timeseries(
        'DNS response latency',
        'Time from a request to its response (quantiles).',
        quantiles(M.dnsLatency),
        { unit: 's' },
      ),
    ]),
    row('Names', [
      bargauge('Top DNS queries (requests)', 'Names asked most, requests per minute.', [
        [`topk(10, sum by (query, query_type) (60 * ${rate(M.dnsRequests)}))`, '{{query}} {{query_type}}'],
      ]),
      bargauge('Top DNS queries with errors', `Names whose responses are not ${NOERROR}, per minute.`, [
        [
          `topk(10, sum by (query, return_code) (60 * ${rate(M.dnsResponses, `return_code!="${NOERROR}"`)}))`,
          '{{query}} {{return_code}}',
        ],
      ]),
      table(
        'DNS responses',
        'Responses over the selected time range by name, type, return code and answer addresses.',
        [
          [
            `sum by (query, query_type, return_code, response) (increase(${M.dnsResponses}${sel()}[$__range])) > 0`,
          ],
        ],
      ),
      timeseries(
        'DNS parse errors',
        'DNS messages the plugin could not decode, by reason.',
        [[`sum by (reason) (${rate(M.dnsParseErrors)})`, '{{reason}}']],
        { unit: 'ops' },
      ),
    ]),
    row('Pods (enablePodLevel)', [
      timeseries(
        'DNS requests by pod',
        'Requests per second by the asking pod (remote or local context).',
        [[podExpr(M.advDnsRequests, 'source', { local: '' }), '{{pod}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'DNS errors by pod',
        `Responses other than ${NOERROR} per second, by the pod that asked.`,
        [
          [
            podExpr(M.advDnsResponses, 'destination', { local: '', extra: `return_code!="${NOERROR}"` }),
            '{{pod}}',
          ],
        ],
        { unit: 'ops' },
      ),
    ]),
  ],
});

// ---------------------------------------------------------------------------------------------------------------
// Pods: the advanced (pod-level) families. With `remoteContext: true` series carry source_* and destination_*
// labels; with local context (the default) they carry the local pod's unprefixed labels and `direction`
// (egress: the pod sent, ingress: it received). Each per-pod query covers both.

/**
 * Per-pod rate of an advanced family as `pod` = `<namespace>/<podname>`: the remote-context series of `side`
 * (source or destination) or the local-context ones with `local` as the direction ('' for families without one).
 */
function podExpr(
  metric,
  side,
  { local, extra = '', by = '', key = 'pod', parts = ['namespace', 'podname'] } = {},
) {
  const keep = by ? `${key}, ${by}` : key;
  const remoteLabels = parts.map((p) => `${side}_${p}`);
  const remote = [`${side}_namespace=~"$namespace"`, `${side}_${parts[1]}!~"|unknown"`, extra]
    .filter(Boolean)
    .join(', ');
  const localSel = [
    'namespace=~"$namespace"',
    `${parts[1]}!~"|unknown"`,
    local ? `direction="${local}"` : '',
    extra,
  ]
    .filter(Boolean)
    .join(', ');
  const join = (sel, labels) =>
    `label_join(${rate(metric, sel)}, "${key}", "/", ${labels.map((l) => `"${l}"`).join(', ')})`;
  return `sum by (${keep}) (${join(remote, remoteLabels)}) or sum by (${keep}) (${join(localSel, parts)})`;
}

/** Per-workload variant of podExpr: `workload` = `<namespace>/<kind>/<name>`. */
const workloadExpr = (metric, side, opts) =>
  podExpr(metric, side, { ...opts, key: 'workload', parts: ['namespace', 'workload_name'] });

const pods = dashboard({
  uid: 'retina-ts-pods',
  title: 'retina-ts / Pods',
  description:
    'Pod-level traffic, drops, TCP and DNS from the advanced metrics (enablePodLevel), in remote or local context.',
  variables: [
    ...scopeVariables(M.advForwardCount),
    queryVariable(
      'namespace',
      'Namespace',
      `query_result(count by (ns) (label_replace(${M.advForwardCount}{cluster=~"$cluster"}, "ns", "$1", "source_namespace", "(.+)") or label_replace(${M.advForwardCount}{cluster=~"$cluster"}, "ns", "$1", "namespace", "(.+)")))`,
      { regex: '/ns="([^"]+)"/' },
    ),
  ],
  rows: [
    row('Traffic by pod', [
      timeseries(
        'Outgoing packets by pod',
        'Packets per second sent by each observed pod.',
        [[podExpr(M.advForwardCount, 'source', { local: 'egress' }), '{{pod}}']],
        { unit: 'pps' },
      ),
      timeseries(
        'Incoming packets by pod',
        'Packets per second received by each observed pod.',
        [[podExpr(M.advForwardCount, 'destination', { local: 'ingress' }), '{{pod}}']],
        { unit: 'pps' },
      ),
      timeseries(
        'Outgoing bytes by pod',
        'Bytes per second sent by each observed pod.',
        [[podExpr(M.advForwardBytes, 'source', { local: 'egress' }), '{{pod}}']],
        { unit: 'Bps' },
      ),
      timeseries(
        'Incoming bytes by pod',
        'Bytes per second received by each observed pod.',
        [[podExpr(M.advForwardBytes, 'destination', { local: 'ingress' }), '{{pod}}']],
        { unit: 'Bps' },
      ),
      bargauge(
        'Top 10 pods by outgoing traffic',
        'Packets per second.',
        [[`topk(10, ${podExpr(M.advForwardCount, 'source', { local: 'egress' })})`, '{{pod}}']],
        { unit: 'pps' },
      ),
      bargauge(
        'Top 10 pods by incoming traffic',
        'Packets per second.',
        [[`topk(10, ${podExpr(M.advForwardCount, 'destination', { local: 'ingress' })})`, '{{pod}}']],
        { unit: 'pps' },
      ),
      timeseries(
        'Outgoing packets by workload',
        'Packets per second sent by each workload (namespace/name).',
        [[workloadExpr(M.advForwardCount, 'source', { local: 'egress' }), '{{workload}}']],
        { unit: 'pps', stack: true },
      ),
      timeseries(
        'Incoming packets by workload',
        'Packets per second received by each workload (namespace/name).',
        [[workloadExpr(M.advForwardCount, 'destination', { local: 'ingress' }), '{{workload}}']],
        { unit: 'pps', stack: true },
      ),
    ]),
    row('Traffic with peers outside the pods (remote context)', [
      timeseries(
        'Packets from outside the pods, by source IP',
        'Sources that are not pods (nodes, other networks) sending to observed pods.',
        [
          [
            `sum by (source_ip) (${rate(M.advForwardCount, 'source_podname="unknown", destination_namespace=~"$namespace"')})`,
            '{{source_ip}}',
          ],
        ],
        { unit: 'pps' },
      ),
      timeseries(
        'Packets to outside the pods, by destination IP',
        'Destinations that are not pods, reached from observed pods.',
        [
          [
            `sum by (destination_ip) (${rate(M.advForwardCount, 'destination_podname="unknown", source_namespace=~"$namespace"')})`,
            '{{destination_ip}}',
          ],
        ],
        { unit: 'pps' },
      ),
    ]),
    row('Drops by pod', [
      timeseries(
        'Dropped packets by source pod and reason',
        'Packets per second dropped on their way from a pod.',
        [[podExpr(M.advDropCount, 'source', { local: 'egress', by: 'reason' }), '{{pod}} {{reason}}']],
        { unit: 'pps' },
      ),
      timeseries(
        'Dropped packets by destination pod and reason',
        'Packets per second dropped on their way to a pod.',
        [[podExpr(M.advDropCount, 'destination', { local: 'ingress', by: 'reason' }), '{{pod}} {{reason}}']],
        { unit: 'pps' },
      ),
      timeseries(
        'Dropped bytes by destination pod',
        'Bytes per second dropped on their way to a pod.',
        [[podExpr(M.advDropBytes, 'destination', { local: 'ingress' }), '{{pod}}']],
        { unit: 'Bps' },
      ),
    ]),
    row('TCP by pod', [
      timeseries(
        'TCP flags',
        "TCP flags per second on observed pods' traffic.",
        [[`sum by (flag) (${rate(M.advFlags)})`, '{{flag}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'TCP resets by sending pod',
        'RST segments per second by the pod that sent them.',
        [[podExpr(M.advFlags, 'source', { local: 'egress', extra: 'flag="RST"' }), '{{pod}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'TCP retransmissions by pod',
        'Retransmitted segments per second by the sending pod.',
        [[podExpr(M.advRetrans, 'source', { local: '' }), '{{pod}}']],
        { unit: 'ops' },
      ),
    ]),
    row('API server', [
      timeseries(
        'API server round-trip latency',
        'Node to API server round trip, from TCP timestamps.',
        quantiles(M.advApiLatency),
        { unit: 'ms' },
      ),
      timeseries(
        'API server handshake latency',
        'SYN to SYN-ACK time of connections to the API server.',
        quantiles(M.advApiHandshake),
        { unit: 'ms' },
      ),
      timeseries(
        'API server packets without a response',
        'Packets to the API server answered after the deadline or never, per second.',
        [[`sum by (instance) (${rate(M.advApiNoResponse)})`, '{{instance}}']],
        { unit: 'ops' },
      ),
    ]),
  ],
});

// ---------------------------------------------------------------------------------------------------------------
// Hubble control plane: hubble_* metrics, whose `source` / `destination` labels are `<namespace>/<pod>` with
// Retina's chart options (sourceEgressContext=pod;destinationIngressContext=pod).

const hrate = (metric, extra = '') => rate(metric, extra);
const inNs = (side) => `${side}=~"($namespace)/.+"`;

const hubble = dashboard({
  uid: 'retina-ts-hubble',
  title: 'retina-ts / Hubble flows and DNS',
  description:
    'Flows, drops, TCP flags, DNS, ports and ICMP from the Hubble control plane (hubble_* metrics).',
  variables: [
    ...scopeVariables(M.hubbleFlows),
    queryVariable('namespace', 'Namespace', `label_values(${M.hubbleFlows}{cluster=~"$cluster"}, source)`, {
      regex: '/^([^/]+)\\//',
    }),
  ],
  rows: [
    row('Flows', [
      timeseries(
        'Flows by verdict',
        'Flows per second by verdict (FORWARDED, DROPPED, ...).',
        [[`sum by (verdict) (${hrate(M.hubbleFlows)})`, '{{verdict}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'Flows by type',
        'Flows per second by event type and subtype (trace point, L7 DNS, Drop).',
        [[`sum by (type, subtype) (${hrate(M.hubbleFlows)})`, '{{type}} {{subtype}}']],
        { unit: 'ops' },
      ),
      bargauge(
        'Top source pods',
        'Flows per second sent by pods of the selected namespaces.',
        [[`topk(10, sum by (source) (${hrate(M.hubbleFlows, inNs('source'))}))`, '{{source}}']],
        { unit: 'ops' },
      ),
      bargauge(
        'Top destination pods',
        'Flows per second received by pods of the selected namespaces.',
        [
          [
            `topk(10, sum by (destination) (${hrate(M.hubbleFlows, inNs('destination'))}))`,
            '{{destination}}',
          ],
        ],
        { unit: 'ops' },
      ),
      timeseries(
        'Flows by protocol',
        'Flows per second by L4 protocol.',
        [[`sum by (protocol) (${hrate(M.hubbleFlows)})`, '{{protocol}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'Flows by source pod and verdict',
        'Flows per second by sending pod and verdict.',
        [[`sum by (source, verdict) (${hrate(M.hubbleFlows, inNs('source'))})`, '{{source}} {{verdict}}']],
        { unit: 'ops' },
      ),
    ]),
    row('Drops', [
      timeseries(
        'Drops by reason',
        'Dropped flows per second by Hubble drop reason.',
        [[`sum by (reason) (${hrate(M.hubbleDrops)})`, '{{reason}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'Drops by protocol',
        'Dropped flows per second by L4 protocol.',
        [[`sum by (protocol) (${hrate(M.hubbleDrops)})`, '{{protocol}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'Drops by destination pod',
        'Dropped flows per second on their way into a pod.',
        [
          [
            `sum by (destination, reason) (${hrate(M.hubbleDrops, inNs('destination'))})`,
            '{{destination}} {{reason}}',
          ],
        ],
        { unit: 'ops' },
      ),
      timeseries(
        'Drops by source pod',
        'Dropped flows per second on their way out of a pod.',
        [[`sum by (source, reason) (${hrate(M.hubbleDrops, inNs('source'))})`, '{{source}} {{reason}}']],
        { unit: 'ops' },
      ),
    ]),
    row('TCP', [
      timeseries(
        'TCP flags',
        'SYN, SYN-ACK, FIN and RST per second on forwarded flows.',
        [[`sum by (flag) (${hrate(M.hubbleFlags)})`, '{{flag}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'SYN and SYN-ACK by pod',
        'Connection opens and their answers per pod: SYNs without SYN-ACKs point at unreachable peers.',
        [
          [
            `sum by (source, destination, flag) (${hrate(M.hubbleFlags, 'flag=~"SYN|SYN-ACK"')})`,
            '{{source}}{{destination}} {{flag}}',
          ],
        ],
        { unit: 'ops' },
      ),
      timeseries(
        'TCP resets by pod',
        'RST segments per second by pod.',
        [
          [
            `sum by (source, destination) (${hrate(M.hubbleFlags, 'flag="RST"')})`,
            '{{source}}{{destination}}',
          ],
        ],
        { unit: 'ops' },
      ),
      timeseries(
        'TCP FIN by pod',
        'FIN segments per second by pod.',
        [
          [
            `sum by (source, destination) (${hrate(M.hubbleFlags, 'flag="FIN"')})`,
            '{{source}}{{destination}}',
          ],
        ],
        { unit: 'ops' },
      ),
    ]),
    row('DNS', [
      timeseries(
        'DNS queries by type',
        'Queries per second by query types.',
        [[`sum by (qtypes) (${hrate(M.hubbleDnsQueries)})`, '{{qtypes}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'DNS responses by return code',
        'Responses per second by rcode ("No Error", "Non-Existent Domain", ...).',
        [[`sum by (rcode) (${hrate(M.hubbleDnsResponses)})`, '{{rcode}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'DNS errors',
        'Responses other than "No Error" per second, by rcode and query types.',
        [
          [
            `sum by (rcode, qtypes) (${hrate(M.hubbleDnsResponses, 'rcode!="No Error"')})`,
            '{{rcode}} {{qtypes}}',
          ],
        ],
        { unit: 'ops' },
      ),
      timeseries(
        'DNS queries without a response',
        'Share of queries not matched by a response over the interval.',
        [
          [
            `clamp_min(1 - sum by (qtypes) (${hrate(M.hubbleDnsResponses)}) / sum by (qtypes) (${hrate(M.hubbleDnsQueries)}), 0) * 100`,
            '{{qtypes}}',
          ],
        ],
        { unit: 'percent' },
      ),
      bargauge('Top DNS queries', 'Names asked most, per minute (needs the dns:query option).', [
        [`topk(10, sum by (query) (60 * ${hrate(M.hubbleDnsQueries)}))`, '{{query}}'],
      ]),
      timeseries(
        'IPs returned per response',
        '"No Error" responses per second by number of addresses returned.',
        [
          [
            `sum by (ips_returned) (${hrate(M.hubbleDnsResponses, 'rcode="No Error"')})`,
            '{{ips_returned}} IPs',
          ],
        ],
        { unit: 'ops' },
      ),
      timeseries(
        'DNS answer record types',
        'Answer records per second by type (A, AAAA, CNAME, ...).',
        [[`sum by (type) (${hrate(M.hubbleDnsTypes)})`, '{{type}}']],
        { unit: 'ops' },
      ),
      bargauge('Top pods with DNS errors', 'Pods receiving responses other than "No Error", per minute.', [
        [
          `topk(10, sum by (destination) (60 * ${hrate(M.hubbleDnsResponses, `rcode!="No Error", ${inNs('destination')}`)}))`,
          '{{destination}}',
        ],
      ]),
    ]),
    row('Ports, ICMP and lost events', [
      bargauge(
        'Top destination ports',
        'Flows per second opening connections (or sending datagrams) to each port.',
        [[`topk(10, sum by (protocol, port) (${hrate(M.hubblePorts)}))`, '{{protocol}}/{{port}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'ICMP messages by type',
        'ICMP messages per second by family and type.',
        [[`sum by (family, type) (${hrate(M.hubbleIcmp)})`, '{{family}} {{type}}']],
        { unit: 'ops' },
      ),
      timeseries(
        'Lost events',
        'Flows lost per second, by where (perf ring, observer queue, Hubble ring).',
        [[`sum by (source) (${hrate(M.hubbleLost)})`, '{{source}}']],
        { unit: 'ops' },
      ),
      stat(
        'Flows in view',
        'All flows per second on the selected nodes.',
        [[`sum(${hrate(M.hubbleFlows)})`]],
        {
          unit: 'ops',
          width: 12,
          height: 8,
        },
      ),
    ]),
  ],
});

/** File name → dashboard. */
export const DASHBOARDS = {
  'retina-ts-clusters.json': clusters,
  'retina-ts-dns.json': dns,
  'retina-ts-pods.json': pods,
  'retina-ts-hubble.json': hubble,
};
