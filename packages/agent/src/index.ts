export { Agent, createAgent, type AgentOptions } from './agent.js';
export type { AgentConfigInput, DurationInput, PluginListInput } from './config-input.js';
export { importOptional, isMissingPackage, MissingPackageError } from './optional.js';
export {
  closestPluginName,
  defaultSearchPaths,
  InvalidPluginError,
  listInstalledPlugins,
  looksLikePluginDefinition,
  pluginPathEntry,
  PluginNotFoundError,
  resolvePlugin,
  type InstalledPlugin,
  type ResolvedPlugin,
} from './discovery.js';
