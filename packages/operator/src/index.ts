export * from './config.js';
export * from './reconciler.js';
export * from './controller.js';
export * from './leader.js';
export { VERSION } from './version.js';
