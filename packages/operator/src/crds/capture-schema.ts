/**
 * The Capture resource's schema. Spec fields are Retina's; status adds per-node job state and artifact locations.
 * The capture package keeps the hand-written model the workload and the CLI use; its tests check the generated
 * manifest against that model.
 */
import { z } from 'zod';
import { customResourceSchema, labelSelectorSchema } from './schemas.js';

const pcapExpression = (description: string) =>
  z.string().max(1024).regex(/^[^-]*$/).meta({ description });

/** At most 100 addresses a packet's one end must match. */
const addressList = (description: string) => z.array(z.string()).max(100).meta({ description }).optional();

const captureOptionSchema = z
  .object({
    duration: z
      .string()
      .regex(/^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/)
      .meta({ description: 'How long to capture, as a Go duration (e.g. 30s, 1m, 1h30m).' })
      .optional(),
    packetSize: z.number().int().meta({ description: 'Snap length in bytes: longer packets are truncated. 0 or unset keeps whole packets.' }).optional(),
    maxCaptureSize: z
      .number()
      .int()
      .default(100)
      .meta({ description: 'Stop once the capture file exceeds this many MB. With fileCount, the size of each rotating file.' }),
    fileCount: z
      .number()
      .int()
      .min(1)
      .meta({ description: 'Rotate over at most this many files of maxCaptureSize each, overwriting the oldest (tcpdump -W). Needs maxCaptureSize.' })
      .optional(),
    interfaces: z.array(z.string()).meta({ description: 'Interfaces to capture on; empty captures on all of them.' }).optional(),
    pcapFilter: pcapExpression('A pcap filter expression such as "tcp port 443"; expressions only, no tcpdump flags.').optional(),
    sourceIPs: addressList('Capture only packets from one of these addresses. With destinationIPs, both must match.'),
    destinationIPs: addressList('Capture only packets to one of these addresses. With sourceIPs, both must match.'),
    noPromiscuous: z.boolean().meta({ description: 'Do not put the interface into promiscuous mode (tcpdump -p).' }).optional(),
    packetBuffered: z.boolean().meta({ description: 'Write each packet as soon as it is captured (tcpdump -U).' }).optional(),
    immediateMode: z.boolean().meta({ description: 'Deliver packets to tcpdump immediately instead of in batches (tcpdump --immediate-mode).' }).optional(),
    noResolveDNS: z.boolean().meta({ description: 'Do not resolve addresses to host names (tcpdump -n).' }).optional(),
    noResolvePort: z.boolean().meta({ description: 'Do not resolve addresses or ports to names (tcpdump -nn).' }).optional(),
    verbosity: z
      .enum(['', 'verbose', 'extra', 'max'])
      .meta({ description: 'tcpdump verbosity: "" (normal), verbose (-v), extra (-vv), max (-vvv).' })
      .optional(),
    printDataFormat: z
      .enum(['', 'hex', 'hex-with-link', 'ascii', 'ascii-with-link'])
      .meta({ description: 'Packet data printing: "" (none), hex (-x), hex-with-link (-xx), ascii (-A), ascii-with-link (-AA).' })
      .optional(),
    printLinkHeader: z.boolean().meta({ description: 'Print link-level headers (tcpdump -e).' }).optional(),
    quietOutput: z.boolean().meta({ description: 'Print less protocol information (tcpdump -q).' }).optional(),
    absoluteSeq: z.boolean().meta({ description: 'Print absolute TCP sequence numbers (tcpdump -S).' }).optional(),
    dontVerifyChecksum: z.boolean().meta({ description: 'Do not verify TCP checksums (tcpdump -K).' }).optional(),
    timestampFormat: z
      .enum(['', 'none', 'unformatted', 'delta', 'date', 'delta-since-first'])
      .meta({ description: 'Timestamps: "" (default), none (-t), unformatted (-tt), delta (-ttt), date (-tttt), delta-since-first (-ttttt).' })
      .optional(),
  })
  .meta({ description: 'Limits, interfaces, filters and tcpdump output options.' });

export const captureSpecSchema = z
  .object({
    captureConfiguration: z
      .object({
        captureTarget: z
          .object({
            nodeSelector: labelSelectorSchema('Nodes to capture on. Cannot be combined with the pod selectors or podNames.').optional(),
            namespaceSelector: labelSelectorSchema('Namespaces in which podSelector selects pods (default: the default namespace).').optional(),
            podSelector: labelSelectorSchema('Pods whose traffic to capture, on the nodes they run on.').optional(),
            podNames: z
              .array(z.string())
              .meta({ description: 'Pods in the Capture namespace whose traffic to capture. Cannot be combined with the selectors.' })
              .optional(),
          })
          .meta({
            description:
              'Where to capture: nodeSelector (node traffic), podSelector with an optional namespaceSelector, or podNames (pod traffic on their nodes).',
          }),
        filters: z
          .object({
            include: z
              .array(z.string())
              .meta({ description: 'Entries IP, IP:port, port, *:port or IP:*; a missing or * port matches any port, a * IP any host.' })
              .optional(),
            exclude: z.array(z.string()).meta({ description: 'Entries to leave out, in the syntax of include.' }).optional(),
          })
          .meta({ description: 'Address filters: (include1 or include2 ...) and not (exclude1 or exclude2 ...).' })
          .optional(),
        tcpdumpFilter: pcapExpression('Deprecated: use captureOption.pcapFilter. A pcap filter expression, no flags.').optional(),
        includeMetadata: z
          .boolean()
          .default(true)
          .meta({
            description:
              'Also collect node network metadata: addresses, routes, neighbours, iptables/nftables rules, socket and interface statistics, /proc/net.',
          }),
        captureOption: captureOptionSchema.optional(),
      })
      .meta({ description: 'Targets, filters and options of the capture.' }),
    outputConfiguration: z
      .object({
        hostPath: z
          .string()
          .meta({
            description:
              'Relative sub-path under the operator-configured host base directory (default /var/log/retina/captures) on each node. Absolute paths and ".." are rejected.',
          })
          .optional(),
        persistentVolumeClaim: z
          .string()
          .meta({ description: 'PersistentVolumeClaim mounted into the capture pods (at /mnt/azure) that receives the tarballs.' })
          .optional(),
        blobUpload: z.string().meta({ description: 'Name of a Secret whose key blob-upload-url holds an Azure Blob container SAS URL.' }).optional(),
        s3Upload: z
          .object({
            bucket: z.string().meta({ description: 'Bucket to store the tarballs in.' }),
            endpoint: z.string().meta({ description: 'Endpoint URL of an S3-compatible store (path-style addressing).' }).optional(),
            region: z.string().meta({ description: 'Region of the bucket.' }).optional(),
            path: z.string().meta({ description: 'Key prefix, e.g. retina/captures.' }).optional(),
            secretName: z.string().meta({ description: 'Secret with keys s3-access-key-id and s3-secret-access-key.' }),
          })
          .meta({ description: 'Upload to S3 or an S3-compatible store.' })
          .optional(),
      })
      .meta({ description: 'Where the tarballs go; at least one output is required.' }),
    cleanUpAfterUpload: z
      .boolean()
      .default(false)
      .meta({ description: 'Delete the jobs, their secrets and this Capture once every job succeeded and the tarballs are stored remotely.' }),
  })
  .meta({ description: 'What to capture, how, and where to store it.' });

const captureStatusSchema = z
  .object({
    conditions: z
      .array(
        z.object({
          type: z.string().max(316).meta({ description: 'Condition type: complete or error.' }),
          status: z.enum(['True', 'False', 'Unknown']).meta({ description: 'True, False or Unknown.' }),
          reason: z
            .string()
            .min(1)
            .max(1024)
            .meta({ description: 'Machine-readable reason, e.g. JobsInProgress, JobsCompleted, ExceedJobNumLimit, FindSecretFailed.' }),
          message: z.string().max(32768).meta({ description: 'Human-readable details.' }),
          lastTransitionTime: z.string().meta({ description: 'When the status last changed.', format: 'date-time' }),
          observedGeneration: z
            .number()
            .int()
            .min(0)
            .meta({ description: 'The spec generation the condition was computed from.', format: 'int64' })
            .optional(),
        }),
      )
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
      .optional(),
    startTime: z.string().meta({ description: 'When the capture started; names the artifacts.', format: 'date-time' }).optional(),
    completionTime: z
      .string()
      .meta({ description: 'When the last job completed; set only when the capture succeeded.', format: 'date-time' })
      .optional(),
    active: z.number().int().meta({ description: 'Jobs pending or running.', format: 'int32' }).optional(),
    succeeded: z.number().int().meta({ description: 'Jobs completed.', format: 'int32' }).optional(),
    failed: z.number().int().meta({ description: 'Jobs failed.', format: 'int32' }).optional(),
    nodes: z
      .array(
        z.object({
          nodeName: z.string().meta({ description: 'Node captured on.' }),
          jobName: z.string().meta({ description: 'Job capturing on the node.' }),
          phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed']).meta({ description: 'Pending, Running, Succeeded or Failed.' }),
          artifacts: z.array(z.string()).meta({ description: 'Locations of the node tarball, one per output, without credentials.' }).optional(),
        }),
      )
      .meta({ description: 'The capture job of each node and where its tarball is stored.' })
      .optional(),
  })
  .meta({ description: 'Progress of the capture.' });

export const captureSchema = customResourceSchema(
  captureSpecSchema,
  captureStatusSchema,
  'A distributed packet capture: tcpdump on the selected nodes or pods, stored with node network metadata as one tarball per node.',
);
