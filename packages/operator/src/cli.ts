#!/usr/bin/env node
/**
 * retina-operator: installs the retina.sh CRDs (installCRDs), reconciles Capture resources into capture Jobs,
 * accepts one MetricsConfiguration, and with remoteContext and enableRetinaEndpoint keeps a RetinaEndpoint per
 * pod. With --enable-leader-election several replicas can run; only the lease holder reconciles.
 */
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_AGENT_IMAGE } from '@retina-ts/capture';
import { createLogger } from '@retina-ts/core';
import { loadOperatorConfig } from './config.js';
import { CaptureController } from './controller.js';
import { kubeLeaseClient, LeaderElector } from './leader.js';
import { CaptureReconciler } from './reconciler.js';
import { installCRDs, operatorCRDs } from './crds/index.js';
import { MetricsConfigurationController } from './metrics-configuration.js';
import { RetinaEndpointController } from './retina-endpoint.js';
import { VERSION } from './version.js';

const program = new Command()
  .name('retina-operator')
  .version(VERSION)
  .option('--config <file>', 'operator configuration (operator-config.yaml)')
  .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster, then $KUBECONFIG / ~/.kube/config)')
  .option('--probe-addr <addr>', 'health probe listen address', ':8081')
  .option('--enable-leader-election', 'elect one active replica through a Lease', false)
  .option('--leader-election-namespace <ns>', 'namespace of the Lease (default: $POD_NAMESPACE, else kube-system)')
  .option('--image <image>', 'capture workload image (default: the agent image of this version; with captureDebug $RETINA_AGENT_IMAGE)');

program.action(async (o: Record<string, string | boolean | undefined>) => {
  const config = await loadOperatorConfig(o.config as string | undefined);
  const logger = createLogger({ name: 'retina-operator', level: config.logLevel });
  const kc = new KubeConfig();
  if (o.kubeconfig) kc.loadFromFile(o.kubeconfig as string);
  else kc.loadFromDefault();
  const image =
    (o.image as string | undefined) ||
    (config.captureDebug ? process.env.RETINA_AGENT_IMAGE : undefined) ||
    DEFAULT_AGENT_IMAGE;
  if (config.installCRDs) {
    try {
      const done = await installCRDs(kc, operatorCRDs({ enableRetinaEndpoint: config.enableRetinaEndpoint }));
      logger.info(Object.fromEntries(done), 'CRDs installed');
    } catch (err) {
      logger.error({ error: (err as Error).message }, 'CRDs could not be installed');
      process.exit(1);
    }
  }
  const controllers: { start(): Promise<void>; stop(): Promise<void> }[] = [
    new CaptureController(kc, new CaptureReconciler(kc, { config, logger, image }), { logger }),
    new MetricsConfigurationController(kc, { logger }),
  ];
  if (config.remoteContext && config.enableRetinaEndpoint) controllers.push(new RetinaEndpointController(kc, { logger }));
  const controller = {
    start: async () => {
      for (const c of controllers) await c.start();
    },
    stop: async () => {
      await Promise.all(controllers.map((c) => c.stop()));
    },
  };
  let ready = false;

  const [host, port] = (() => {
    const addr = o.probeAddr as string;
    const i = addr.lastIndexOf(':');
    return [addr.slice(0, i) || '0.0.0.0', Number(addr.slice(i + 1))];
  })();
  const probes = createServer((req, res) => {
    const ok = req.url === '/healthz' || (req.url === '/readyz' && ready);
    res.writeHead(ok ? 200 : req.url === '/readyz' ? 503 : 404, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'not ready');
  }).listen(port, host);

  let elector: LeaderElector | undefined;
  const shutdown = async (code: number) => {
    await controller.stop();
    await elector?.stop();
    probes.close();
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGINT', () => void shutdown(0));

  const lead = () =>
    controller
      .start()
      .then(() => (ready = true))
      .catch((err: Error) => {
        logger.error({ error: err.message }, 'controllers could not start');
        void shutdown(1);
      });
  if (o.enableLeaderElection) {
    ready = true; // a standby replica is healthy and ready; only the leader reconciles
    elector = new LeaderElector({
      client: kubeLeaseClient(kc),
      namespace: (o.leaderElectionNamespace as string | undefined) || process.env.POD_NAMESPACE || 'kube-system',
      identity: `${hostname()}_${randomBytes(4).toString('hex')}`,
      logger,
    });
    elector.run(() => void lead(), () => void shutdown(1));
  } else {
    await lead();
  }
  logger.info(
    { version: VERSION, leaderElection: Boolean(o.enableLeaderElection), image, retinaEndpoints: controllers.length > 2 },
    'retina-operator running',
  );
});

await program.parseAsync();
