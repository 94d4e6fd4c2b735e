// The same programmatic API as @retina-ts/agent, for code that installed the full agent.
export * from '@retina-ts/agent';
