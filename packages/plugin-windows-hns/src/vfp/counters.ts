/** Parsing of `vfpctrl /port <id> /get-port-counter`: a VFP port's TCP and drop counters, per direction. */
import { VfpError } from '../errors.js';
import { keyValue, normalizeKey, reportLines, throwOnReportedError } from './text.js';

/** The VFP counters the plugin reads, keyed by its own names, with the label vfpctrl prints for each. */
export const VFP_COUNTER_LABELS = {
  synPackets: 'SYN packets',
  synAckPackets: 'SYN-ACK packets',
  finPackets: 'FIN packets',
  rstPackets: 'RST packets',
  tcpConnectionsVerified: 'TCP Connections Verified',
  tcpConnectionsTimedOut: 'TCP Connections Timed Out',
  tcpConnectionsReset: 'TCP Connections Reset',
  tcpConnectionsResetBySyn: 'TCP Connections Reset by SYN',
  tcpConnectionsClosedByFin: 'TCP Connections Closed by FIN',
  tcpHalfOpenTimeouts: 'TCP Half Open Timeouts',
  tcpConnectionsExpiredToTimeWait: 'TCP Connections Expired to Time Wait',
  droppedAclPackets: 'Dropped ACL packets',
} as const;

/** One VFP counter the plugin reads. */
export type VfpCounterName = keyof typeof VFP_COUNTER_LABELS;

/** The counters found for one direction (a counter the report does not list is absent, not zero). */
export type VfpDirectionCounters = Partial<Record<VfpCounterName, number>>;

/**
 * A port's counters. VFP directions are seen from the switch port: IN is traffic entering the container's
 * network adapter (the pod's ingress), OUT traffic leaving it (egress).
 */
export interface VfpPortCounters {
  in: VfpDirectionCounters;
  out: VfpDirectionCounters;
}

const BY_KEY: ReadonlyMap<string, VfpCounterName> = new Map(
  (Object.entries(VFP_COUNTER_LABELS) as Array<[VfpCounterName, string]>).map(([name, label]) => [
    normalizeKey(label),
    name,
  ]),
);

/** The vfpctrl arguments that print the counters of `portId`. */
export function portCounterArgs(portId: string): string[] {
  return ['/port', portId, '/get-port-counter'];
}

/**
 * Parses the report of `vfpctrl /port <portId> /get-port-counter`. Counters are matched by name ignoring spaces and
 * case; other lines are skipped. "Direction - OUT" and "Direction - IN" lines switch the direction; counters before
 * any direction line count as OUT (vfpctrl lists OUT first). A counter listed twice in one direction keeps its last
 * value. Throws a VfpError for an `ERROR:` line, a known counter whose value is not a whole number, or a report
 * with none of the known counters.
 */
export function parseVfpPortCounters(text: string, portId: string): VfpPortCounters {
  const command = `vfpctrl /port ${portId} /get-port-counter`;
  if (text.trim() === '') throw new VfpError(`${command} printed nothing`);
  throwOnReportedError(text, command);
  const counters: VfpPortCounters = { in: {}, out: {} };
  let direction: 'in' | 'out' = 'out';
  let found = 0;
  for (const { line, text: t } of reportLines(text)) {
    const heading = /^direction\s*-\s*(in|out)\b/i.exec(t);
    if (heading) {
      direction = heading[1]!.toLowerCase() as 'in' | 'out';
      continue;
    }
    const kv = keyValue(line, t);
    if (!kv) continue;
    const name = BY_KEY.get(normalizeKey(kv.key));
    if (!name) continue;
    if (!/^\d+$/.test(kv.value)) {
      throw new VfpError(
        `${command}: "${VFP_COUNTER_LABELS[name]}" has the value ${JSON.stringify(kv.value)} on line ${line}; expected a whole number`,
      );
    }
    counters[direction][name] = Number(kv.value);
    found++;
  }
  if (found === 0) {
    throw new VfpError(
      `${command} listed none of the expected counters (${Object.values(VFP_COUNTER_LABELS).join(', ')}); is this vfpctrl's port counter report?`,
    );
  }
  return counters;
}
