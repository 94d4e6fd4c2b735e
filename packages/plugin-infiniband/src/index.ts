/**
 * @retina-ts/plugin-infiniband: InfiniBand port counters (`/sys/class/infiniband`) and IPoIB status parameters
 * (`/sys/class/net/ib*\/debug`). The default export is the plugin definition the agent loads as `infiniband`.
 */
import { definePlugin } from '@retina-ts/core';
import { version } from '../package.json';
import { InfinibandPlugin } from './plugin.js';

/** The `infiniband` plugin definition. */
const infinibandPlugin = definePlugin({
  name: 'infiniband',
  version,
  platforms: ['linux'],
  description: 'InfiniBand port counters and IPoIB status parameters from sysfs',
  requires: { notes: ['sysfs (/sys/class/infiniband, /sys/class/net)'] },
  create: () => new InfinibandPlugin(),
});

export default infinibandPlugin;

export { InfinibandPlugin } from './plugin.js';
export {
  DEFAULT_MAX_SERIES,
  INFINIBAND_OPTION_KEYS,
  InfinibandOptionsError,
  infinibandOptionsSchema,
  parseInfinibandOptions,
  type InfinibandOptions,
  type InfinibandOptionsInput,
} from './options.js';
export {
  IB_INTERFACE_PREFIX,
  parseSysfsValue,
  readInfiniband,
  type CounterSample,
  type InfinibandSnapshot,
  type StatusSample,
} from './sysfs.js';
export { INFINIBAND_FAMILIES, applySnapshot, clearSeries } from './metrics.js';
