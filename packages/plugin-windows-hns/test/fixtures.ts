/** Paths of the recorded HNS/HCN responses and vfpctrl reports, and a reader for them. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HnsCounters } from '../src/hns/decode.js';

/** The fixtures directory. */
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** The text of fixture `rel` (e.g. `hns/endpoints.json`), byte for byte. */
export function fixture(rel: string): string {
  return readFileSync(path.join(FIXTURES, rel), 'utf8');
}

/** Endpoint IDs of the recorded node, as HCN lists them. */
export const EP = {
  /** default/web pod, IPv4, port found by MAC. */
  web: '3F1C9A2E-6B7D-4C1E-9A55-0E2B7C1D4F10',
  /** shop/api pod, dual stack, MAC in lower case. */
  api: 'A7D0E5B1-2C3F-4D5E-8F90-1A2B3C4D5E6F',
  /** A pod the IP cache does not know; HCN reports its VFP port GUID. */
  unknown: 'C4E8F2A6-0B1D-4E3F-A5B7-C9D1E3F5A7B9',
  /** An endpoint without IP configuration. */
  noIp: 'E1F3A5C7-9B2D-4F6E-8A0C-2E4A6C8E0F13',
  /** An endpoint of another host (listed only when every endpoint is asked for). */
  remote: '0B2D4F6A-8C1E-4A3B-9D5F-7E9A1C3E5B7D',
} as const;

/** VFP port GUIDs of the recorded node, as vfpctrl lists them. */
export const PORT = {
  web: '7F3C2D1A-9B8E-4A6F-B1C2-3D4E5F607182',
  api: '2B6E8C4D-1F3A-4B5C-9D7E-8F9012A3B4C5',
  unknown: '5D9F1B3E-7A2C-4E6D-8B0F-1C3E5A7B9D2F',
} as const;

/** The HNS counters of the web pod's recorded statistics (`hns/stats-3f1c9a2e.json`). */
export const WEB_HNS_STATS: Readonly<Required<HnsCounters>> = {
  BytesReceived: 18734120,
  BytesSent: 982233,
  DroppedPacketsIncoming: 12,
  DroppedPacketsOutgoing: 0,
  PacketsReceived: 14523,
  PacketsSent: 11209,
};

/** The short name fixture files use for an ID: its first 8 hex digits, lower case. */
export function short(id: string): string {
  return id.slice(0, 8).toLowerCase();
}
