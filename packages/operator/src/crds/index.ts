export * from './schemas.js';
export * from './capture-schema.js';
export * from './openapi.js';
export * from './definitions.js';
export * from './install.js';
