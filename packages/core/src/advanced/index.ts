export * from './config.js';
export * from './advanced-metrics.js';
export * from './apiserver-latency.js';
export * from './pod-level.js';
