/**
 * The CustomResourceDefinitions of the retina.sh group, built from the zod schemas. The operator installs them at
 * start (`installCRDs`), and `scripts/generate-crds.mjs` writes them to deploy/crds (the Helm chart's crds folder),
 * where a test keeps the committed files equal to what these functions return.
 */
import type { z } from 'zod';
import { stringify } from 'yaml';
import { captureSchema } from './capture-schema.js';
import { toStructuralSchema, type JSONSchemaProps } from './openapi.js';
import { metricsConfigurationSchema, retinaEndpointSchema, tracesConfigurationSchema } from './schemas.js';

/** The API group and version of every retina.sh resource. */
export const RETINA_GROUP = 'retina.sh';
export const RETINA_VERSION = 'v1alpha1';
export const RETINA_API_VERSION = `${RETINA_GROUP}/${RETINA_VERSION}`;

/** A CustomResourceDefinition (apiextensions.k8s.io/v1), as much of it as these definitions set. */
export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string>; resourceVersion?: string; [k: string]: unknown };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    scope: 'Namespaced' | 'Cluster';
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: Record<string, never> };
      additionalPrinterColumns?: { name: string; type: string; jsonPath: string; priority?: number; description?: string }[];
      schema: { openAPIV3Schema: JSONSchemaProps };
    }[];
  };
}

interface Definition {
  kind: string;
  plural: string;
  scope: 'Namespaced' | 'Cluster';
  schema: z.ZodType;
  shortNames?: string[];
  columns?: NonNullable<CustomResourceDefinition['spec']['versions'][number]['additionalPrinterColumns']>;
  /** First line of the generated file. */
  comment: string;
}

const age = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

const DEFINITIONS: Definition[] = [
  {
    kind: 'Capture',
    plural: 'captures',
    scope: 'Namespaced',
    schema: captureSchema,
    columns: [
      { name: 'Active', type: 'integer', jsonPath: '.status.active' },
      { name: 'Succeeded', type: 'integer', jsonPath: '.status.succeeded' },
      { name: 'Failed', type: 'integer', jsonPath: '.status.failed' },
      age,
    ],
    comment: "The Capture resource: Retina's spec fields, so its manifests apply unchanged; status adds per-node job state and artifact locations.",
  },
  {
    kind: 'MetricsConfiguration',
    plural: 'metricsconfigurations',
    scope: 'Cluster',
    schema: metricsConfigurationSchema,
    columns: [{ name: 'State', type: 'string', jsonPath: '.status.state' }, age],
    comment: 'The MetricsConfiguration resource: pod-level context of the advanced metrics; the operator accepts one per cluster.',
  },
  {
    kind: 'RetinaEndpoint',
    plural: 'retinaendpoints',
    scope: 'Namespaced',
    schema: retinaEndpointSchema,
    shortNames: ['ke'],
    columns: [
      { name: 'Pod IP', type: 'string', jsonPath: '.spec.podIP' },
      { name: 'Node IP', type: 'string', jsonPath: '.spec.nodeIP', priority: 1 },
      age,
    ],
    comment: 'The RetinaEndpoint resource: one per pod with an IP, kept by the operator for agents in remote context.',
  },
  {
    kind: 'TracesConfiguration',
    plural: 'tracesconfigurations',
    scope: 'Cluster',
    schema: tracesConfigurationSchema,
    columns: [{ name: 'State', type: 'string', jsonPath: '.status.state' }, age],
    comment: "The TracesConfiguration resource: Retina's trace configuration, served so its manifests apply; nothing acts on it yet.",
  },
];

function build(d: Definition): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${d.plural}.${RETINA_GROUP}` },
    spec: {
      group: RETINA_GROUP,
      names: {
        kind: d.kind,
        listKind: `${d.kind}List`,
        plural: d.plural,
        singular: d.kind.toLowerCase(),
        ...(d.shortNames ? { shortNames: d.shortNames } : {}),
        categories: ['retina'],
      },
      scope: d.scope,
      versions: [
        {
          name: RETINA_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          ...(d.columns ? { additionalPrinterColumns: d.columns } : {}),
          schema: { openAPIV3Schema: toStructuralSchema(d.schema) },
        },
      ],
    },
  };
}

/** Every CRD of the group, in a fixed order. */
export function retinaCRDs(): CustomResourceDefinition[] {
  return DEFINITIONS.map(build);
}

/** The CRDs the operator installs: Retina installs Capture and MetricsConfiguration, and RetinaEndpoint when enabled. */
export function operatorCRDs(options: { enableRetinaEndpoint: boolean }): CustomResourceDefinition[] {
  return retinaCRDs().filter((c) => c.spec.names.kind !== 'TracesConfiguration' && (options.enableRetinaEndpoint || c.spec.names.kind !== 'RetinaEndpoint'));
}

/** The files of deploy/crds: `retina.sh_<plural>.yaml` to their text. */
export function crdFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const d of DEFINITIONS) {
    const text = stringify(build(d), { lineWidth: 0 });
    files.set(
      `${RETINA_GROUP}_${d.plural}.yaml`,
      `# ${d.comment}\n# Generated from packages/operator/src/crds by packages/operator/scripts/generate-crds.mjs: do not edit.\n---\n${text}`,
    );
  }
  return files;
}
