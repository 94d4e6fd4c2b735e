export { Agent, createAgent, type AgentOptions } from './agent.js';
export {
  defaultSearchPaths,
  InvalidPluginError,
  listInstalledPlugins,
  looksLikePluginDefinition,
  PluginNotFoundError,
  resolvePlugin,
  type InstalledPlugin,
  type ResolvedPlugin,
} from './discovery.js';
