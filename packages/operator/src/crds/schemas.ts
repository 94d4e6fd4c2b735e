/**
 * The schemas of the retina.sh/v1alpha1 custom resources, written once as zod schemas. The same objects give the
 * TypeScript types (`z.infer`), the structural checks the controllers run, and (through `openapi.ts`) the
 * OpenAPI v3 schemas of the CRD manifests in deploy/crds, so the three cannot drift apart. Field names, types and
 * enums match Retina's resources, so manifests written for Retina apply unchanged.
 */
import { z } from 'zod';

/** Kubernetes extensions carried into the generated schema. */
const listSet = { 'x-kubernetes-list-type': 'set' } as const;
const listAtomic = { 'x-kubernetes-list-type': 'atomic' } as const;
const mapAtomic = { 'x-kubernetes-map-type': 'atomic' } as const;

const stringMap = (description: string) => z.record(z.string(), z.string()).meta({ description });

/** `metav1.LabelSelector`. */
export const labelSelectorSchema = (description: string) =>
  z
    .object({
      matchLabels: stringMap('Labels that must all match (key equals value).').optional(),
      matchExpressions: z
        .array(
          z.object({
            key: z.string().meta({ description: 'Label key.' }),
            operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']).meta({ description: 'In, NotIn, Exists or DoesNotExist.' }),
            values: z
              .array(z.string())
              .meta({ description: 'Values for In and NotIn; empty for Exists and DoesNotExist.', ...listAtomic })
              .optional(),
          }),
        )
        .meta({ description: 'Set-based requirements; all must match.', ...listAtomic })
        .optional(),
    })
    .meta({ description, ...mapAtomic });

/** The root of a custom resource: its type and object metadata, then its own spec and (optional) status. */
export const customResourceSchema = <Spec extends z.ZodType, Status extends z.ZodType>(
  spec: Spec,
  status: Status,
  description: string,
) =>
  z
    .object({
      apiVersion: z.string().meta({ description: 'Versioned schema of this object.' }).optional(),
      kind: z.string().meta({ description: 'Kind of this object.' }).optional(),
      metadata: z.looseObject({}).optional(),
      spec,
      status: status.optional(),
    })
    .meta({ description });

// ---- MetricsConfiguration ----

/** States a MetricsConfiguration's status may take. */
export const METRICS_CONFIGURATION_STATES = ['Initialized', 'Accepted', 'Errored', 'Warning'] as const;

export const metricsContextOptionSchema = z.object({
  metricName: z.string().meta({ description: 'Advanced metric the options apply to, e.g. forward_count, drop_count, dns.' }),
  sourceLabels: z
    .array(z.string())
    .meta({ description: 'Context labels of the source: ip, pod, podname, namespace, workload, service, port, zone.', ...listSet })
    .optional(),
  destinationLabels: z
    .array(z.string())
    .meta({ description: 'Context labels of the destination, from the same list as sourceLabels.', ...listSet })
    .optional(),
  additionalLabels: z.array(z.string()).meta({ description: 'Further labels, e.g. direction.', ...listSet }).optional(),
  ttl: z
    .string()
    .meta({ description: 'Series not updated for this long (a Go duration, e.g. 5m) are dropped from the export; empty keeps them.' })
    .optional(),
});

export const metricsSpecSchema = z
  .object({
    contextOptions: z.array(metricsContextOptionSchema).meta({ description: 'Pod-level context per advanced metric.' }),
    namespaces: z
      .object({
        include: z.array(z.string()).meta({ description: 'Only pods of these namespaces are observed.', ...listSet }).optional(),
        exclude: z.array(z.string()).meta({ description: 'Pods of these namespaces are not observed.', ...listSet }).optional(),
      })
      .meta({ description: 'Which namespaces are observed: exactly one of include and exclude.' }),
  })
  .meta({ description: 'Which advanced metrics carry pod context, with which labels, for which namespaces.' });

export const metricsStatusSchema = z
  .object({
    state: z.enum(METRICS_CONFIGURATION_STATES).default('Initialized').meta({ description: 'Whether the operator accepted the configuration.' }),
    reason: z.string().meta({ description: 'Why: the offending field when Errored.' }),
    lastKnownSpec: metricsSpecSchema.optional(),
  })
  .meta({ description: 'Written by the operator.' });

export const metricsConfigurationSchema = customResourceSchema(
  metricsSpecSchema.optional(),
  metricsStatusSchema,
  'Pod-level metrics configuration of the cluster; agents apply the one the operator accepted.',
);

export type MetricsContextOptionSpec = z.infer<typeof metricsContextOptionSchema>;
export type MetricsSpec = z.infer<typeof metricsSpecSchema>;
export type MetricsStatus = z.infer<typeof metricsStatusSchema>;
export type MetricsConfigurationState = (typeof METRICS_CONFIGURATION_STATES)[number];

// ---- RetinaEndpoint ----

export const retinaEndpointSpecSchema = z
  .object({
    containers: z
      .array(
        z.object({
          name: z.string().meta({ description: 'Container name.' }).optional(),
          id: z.string().meta({ description: 'Container ID as the runtime reports it.' }).optional(),
        }),
      )
      .meta({ description: 'Containers of the pod.' })
      .optional(),
    ownerReferences: z
      .array(
        z.object({
          apiVersion: z.string().optional(),
          kind: z.string().optional(),
          name: z.string().optional(),
        }),
      )
      .meta({ description: "The pod's owners (kind and name)." })
      .optional(),
    nodeIP: z.string().meta({ description: 'IP of the node the pod runs on.' }).optional(),
    podIP: z.string().meta({ description: 'Primary pod IP.' }).optional(),
    podIPs: z.array(z.string()).meta({ description: 'Every pod IP (dual stack).' }).optional(),
    labels: stringMap('Labels of the pod.').optional(),
    annotations: stringMap('Annotations of the pod.').optional(),
  })
  .meta({ description: 'A copy of what agents need to know about one pod.' });

export const retinaEndpointSchema = customResourceSchema(
  retinaEndpointSpecSchema.optional(),
  z.object({}).meta({ description: 'Unused.' }),
  'One pod with an IP, kept by the operator so agents in remote context need not watch pods.',
);

export type RetinaEndpointSpec = z.infer<typeof retinaEndpointSpecSchema>;

// ---- TracesConfiguration ----

const traceTargetSchema = z.object({
  ipBlock: z
    .object({
      cidr: z.string().meta({ description: 'Addresses, e.g. 10.0.0.0/16.' }).optional(),
      except: z.array(z.string()).meta({ description: 'Ranges of cidr to leave out.' }).optional(),
    })
    .optional(),
  namespaceSelector: labelSelectorSchema('Namespaces whose pods are traced.').optional(),
  podSelector: labelSelectorSchema('Pods to trace.').optional(),
  nodeSelector: labelSelectorSchema('Nodes to trace.').optional(),
  serviceSelector: labelSelectorSchema('Services to trace.').optional(),
});

/** A port as number or name (`intstr.IntOrString`). */
const intOrString = (description: string) =>
  z.union([z.number().int(), z.string()]).meta({ description, 'x-kubernetes-int-or-string': true });

export const tracesSpecSchema = z
  .object({
    traceConfiguration: z
      .array(
        z.object({
          captureLevel: z.enum(['AllPackets', 'FirstPacket']).meta({ description: 'Trace every packet or the first of each flow.' }).optional(),
          includeLayer7Data: z.boolean().meta({ description: 'Include layer 7 data.' }).optional(),
          traceTargets: z
            .array(
              z.object({
                from: traceTargetSchema.meta({ description: 'Source of the traced traffic.' }).optional(),
                to: traceTargetSchema.meta({ description: 'Destination of the traced traffic.' }).optional(),
                ports: z
                  .array(
                    z.object({
                      port: intOrString('Port number or name.'),
                      protocol: z.string().default('TCP').meta({ description: 'TCP, UDP or SCTP.' }),
                      endPort: intOrString('Last port of a range.').optional(),
                    }),
                  )
                  .optional(),
                tracePoints: z
                  .array(z.string())
                  .meta({ description: 'Where to trace: PodToNode, NodeToPod, NodeToNetwork, NetworkToNode.' })
                  .optional(),
              }),
            )
            .optional(),
        }),
      )
      .meta({ description: 'What to trace.' })
      .optional(),
    outputConfiguration: z
      .object({
        destination: z.enum(['stdout', 'azuretable', 'loganalytics', 'opentelemetry']).meta({ description: 'Where traces go.' }),
        connectionConfiguration: z.string().meta({ description: 'How to reach the destination.' }),
      })
      .meta({ description: 'Where the traces are sent.' })
      .optional(),
  })
  .meta({ description: 'Advanced packet traces.' });

export const tracesConfigurationSchema = customResourceSchema(
  tracesSpecSchema.optional(),
  z.object({
    state: z.enum(METRICS_CONFIGURATION_STATES).default('Initialized'),
    reason: z.string(),
    lastKnownSpec: tracesSpecSchema.optional(),
  }),
  'Packet trace configuration of the cluster (accepted for compatibility; retina-ts does not trace yet).',
);
