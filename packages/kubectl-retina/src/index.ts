export * from './flags.js';
export * from './kube.js';
export * from './program.js';
export * from './commands/create.js';
export * from './commands/manage.js';
export * from './commands/health.js';
export * from './commands/download.js';
export * from './commands/shell.js';
export { VERSION } from './version.js';
