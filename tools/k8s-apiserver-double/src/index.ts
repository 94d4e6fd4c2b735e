export * from './resources.js';
export * from './selectors.js';
export * from './store.js';
export * from './server.js';
export * from './kubeconfig.js';
export * from './node-files.js';
