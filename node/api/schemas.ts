/**
 * JSON schemas of every route: fastify validates requests with them (a bad body or query
 * answers 400 naming the field) and @fastify/swagger builds the OpenAPI document from the
 * same objects, so the document cannot drift from what the node accepts.
 *
 * Routes registered by other modules (ruleset) get theirs by method and URL through the
 * onRoute hook in server.ts (ROUTE_SCHEMAS), so they need no change to be described.
 */

const error = {
  type: 'object',
  description: 'An error. `field` is a JSON pointer to the offending request part (e.g. /body/holdSeconds, /querystring/src) when one field is to blame.',
  properties: {
    error: { type: 'string', description: 'machine-readable code: bad_request, unauthorized, not_found, conflict, not_configured, ...' },
    message: { type: 'string' },
    field: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
  required: ['message'],
  additionalProperties: true,
} as const;

const anyObject = (description: string) => ({ type: 'object', description, additionalProperties: true }) as const;
const text = (description: string) => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } }) as const;

const errors = { 400: error, 401: error, 404: error, 409: error, 500: error } as const;

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;

/** POST /v1/ct/import: the largest text (characters) and the most connections one request carries. */
export const IMPORT_MAX_CHARS = 1024 * 1024;
export const IMPORT_MAX_ENTRIES = 5000;
/** Its body limit: the text, JSON-escaped (a newline is two bytes), and the other fields. */
export const IMPORT_BODY_LIMIT = 2 * IMPORT_MAX_CHARS + 4096;

/** Filters shared by GET /v1/ct and POST /v1/ct/flush (conntrack -L / -F options). */
const ctFilterProps = {
  family: { type: 'string', enum: ['ip', 'ip6', '4', '6'], description: 'address family' },
  proto: { type: 'string', description: 'protocol name (tcp, udp, icmp, icmpv6, sctp, gre, esp) or number' },
  src: { type: 'string', description: 'original-direction source address' },
  dst: { type: 'string', description: 'original-direction destination address' },
  sport: { ...port, description: 'original-direction source port' },
  dport: { ...port, description: 'original-direction destination port' },
  state: { type: 'string', description: 'TCP state (ESTABLISHED, SYN_SENT, TIME_WAIT, ...)' },
  origin: { type: 'string', enum: ['local', 'replicated'], description: "local: this node's flows; replicated: copies of a peer's" },
} as const;

const ctTupleProps = {
  family: ctFilterProps.family,
  proto: ctFilterProps.proto,
  src: ctFilterProps.src,
  dst: ctFilterProps.dst,
  sport: { ...port, description: 'source port (ICMP: echo id)' },
  dport: { ...port, description: 'destination port (ICMP: type << 8 | code)' },
  zone: { type: 'integer', minimum: 0, maximum: 65535, description: 'conntrack zone (default 0)' },
} as const;

const ctTuple = {
  type: 'object',
  description: 'An exact tuple, either direction (like conntrack -G / -D with -p -s -d --sport --dport)',
  properties: ctTupleProps,
  required: ['proto', 'src', 'dst'],
  additionalProperties: false,
} as const;

const ctEndpoint = {
  type: 'object',
  properties: { src: { type: 'string' }, dst: { type: 'string' }, sport: { type: 'integer' }, dport: { type: 'integer' }, type: { type: 'integer' }, code: { type: 'integer' }, id: { type: 'integer' } },
  additionalProperties: true,
} as const;

const ctEntry = {
  type: 'object',
  description: 'One connection, as conntrack -L shows it. `id` is its table slot: valid while the entry lives.',
  properties: {
    id: { type: 'integer' },
    family: { type: 'string', enum: ['ip', 'ip6'] },
    proto: { type: 'integer' },
    zone: { type: 'integer' },
    original: ctEndpoint,
    reply: ctEndpoint,
    tcpState: { type: 'string' },
    status: { type: 'array', items: { type: 'string' } },
    mark: { type: 'integer' },
    timeoutSeconds: { type: 'integer' },
    replicated: { type: 'boolean' },
  },
  additionalProperties: true,
} as const;

const drillReport = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    mode: { type: 'string' },
    status: { type: 'string', enum: ['running', 'done', 'failed'] },
    phase: { type: 'string' },
    holdSeconds: { type: 'number' },
    group: { type: ['object', 'null'], description: 'the one VRRP group drilled; null: the whole node', properties: { name: { type: 'string' }, vrid: { type: 'integer' } } },
    groups: {
      type: 'array',
      description: 'per VRRP group (vrrp.groups; absent with one group): drilled, its state before and after, whether mastership moved to a peer (and which peer took it, how fast), its share of the watched flows',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' }, vrid: { type: 'integer' }, drilled: { type: 'boolean' }, before: { type: 'string' }, after: { type: 'string' }, moved: { type: 'boolean' },
          takeover: { type: ['object', 'null'], properties: { peer: { type: 'string' }, priority: { type: 'integer' }, ms: { type: 'number' } } },
          flows: { type: 'object', properties: { watched: { type: 'integer' }, survived: { type: 'integer' }, ended: { type: 'integer' }, notSeen: { type: 'integer' } } },
        },
      },
    },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    takeover: { type: ['object', 'null'], properties: { peer: { type: 'string' }, priority: { type: 'integer' }, ms: { type: 'number' } } },
    peerInSync: { type: ['boolean', 'null'] },
    preempt: { type: 'boolean' },
    reclaimMs: { type: ['number', 'null'] },
    finalState: { type: 'string' },
    error: { type: 'string' },
    traffic: {
      type: 'object',
      description: "What the traffic saw, from this node (docs/console.md#drill-reports): its forwarded packets around the drill, and which flows the new master carried",
      properties: {
        sampleMs: { type: 'number' },
        timeline: { type: 'object', properties: { t: { type: 'array', items: { type: 'number' }, description: 'end of each interval, ms since the resign' }, pps: { type: 'array', items: { type: 'number' }, description: 'packets per second this node forwarded in it' } } },
        resumeMs: { type: ['number', 'null'] },
        reclaimMs: { type: ['number', 'null'] },
        beforePps: { type: 'number' },
        leftMs: { type: ['number', 'null'], description: 'ms after the resign until the traffic left this node' },
        backMs: { type: ['number', 'null'], description: 'ms after the resume until it came back' },
        afterPps: { type: ['number', 'null'], description: 'packets per second this node forwarded in the last second (after the return)' },
        note: { type: 'string' },
        flows: {
          type: 'object',
          properties: {
            watched: { type: 'integer' }, survived: { type: 'integer' }, ended: { type: 'integer' }, notSeen: { type: 'integer' }, candidates: { type: 'integer' }, capped: { type: 'boolean' }, error: { type: 'string' },
            list: { type: 'array', items: { type: 'object', properties: { flow: { type: 'string' }, outcome: { type: 'string', enum: ['survived', 'ended', 'not-seen'] }, peerRecords: { type: 'integer' }, survivedAfterMs: { type: ['number', 'null'] }, vrid: { type: 'integer', description: 'the connection\'s VRRP group (0: untagged)' } } } },
            perGroup: { type: 'array', description: 'the counts per VRRP group (VRID) of the watched flows, when any carries a group', items: { type: 'object', properties: { vrid: { type: 'integer' }, watched: { type: 'integer' }, survived: { type: 'integer' }, ended: { type: 'integer' }, notSeen: { type: 'integer' } } } },
          },
        },
      },
    },
  },
  additionalProperties: true,
} as const;

type Schema = Record<string, unknown>;

/** Schemas by "METHOD url" (fastify's url syntax, :param). */
const ROUTE_SCHEMAS: Record<string, Schema> = {
  'GET /v1/health': { summary: 'Liveness (no token needed)', tags: ['node'], security: [], response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } },
  'GET /v1/status': { summary: 'Role, VRRP, ruleset, conntrack settings and datapath counters of this node', tags: ['node'], response: { 200: anyObject('node status'), ...errors } },
  'GET /v1/version': {
    summary: 'What this node runs: package version, build commit, Node.js version, API version',
    tags: ['node'],
    response: {
      200: {
        type: 'object',
        properties: {
          version: { type: 'string', description: 'package version (package.json)' },
          commit: { type: 'string', nullable: true, description: 'git commit the package was built from ("-dirty": a modified checkout); null when not recorded' },
          node: { type: 'string', description: 'Node.js version running the node' },
          api: { type: 'string', description: 'version of this API (the OpenAPI info.version)' },
        },
        required: ['version', 'commit', 'node', 'api'],
        additionalProperties: false,
      },
      ...errors,
    },
  },
  'GET /v1/access': {
    summary: "What the caller's token may do: full (the API token; the control socket) or view (api.viewTokenFile: read everything, change nothing)",
    tags: ['node'],
    response: { 200: { type: 'object', properties: { access: { type: 'string', enum: ['full', 'view'] } }, required: ['access'], additionalProperties: false }, ...errors },
  },
  'GET /metrics': { summary: 'Prometheus metrics (text exposition format)', tags: ['node'], response: { 200: text('Prometheus text format 0.0.4') } },
  'GET /v1/openapi.json': { summary: 'This OpenAPI 3 document', tags: ['node'], response: { 200: anyObject('OpenAPI 3.0 document') } },
  'GET /v1/cluster': {
    summary: "Cluster view from this node: role, priority, VRRP state, the master, the peers heard (VRRP and sync), sync state and lag, the ruleset version and hash on every node",
    tags: ['cluster'],
    response: { 200: anyObject('cluster view'), ...errors },
  },
  'GET /v1/sync/stats': {
    summary: 'State sync statistics (404 when sync is not configured)',
    tags: ['cluster'],
    querystring: { type: 'object', properties: { format: { type: 'string', enum: ['json', 'text'] } }, additionalProperties: false },
    response: { 200: anyObject('sync report (format=text: plain text)'), ...errors },
  },
  'GET /v1/ct/count': {
    summary: 'Connections in the table: total, local, replicated, capacity',
    tags: ['conntrack'],
    response: { 200: { type: 'object', properties: { total: { type: 'integer' }, local: { type: 'integer' }, replicated: { type: 'integer' }, capacity: { type: 'integer' } } }, ...errors },
  },
  'GET /v1/ct': {
    summary: 'List connections, filtered, at most `limit` per page; pass `next` back as `after` for the next page',
    tags: ['conntrack'],
    querystring: {
      type: 'object',
      properties: { ...ctFilterProps, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 }, after: { type: 'integer', minimum: 0, description: 'id of the last entry of the previous page' } },
      additionalProperties: false,
    },
    response: { 200: { type: 'object', properties: { entries: { type: 'array', items: ctEntry }, next: { type: 'integer' } }, required: ['entries'] }, ...errors },
  },
  'GET /v1/ct/tuple': {
    summary: 'One connection by exact tuple (either direction)',
    tags: ['conntrack'],
    querystring: ctTuple,
    response: { 200: ctEntry, ...errors },
  },
  'DELETE /v1/ct/tuple': {
    summary: 'Delete one connection by tuple; the peer deletes its replica (sync destroy event)',
    tags: ['conntrack'],
    querystring: ctTuple,
    response: { 200: { type: 'object', properties: { deleted: { type: 'integer' }, entry: ctEntry } }, ...errors },
  },
  'GET /v1/ct/:id': {
    summary: 'One connection by id (from a listing)',
    tags: ['conntrack'],
    params: { type: 'object', properties: { id: { type: 'integer', minimum: 0 } }, required: ['id'] },
    response: { 200: ctEntry, ...errors },
  },
  'DELETE /v1/ct/:id': {
    summary: 'Delete one connection by id; the peer deletes its replica',
    tags: ['conntrack'],
    params: { type: 'object', properties: { id: { type: 'integer', minimum: 0 } }, required: ['id'] },
    response: { 200: { type: 'object', properties: { deleted: { type: 'integer' }, entry: ctEntry } }, ...errors },
  },
  'POST /v1/ct/flush': {
    summary: 'Delete every connection matching the filters (all without filters); peers delete their replicas',
    tags: ['conntrack'],
    body: { type: 'object', properties: ctFilterProps, additionalProperties: false },
    response: { 200: { type: 'object', properties: { deleted: { type: 'integer' } }, required: ['deleted'] }, ...errors },
  },
  'POST /v1/ct/import': {
    summary: 'Insert connections from a kernel conntrack dump (conntrack -L -o extended, or -o xml) as this node\'s own entries; state sync replicates them',
    description: 'Every line is checked first; any bad line answers 400 with `errors` (line numbers) and imports nothing, unless skipBad. An entry whose tuple is in the table already is left as it is (`existing`). TCP entries are tracked with their windows learned from the next packets (docs/migrating.md).',
    tags: ['conntrack'],
    body: {
      type: 'object',
      properties: {
        text: { type: 'string', maxLength: IMPORT_MAX_CHARS, description: `the dump's text, at most ${IMPORT_MAX_CHARS} characters and ${IMPORT_MAX_ENTRIES} connections (send a longer dump in parts)` },
        skipBad: { type: 'boolean', default: false, description: 'import the good lines and report the bad ones instead of refusing the whole request' },
        firstLine: { type: 'integer', minimum: 1, default: 1, description: 'line number of the first line of `text` (a part of a longer file), for the error positions' },
      },
      required: ['text'],
      additionalProperties: false,
    },
    response: {
      200: {
        type: 'object',
        properties: {
          format: { type: 'string', enum: ['extended', 'xml'] },
          imported: { type: 'integer' },
          existing: { type: 'integer', description: 'already in the table (either tuple): left as they were' },
          refused: { type: 'integer', description: 'not stored: table full' },
          nat: { type: 'integer', description: 'of the imported, those with a NAT binding' },
          skipped: { type: 'integer', description: 'bad lines skipped (skipBad)' },
          existingLines: { type: 'array', items: { type: 'integer' } },
          refusedLines: { type: 'array', items: { type: 'integer' } },
          errors: { type: 'array', items: { type: 'object', properties: { line: { type: 'integer' }, message: { type: 'string' } } } },
        },
        required: ['format', 'imported', 'existing', 'refused', 'nat', 'skipped'],
      },
      ...errors,
    },
  },
  'GET /v1/events': {
    summary: 'Server-Sent Events: ruleset, ruleset-dist, vrrp, sync, drill',
    tags: ['events'],
    querystring: { type: 'object', properties: { types: { type: 'string', description: 'comma-separated event types (default: all)' } }, additionalProperties: false },
    response: { 200: { description: 'text/event-stream; first line `: generation N`', content: { 'text/event-stream': { schema: { type: 'string' } } } } },
  },
  'GET /v1/ct/events': {
    summary: 'Server-Sent Events: connection events like conntrack -E (new, update, destroy), filtered',
    description:
      'Each event is `event: ct` with `data:` one JSON object: the connection as GET /v1/ct lists it (both tuples, NAT in the reply tuple and status, TCP state, mark, timeout), plus `event` (new, update, destroy), `time` (ms since the epoch) and `owner` (local, or peer for a replica). An update is a change an operator sees (TCP state, status bits, mark, reply tuple), not a timeout refresh. Produced on the datapath thread only while a stream is open; bounded (hafw_ct_events_dropped_total counts what was dropped).',
    tags: ['conntrack', 'events'],
    querystring: {
      type: 'object',
      properties: { ...ctFilterProps, event: { type: 'string', description: 'comma-separated event kinds: new, update, destroy (default: all three)' } },
      additionalProperties: false,
    },
    response: { 200: { description: 'text/event-stream; first line `: ct stream`', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors },
  },
  'GET /v1/trace': {
    summary: 'Server-Sent Events: packet traces like nft monitor trace',
    description:
      'Without `filter`: packets a rule flagged with `meta nftrace set 1`. With `filter` (rule-language matches, e.g. `ip saddr 192.0.2.1 tcp dport 22`): the packets it matches, from their first hook. Each traced packet is `event: trace` with `data:` one JSON object: `id`, `time`, `packet` (family, iif, oif, addresses, ports, TCP flags, mark), `steps` (hook, table, chain, type rule|return|policy, handle, rule text, verdict), `verdict` (accept, drop, reject), `after` (the packet as it left, when NAT changed it), `ctState`, `ct` (the connection\'s tuples and status), `by` (nftrace, filter). Bounded (hafw_trace_dropped_total counts what was dropped). A bad filter answers 400 with `col`, its column.',
    tags: ['events'],
    querystring: { type: 'object', properties: { filter: { type: 'string', maxLength: 1024, description: 'matches in the rule language; packets matching them are traced' } }, additionalProperties: false },
    response: { 200: { description: 'text/event-stream; first line `: trace stream`', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors },
  },
  'POST /v1/drills': {
    summary: 'Start a failover drill on the master (409 on a backup or without VRRP)',
    tags: ['drills'],
    body: {
      type: 'object',
      properties: {
        mode: { type: 'string', enum: ['resign'] },
        holdSeconds: { type: 'number', minimum: 0, maximum: 600, default: 5 },
        group: { type: ['string', 'integer'], maxLength: 64, minimum: 1, maximum: 255, description: 'drill one VRRP group (vrrp.groups), by name or VRID: it resigns and the node keeps its other groups; without it the whole node resigns' },
      },
      required: ['mode'],
      additionalProperties: false,
    },
    response: { 202: drillReport, ...errors },
  },
  'GET /v1/drills': { summary: 'Recent drills', tags: ['drills'], response: { 200: { type: 'array', items: drillReport } } },
  'GET /v1/drills/:id': {
    summary: 'A drill report',
    tags: ['drills'],
    params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
    response: { 200: drillReport, ...errors },
  },
  'GET /v1/schema': {
    summary: 'Matches, statements and types of the rule language',
    tags: ['ruleset'],
    querystring: { type: 'object', properties: { name: { type: 'string' } }, additionalProperties: false },
    response: { 200: { type: 'array', items: { type: 'object', additionalProperties: true } }, ...errors },
  },
  'GET /v1/ruleset': {
    summary: 'The running ruleset: nft text (format=nft) or libnftables JSON (format=json)',
    tags: ['ruleset'],
    querystring: { type: 'object', properties: { format: { type: 'string', enum: ['nft', 'json'] }, handles: { type: 'string', enum: ['0', '1', 'true', 'false'] } }, additionalProperties: false },
    response: { 200: { description: 'nft text (text/plain) or nft -j JSON', content: { 'text/plain': { schema: { type: 'string' } }, 'application/json': { schema: { type: 'object', additionalProperties: true } } } }, ...errors },
  },
  'POST /v1/ruleset/transactions': {
    summary: 'Apply ruleset commands all or nothing (libnftables JSON or nft text)',
    tags: ['ruleset'],
    body: {
      type: 'object',
      properties: {
        // A type union, not anyOf: with ajv's coerceTypes 'array' an anyOf string branch would
        // swallow a one-command array. The handler checks the object form ({"nftables": [...]}).
        ops: { description: 'libnftables JSON commands, {"nftables": [...]}, or nft text', type: ['string', 'array', 'object'] },
        baseGeneration: { type: 'integer', minimum: 0, description: '409 unless this is the current generation' },
      },
      required: ['ops'],
      additionalProperties: false,
    },
    response: { 200: { type: 'object', properties: { generation: { type: 'integer' }, version: { type: 'integer', description: 'the cluster version this transaction became (with ruleset distribution)' }, changes: { type: 'array', items: {} }, ms: { type: 'number' }, warnings: { type: 'array', items: { type: 'string' }, description: 'what the running ruleset cannot make true on this node (also logged when new)' } } }, ...errors },
  },
  'POST /v1/ruleset/check': {
    summary: 'Check ruleset commands against the running ruleset without applying them: the errors with their positions, or what would change (a unified diff of the nft text)',
    tags: ['ruleset'],
    body: {
      type: 'object',
      properties: {
        ops: { description: 'libnftables JSON commands, {"nftables": [...]}, or nft text (as for transactions)', type: ['string', 'array', 'object'] },
        baseGeneration: { type: 'integer', minimum: 0, description: '409 unless this is the current generation' },
      },
      required: ['ops'],
      additionalProperties: false,
    },
    response: {
      200: {
        type: 'object',
        properties: {
          ok: { type: 'boolean' },
          generation: { type: 'integer', description: 'the generation checked against' },
          errors: { type: 'array', items: { type: 'object', properties: { line: { type: 'integer' }, col: { type: 'integer' }, message: { type: 'string' }, file: { type: 'string' } } } },
          diff: { type: 'string', description: 'unified diff of the nft listing, before and after (empty when nothing would change)' },
          changes: { type: 'integer', description: 'how many changes the batch would make' },
        },
        required: ['ok', 'generation', 'errors'],
      },
      413: { description: 'the running ruleset is too large to copy for a check (over 512 KiB of listing): apply as a transaction', type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } },
      ...errors,
    },
  },
};

/** The JSON schema of `method url`, if the node describes that route. */
export function routeSchema(method: string, url: string): Schema | undefined {
  return ROUTE_SCHEMAS[`${method} ${url}`];
}
