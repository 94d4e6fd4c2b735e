// A custom agent: exactly the plugins imported here, no discovery, metrics on :10093.
import { createAgent } from '@retina-ts/agent';
import linuxutil from '@retina-ts/plugin-linuxutil';

const agent = await createAgent({
  plugins: [linuxutil],
  config: { apiServer: { port: 10093 }, metricsIntervalDuration: '5s', plugins: { linuxutil: { maxRemoteAddresses: 50 } } },
});
await agent.start();
process.once('SIGTERM', () => agent.stop().then(() => process.exit(0)));
process.once('SIGINT', () => agent.stop().then(() => process.exit(0)));
