export * from './config.js';
export * from './advanced-metrics.js';
