/**
 * The parts of @kubernetes/client-node this package uses, in one place. The published build turns this module into
 * `dist/client-node.js`: a tree-shaken bundle of only these parts without comments, which keeps the client's
 * ~21 MB of generated sources (retained by V8 as script text) out of the agent's heap. Tests and type declarations
 * use the package itself.
 */
export {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
export type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
