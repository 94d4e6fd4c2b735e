/** Parsing of `vfpctrl /list-vmswitch-port`: the vSwitch ports with their GUID names and MAC addresses. */
import { canonicalGuid, isGuid } from '../hns/guid.js';
import { normalizeMac } from '../hns/decode.js';
import { keyValue, normalizeKey, reportLines, throwOnReportedError } from './text.js';

/** One vSwitch port as the report lists it. */
export interface VmSwitchPort {
  /** The port's GUID ("Port name"), canonical lower case: what `vfpctrl /port` takes. */
  id: string;
  /** "Port Friendly name", e.g. `Container NIC 5a3d1c2e`. */
  friendlyName?: string;
  /** MAC address as `00-15-5D-AA-BB-CC`. */
  mac?: string;
}

/** The command whose output `parseVmSwitchPorts` reads. */
export const LIST_PORTS_ARGS: readonly string[] = ['/list-vmswitch-port'];

/**
 * Parses the report. Each port starts at its "Port name" line; other `name : value` lines belong to the current
 * port, lines without a colon (headers, "Port is Initialized.") are skipped. Ports whose name is not a GUID
 * (vfpctrl lists a few internal ones by name) are left out. An `ERROR:` line throws a VfpError.
 */
export function parseVmSwitchPorts(text: string): VmSwitchPort[] {
  throwOnReportedError(text, 'vfpctrl /list-vmswitch-port');
  const ports: VmSwitchPort[] = [];
  let current: VmSwitchPort | undefined;
  for (const { line, text: t } of reportLines(text)) {
    const kv = keyValue(line, t);
    if (!kv) continue;
    switch (normalizeKey(kv.key)) {
      case 'portname':
        current = isGuid(kv.value) ? { id: canonicalGuid(kv.value) } : undefined;
        if (current) ports.push(current);
        break;
      case 'portfriendlyname':
        if (current && kv.value) current.friendlyName = kv.value;
        break;
      case 'macaddress': {
        const mac = normalizeMac(kv.value);
        if (current && mac) current.mac = mac;
        break;
      }
    }
  }
  return ports;
}

/** MAC address → port GUID. A MAC listed on two ports maps to neither: counters must not go to the wrong pod. */
export function portsByMac(ports: readonly VmSwitchPort[]): Map<string, string> {
  const byMac = new Map<string, string>();
  const ambiguous = new Set<string>();
  for (const p of ports) {
    if (!p.mac) continue;
    const seen = byMac.get(p.mac);
    if (seen !== undefined && seen !== p.id) ambiguous.add(p.mac);
    else byMac.set(p.mac, p.id);
  }
  for (const mac of ambiguous) byMac.delete(mac);
  return byMac;
}
