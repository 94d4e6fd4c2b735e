export * from './config.js';
export * from './reconciler.js';
export * from './controller.js';
export * from './leader.js';
export * from './metrics-configuration.js';
export * from './retina-endpoint.js';
export * from './crds/index.js';
export { VERSION } from './version.js';
