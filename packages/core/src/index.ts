export * from './flow/flow.js';
export * from './plugin/contract.js';
