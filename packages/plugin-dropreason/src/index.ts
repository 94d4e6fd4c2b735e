/**
 * @retina-ts/plugin-dropreason: packets the kernel drops, by the kernel's own drop reason.
 * The default export is the plugin definition the agent discovers through package.json's `retina.plugin`.
 */
import { definePlugin } from '@retina-ts/core';
import { DropReasonPlugin } from './plugin.js';
import { version } from '../package.json';

export { DropReasonPlugin, defaultObjectPath, type AttachedHook } from './plugin.js';
export {
  parseOptions,
  DropReasonOptionsError,
  type DropReasonOptions,
  type DropReasonOptionsInput,
  type HookChoice,
} from './options.js';
export {
  DropReasonCatalog,
  RETINA_REASONS,
  RETINA_REASON_MAP,
  type ReasonNaming,
  NORMAL_FREE_NAMES,
  UNKNOWN_DROP,
  DROP_REASON_ENUM,
  DROP_REASON_SUBSYS_ENUM,
  shortReasonName,
  dropReasonDesc,
} from './reasons.js';
// Kernel enums are read through @retina-ts/bpf-runtime's libbpf BTF API; its types are re-exported for callers
// of DropReasonCatalog.fromBtf().
export type { BtfEnum, BtfEnumMember, ModuleBtfEnum } from '@retina-ts/bpf-runtime';
export {
  decodeDropEvent,
  eventToFlow,
  toSeries,
  directionLabel,
  DROP_EVENT_SIZE,
  type DropEvent,
  type DropCounter,
  type DropSeries,
} from './decode.js';

/** The dropreason plugin definition. */
export default definePlugin({
  name: 'dropreason',
  version,
  platforms: ['linux'],
  description: 'Packets the kernel drops, by kernel drop reason (skb:kfree_skb)',
  requires: {
    minKernel: '5.17',
    capabilities: [
      ['CAP_BPF', 'CAP_SYS_ADMIN'],
      ['CAP_PERFMON', 'CAP_SYS_ADMIN'],
    ],
    features: ['btf'],
    notes: ['the skb_drop_reason enum in the kernel BTF', 'tp_btf or tracepoint programs', 'ring buffer maps (flow events)'],
  },
  create: () => new DropReasonPlugin(),
});
