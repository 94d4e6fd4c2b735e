/** The families this plugin writes, and how a snapshot becomes their series. */
import { BASIC_METRICS, type MetricsModule } from '@retina-ts/core';
import type { InfinibandSnapshot } from './sysfs.js';

/** Names of the families the plugin sets (core's metric catalog holds their definitions). */
export const INFINIBAND_FAMILIES = [
  BASIC_METRICS.infinibandCounterStats.name,
  BASIC_METRICS.infinibandStatusParams.name,
] as const;

type Gauges = Pick<MetricsModule['basic'], 'infinibandCounterStats' | 'infinibandStatusParams'>;

/**
 * Replaces both families with the snapshot's series. Synchronous, so a scrape never sees them half rebuilt; series
 * of devices or interfaces that went away disappear.
 */
export function applySnapshot(gauges: Gauges, snap: InfinibandSnapshot): void {
  gauges.infinibandCounterStats.reset();
  gauges.infinibandStatusParams.reset();
  for (const c of snap.counters) {
    gauges.infinibandCounterStats.set({ statistic_name: c.name, device: c.device, port: c.port }, c.value);
  }
  for (const s of snap.statusParams) {
    gauges.infinibandStatusParams.set({ statistic_name: s.name, interface_name: s.iface }, s.value);
  }
}

/** Removes every series of both families. */
export function clearSeries(gauges: Gauges): void {
  gauges.infinibandCounterStats.reset();
  gauges.infinibandStatusParams.reset();
}
