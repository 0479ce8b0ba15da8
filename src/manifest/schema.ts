// The fog/v1 JSON Schemas (draft 2020-12). They are part of the API: the
// loader validates every document against them before normalising, and a
// doc generator may read them. `x-expected` is an annotation of ours: the
// human phrase for "what is allowed", used verbatim in error messages.
// Semantic rules that a schema cannot say well (tls completeness, quantity
// syntax, constraint grammar, cross-object references) live in normalise.ts.

export const SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
const LABEL_KEY = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';

/** A list item that must be a string: YAML reads true, 1.4 and null as other types. */
const STRING_ITEM = { type: 'string', 'x-expected': 'a string (quote true, false and numbers)' } as const;

export const NAME_EXPECTED = 'a DNS-1123 label: 1-63 characters of a-z, 0-9 and -, starting and ending with a letter or digit';

/** Shared definitions, referenced by both kinds. */
export const DEFS = {
  name: { type: 'string', pattern: DNS_LABEL, 'x-expected': NAME_EXPECTED },
  nameList: { type: 'array', items: { $ref: '#/$defs/name' }, 'x-expected': 'a list of service names' },
  labels: {
    type: 'object',
    propertyNames: {
      maxLength: 316,
      pattern: LABEL_KEY,
      'x-expected': 'a label key: an optional DNS prefix and /, then 1-63 characters of A-Z, a-z, 0-9, -, _ and ., starting and ending with a letter or digit',
    },
    additionalProperties: {
      type: 'string',
      pattern: LABEL_VALUE,
      'x-expected': 'a label value: a string (quote numbers: "1.4") of at most 63 characters of A-Z, a-z, 0-9, -, _ and ., starting and ending with a letter or digit',
    },
    'x-expected': 'a mapping of label keys to string values',
  },
  annotations: {
    type: 'object',
    additionalProperties: { type: 'string', 'x-expected': 'a string' },
    'x-expected': 'a mapping of strings to strings',
  },
  metadata: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { $ref: '#/$defs/name' },
      labels: { $ref: '#/$defs/labels' },
      annotations: { $ref: '#/$defs/annotations' },
    },
    'x-expected': 'a mapping with name, labels and annotations',
  },
  cpu: {
    type: ['string', 'number'],
    'x-expected': 'a cpu quantity: a number of CPUs (0.5) or millicores ("500m")',
  },
  memory: {
    type: ['string', 'integer'],
    'x-expected': 'a memory quantity: bytes (1048576) or a number with a suffix k, M, G, T, Ki, Mi, Gi, Ti ("256Mi")',
  },
  disk: {
    type: ['string', 'integer'],
    'x-expected': 'a disk quantity: bytes (1048576) or a number with a suffix k, M, G, T, Ki, Mi, Gi, Ti ("512Mi")',
  },
  duration: {
    type: ['string', 'number'],
    'x-expected': 'a duration: seconds (10) or a string like "500ms", "10s", "2m", "1h", "1m30s"',
  },
  device: {
    type: 'string',
    pattern: '^/dev/[^\\s:]+$',
    'x-expected': 'a host device path starting with /dev/ (e.g. /dev/ttyUSB0)',
  },
  devices: { type: 'array', items: { $ref: '#/$defs/device' }, 'x-expected': 'a list of device paths' },
  nonEmptyString: { type: 'string', minLength: 1, 'x-expected': 'a non-empty string' },
  flag: { type: 'boolean', 'x-expected': 'true or false' },
  capabilities: {
    type: 'array',
    items: { type: 'string', pattern: '^[A-Za-z_]+$', 'x-expected': 'a capability name like NET_ADMIN' },
    'x-expected': 'a list of capability names like [NET_ADMIN, SYS_TIME]',
  },
} as const;

function envelope(kind: string, spec: object): object {
  return {
    $schema: SCHEMA_DIALECT,
    $id: `https://fog.local/schemas/v1/${kind.toLowerCase()}.json`,
    title: `fog/v1 ${kind}`,
    type: 'object',
    additionalProperties: false,
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: { const: 'fog/v1', 'x-expected': 'fog/v1' },
      kind: { const: kind, 'x-expected': kind },
      metadata: { $ref: '#/$defs/metadata' },
      spec,
    },
    $defs: DEFS,
    'x-expected': 'a mapping with apiVersion, kind, metadata and spec',
  };
}

export const NODE_SPEC_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoint'],
  'x-expected': 'a mapping',
  properties: {
    endpoint: {
      type: 'string',
      pattern: '^(unix:///.+|tcp://[^/\\s]+:[0-9]{1,5})$',
      'x-expected': 'a Docker endpoint: unix:///path/docker.sock or tcp://host:port',
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      'x-expected': 'a mapping with ca, cert and key (file paths)',
      properties: {
        ca: { $ref: '#/$defs/nonEmptyString' },
        cert: { $ref: '#/$defs/nonEmptyString' },
        key: { $ref: '#/$defs/nonEmptyString' },
      },
    },
    insecure: { type: 'boolean', 'x-expected': 'true or false' },
    address: {
      type: 'string',
      pattern: '^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$',
      'x-expected': 'a host name or IP address',
    },
    devices: { $ref: '#/$defs/devices' },
    capacity: {
      type: 'object',
      additionalProperties: false,
      'x-expected': 'a mapping with cpu, memory and disk',
      properties: { cpu: { $ref: '#/$defs/cpu' }, memory: { $ref: '#/$defs/memory' }, disk: { $ref: '#/$defs/disk' } },
    },
    unschedulable: { type: 'boolean', 'x-expected': 'true or false' },
    images: {
      type: 'object',
      additionalProperties: false,
      'x-expected': 'a mapping with pull',
      properties: { pull: { enum: ['if-not-present', 'never'], 'x-expected': 'if-not-present or never' } },
    },
    allow: {
      type: 'object',
      additionalProperties: false,
      'x-expected': 'a mapping with privileged, hostPID, hostIPC, capabilities and hostPaths',
      properties: {
        privileged: { $ref: '#/$defs/flag' },
        hostPID: { $ref: '#/$defs/flag' },
        hostIPC: { $ref: '#/$defs/flag' },
        capabilities: { $ref: '#/$defs/capabilities' },
        hostPaths: {
          type: 'array',
          items: { type: 'string', pattern: '^/[^:\\s]*$', 'x-expected': 'an absolute host path like /data' },
          'x-expected': 'a list of absolute host paths',
        },
      },
    },
  },
} as const;

const PORT_NUMBER = { type: 'integer', minimum: 1, maximum: 65535, 'x-expected': 'a port number 1-65535' } as const;

export const SERVICE_SPEC_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['image'],
  'x-expected': 'a mapping',
  properties: {
    image: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9._/:@-]*$',
      maxLength: 255,
      'x-expected': 'an image reference like fog/busybox:latest',
    },
    command: {
      anyOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', minItems: 1, items: STRING_ITEM },
      ],
      'x-expected': 'a non-empty list of strings, or a string run with /bin/sh -c',
    },
    env: {
      type: 'object',
      'x-expected': 'a mapping of variable names to values',
      propertyNames: {
        pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
        'x-expected': 'an environment variable name: letters, digits and _, not starting with a digit',
      },
      additionalProperties: {
        anyOf: [
          { type: ['string', 'number', 'boolean'] },
          {
            type: 'object',
            additionalProperties: false,
            required: ['value'],
            properties: {
              value: { type: ['string', 'number', 'boolean'], 'x-expected': 'a string, number or boolean' },
              secret: { type: 'boolean', 'x-expected': 'true or false' },
            },
          },
        ],
        'x-expected': 'a string, number or boolean, or a mapping {value, secret}',
      },
    },
    ports: {
      type: 'array',
      'x-expected': 'a list of ports',
      items: {
        anyOf: [
          {
            type: 'string',
            pattern: '^[0-9]{1,5}(:[0-9]{1,5})?(/(tcp|udp))?$',
            'x-expected': 'a port: "CONTAINER", "HOST:CONTAINER", optionally followed by /tcp or /udp',
          },
          PORT_NUMBER,
          {
            type: 'object',
            additionalProperties: false,
            required: ['container'],
            properties: {
              container: PORT_NUMBER,
              host: PORT_NUMBER,
              protocol: { enum: ['tcp', 'udp'], 'x-expected': 'tcp or udp' },
            },
          },
        ],
        'x-expected': 'a port: a mapping {container, host, protocol} or a string like "8080:80", "1883" or "5683/udp"',
      },
    },
    network: { enum: ['host', 'none', 'bridge'], 'x-expected': 'one of host, none, bridge' },
    volumes: {
      type: 'array',
      'x-expected': 'a list of volumes',
      items: {
        anyOf: [
          {
            type: 'string',
            pattern: '^[^:\\s]+:/[^:]*(:(ro|rw))?$',
            'x-expected': 'a volume: SOURCE:TARGET or SOURCE:TARGET:ro, TARGET an absolute path',
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['source', 'target'],
            properties: {
              source: { type: 'string', pattern: '^[^:\\s]+$', 'x-expected': 'a host path (/...) or a volume name' },
              target: { type: 'string', pattern: '^/[^:]*$', 'x-expected': 'an absolute path in the container' },
              readOnly: { type: 'boolean', 'x-expected': 'true or false' },
            },
          },
        ],
        'x-expected': 'a volume: a string SOURCE:TARGET[:ro] or a mapping {source, target, readOnly}',
      },
    },
    mode: { enum: ['replicated', 'global'], 'x-expected': 'replicated or global' },
    replicas: { type: 'integer', minimum: 0, 'x-expected': 'an integer >= 0' },
    resources: {
      type: 'object',
      additionalProperties: false,
      'x-expected': 'a mapping with cpu, memory and disk',
      properties: { cpu: { $ref: '#/$defs/cpu' }, memory: { $ref: '#/$defs/memory' }, disk: { $ref: '#/$defs/disk' } },
    },
    devices: { $ref: '#/$defs/devices' },
    placement: {
      type: 'object',
      additionalProperties: false,
      'x-expected': 'a mapping',
      properties: {
        constraints: {
          type: 'array',
          items: { type: 'string', minLength: 1, 'x-expected': 'a constraint expression like "node.labels.zone == line1"' },
          'x-expected': 'a list of constraint expressions',
        },
        spread: {
          type: 'string',
          pattern: LABEL_KEY,
          'x-expected': 'a node label key (e.g. zone)',
        },
        maxPerNode: { type: 'integer', minimum: 1, 'x-expected': 'an integer >= 1' },
        affinity: { $ref: '#/$defs/nameList' },
        antiAffinity: { $ref: '#/$defs/nameList' },
        onNodeReturn: { enum: ['keep-replacement', 'keep-original'], 'x-expected': 'keep-replacement or keep-original' },
      },
    },
    dependsOn: { $ref: '#/$defs/nameList' },
    restart: {
      anyOf: [
        { type: 'string', enum: ['always', 'on-failure', 'never'], 'x-expected': 'one of always, on-failure, never' },
        {
          type: 'object',
          additionalProperties: false,
          required: ['policy'],
          properties: {
            policy: { enum: ['always', 'on-failure', 'never'], 'x-expected': 'one of always, on-failure, never' },
            maxRetries: { type: 'integer', minimum: 0, 'x-expected': 'an integer >= 0' },
          },
        },
      ],
      'x-expected': 'one of always, on-failure, never, or a mapping {policy, maxRetries}',
    },
    update: {
      type: 'object',
      additionalProperties: false,
      'x-expected': 'a mapping',
      properties: {
        parallelism: { type: 'integer', minimum: 1, 'x-expected': 'an integer >= 1' },
        order: { enum: ['start-first', 'stop-first'], 'x-expected': 'start-first or stop-first' },
        delay: { $ref: '#/$defs/duration' },
        monitor: { $ref: '#/$defs/duration' },
        maxFailureRatio: { type: 'number', minimum: 0, maximum: 1, 'x-expected': 'a number from 0 to 1' },
        failureAction: { enum: ['rollback', 'pause', 'continue'], 'x-expected': 'rollback, pause or continue' },
        progressDeadline: { $ref: '#/$defs/duration' },
        windows: {
          type: 'array',
          items: { type: 'string', 'x-expected': 'a window like "Mon-Fri 22:00-06:00 Europe/Berlin"' },
          'x-expected': 'a list of windows like "Mon-Fri 22:00-06:00 Europe/Berlin"',
        },
        canary: { type: 'integer', minimum: 0, 'x-expected': 'an integer >= 0' },
        autoPromote: { type: 'boolean', 'x-expected': 'true or false' },
      },
    },
    healthcheck: {
      type: 'object',
      additionalProperties: false,
      required: ['test'],
      'x-expected': 'a mapping with test, interval, timeout, retries, startPeriod',
      properties: {
        test: {
          anyOf: [
            { type: 'string', minLength: 1 },
            {
              type: 'array',
              minItems: 2,
              prefixItems: [{ enum: ['CMD', 'CMD-SHELL'], 'x-expected': 'CMD or CMD-SHELL' }],
              items: STRING_ITEM,
            },
          ],
          'x-expected': 'a list starting with CMD or CMD-SHELL (["CMD", "wget", "-q", "..."]), or a shell command string',
        },
        interval: { $ref: '#/$defs/duration' },
        timeout: { $ref: '#/$defs/duration' },
        retries: { type: 'integer', minimum: 0, 'x-expected': 'an integer >= 0' },
        startPeriod: { $ref: '#/$defs/duration' },
      },
    },
    stopGracePeriod: { $ref: '#/$defs/duration' },
    security: {
      type: 'object',
      additionalProperties: false,
      'x-expected': 'a mapping with privileged, hostPID, hostIPC and capAdd',
      properties: {
        privileged: { $ref: '#/$defs/flag' },
        hostPID: { $ref: '#/$defs/flag' },
        hostIPC: { $ref: '#/$defs/flag' },
        capAdd: { $ref: '#/$defs/capabilities' },
      },
    },
  },
} as const;

/** The whole-document schema of a Node. */
export const NODE_SCHEMA = envelope('Node', NODE_SPEC_SCHEMA);
/** The whole-document schema of a Service. */
export const SERVICE_SCHEMA = envelope('Service', SERVICE_SPEC_SCHEMA);

/** Every kind of fog/v1, with its schema. */
export const KIND_SCHEMAS = { Node: NODE_SCHEMA, Service: SERVICE_SCHEMA } as const;
export type Kind = keyof typeof KIND_SCHEMAS;
export const KINDS = Object.keys(KIND_SCHEMAS) as Kind[];
