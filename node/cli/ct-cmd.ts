/**
 * `hafw ct`: the connection table of the node in this namespace, like conntrack(8):
 * list (-L), get (-G), delete (-D), flush (-F), count, events (-E). Filters are options; listings are
 * bounded (--limit, then --after ID for the next page).
 */
import { controlRequest, ControlError } from '../api/index.js';
import type { CtListedEntry } from '../conntrack/index.js';
import type { CtTupleJson } from '../conntrack/index.js';
import { parse, printJson, n, UsageError, type Command } from './args.js';
import { TARGET_HELP, TARGET_OPTIONS, targetFrom } from './node-target.js';
import { didYouMean } from './suggest.js';
import { followCtEvents } from './ct-events.js';
import { parseEventNames } from '../conntrack/index.js';
import { runCtImport } from './ct-import-cmd.js';

/** The ct subcommands (the switch in run, and the bash completion). */
const CT_COMMANDS = ['list', 'get', 'delete', 'flush', 'count', 'events', 'import'] as const;

const usage = `usage: hafw ct <list|get|delete|flush|count|events|import> [filters] [--json] [--socket PATH | --url URL]

The connection table of the node in this network namespace (like conntrack -L/-G/-D/-F/-E/-I):
  list                 connections matching the filters, one line each (at most --limit;
                       a last line '# more: --after ID' tells how to get the next page)
  get ID | TUPLE       one connection, by id (from list) or by tuple; exit 1 if there is none
  delete ID | TUPLE    delete one; state sync deletes the peer's replica too
  flush [filters]      delete every connection matching the filters (all without filters)
  count                connections, split into local and replicated ones
  events [filters]     follow connection events as they happen (like conntrack -E), one
                       line each: [NEW] when a connection enters the table, [UPDATE] when
                       its TCP state, status (seen reply, assured, NAT), mark or reply
                       tuple changes (not on timeout refreshes), [DESTROY] when it leaves
                       (expiry, reset, delete, flush); runs until Ctrl-C or --count.
                       Replicas a peer sends raise no event here (see them on their owner);
                       one that expires here shows as [REPLICATED]. Events the node cannot
                       deliver fast enough are dropped and counted
                       (hafw_ct_events_dropped_total), never held up.
  import [FILE|-]      load a kernel conntrack dump (conntrack -L -o extended, or -o xml)
                       from FILE or standard input into the node, as its own connections
                       (state sync replicates them); every line is checked first and one
                       bad line imports nothing; connections already in the table are
                       left as they are; NAT bindings come from the reply tuples; TCP
                       windows are learned from the next packets (docs/migrating.md)
  --skip-bad            import: skip the lines that are not connections (they are listed)
                        instead of importing nothing
filters (list, flush, events) and tuple (get, delete: -p -s -d and the ports):
  -f, --family ip|ip6   -p, --proto NAME|NUM   -s, --src ADDR   -d, --dst ADDR
  --sport N   --dport N   --zone N (tuple only)
  --state S             TCP state: ESTABLISHED, SYN_SENT, TIME_WAIT, ...
  --origin local|replicated   this node's own flows, or copies of a peer's
  -e, --event KINDS     events only: new, update, destroy, comma-separated (default: all)
  --count N             events only: exit after N events
  --limit N (default 100, at most 10000)   --after ID (next page)
  --json                JSON instead of conntrack-style lines (events: one object a line,
                        the connection as in list plus event, time in ms and owner)
${TARGET_HELP}
exit codes: 0 ok, 1 error (nothing found for get/delete; import: a bad line, or the table
was full for some), 2 usage`;

interface CtCount {
  total: number;
  local: number;
  replicated: number;
  capacity: number;
}

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 47: 'gre', 50: 'esp', 58: 'icmpv6', 132: 'sctp' };

function tupleText(t: CtTupleJson): string {
  let s = `src=${t.src} dst=${t.dst}`;
  if (t.sport !== undefined) s += ` sport=${t.sport} dport=${t.dport}`;
  if (t.type !== undefined) s += ` type=${t.type} code=${t.code} id=${t.id}`;
  return s;
}

/** One entry as conntrack -L prints it: proto name and number, timeout, state, both tuples, flags. */
export function formatCtLine(e: CtListedEntry): string {
  const proto = PROTO_NAMES[e.proto] ?? 'unknown';
  const parts = [proto.padEnd(8), String(e.proto).padEnd(2), String(e.timeoutSeconds)];
  if (e.tcpState) parts.push(e.tcpState);
  parts.push(tupleText(e.original));
  if (!e.status.includes('seen-reply')) parts.push('[UNREPLIED]');
  parts.push(tupleText(e.reply));
  if (e.status.includes('assured')) parts.push('[ASSURED]');
  parts.push(`mark=${e.mark}`);
  if (e.zone !== 0) parts.push(`zone=${e.zone}`);
  if (e.replicated) parts.push('[REPLICATED]');
  parts.push(`id=${e.id}`);
  return parts.join(' ');
}

const options = {
  json: { type: 'boolean' },
  'skip-bad': { type: 'boolean' },
  ...TARGET_OPTIONS,
  family: { type: 'string', short: 'f' },
  proto: { type: 'string', short: 'p' },
  src: { type: 'string', short: 's' },
  dst: { type: 'string', short: 'd' },
  sport: { type: 'string' },
  dport: { type: 'string' },
  zone: { type: 'string' },
  state: { type: 'string' },
  origin: { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
  event: { type: 'string', short: 'e' },
  count: { type: 'string' },
} as const;

type Values = Partial<Record<Exclude<keyof typeof options, 'skip-bad'>, string | boolean>>;

function int(v: Values, name: 'sport' | 'dport' | 'zone' | 'limit' | 'after', max: number): number | undefined {
  const raw = v[name];
  if (raw === undefined) return undefined;
  const x = Number(raw);
  if (!Number.isInteger(x) || x < 0 || x > max) throw new UsageError(`--${name} must be an integer from 0 to ${max}, not '${raw}'\n\n${usage}`);
  return x;
}

/** Options -> the route's query parameters (or flush body); only the keys given. */
export function ctParams(v: Values, keys: readonly string[]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const k of keys) {
    const raw = v[k as keyof Values];
    if (raw === undefined) continue;
    if (k === 'sport' || k === 'dport') out[k] = int(v, k, 65535)!;
    else if (k === 'zone') out[k] = int(v, k, 65535)!;
    else if (k === 'limit') out[k] = int(v, k, 10000)!;
    else if (k === 'after') out[k] = int(v, k, 2 ** 31)!;
    else if (k === 'family') {
      if (raw !== 'ip' && raw !== 'ip6' && raw !== '4' && raw !== '6') throw new UsageError(`--family must be ip or ip6\n\n${usage}`);
      out[k] = raw;
    } else if (k === 'event') {
      try {
        out[k] = parseEventNames(String(raw)).join(',');
      } catch (err) {
        throw new UsageError(`--${(err as Error).message}\n\n${usage}`);
      }
    } else if (k === 'origin') {
      if (raw !== 'local' && raw !== 'replicated') throw new UsageError(`--origin must be local or replicated\n\n${usage}`);
      out[k] = raw;
    } else out[k] = String(raw);
  }
  return out;
}

const FILTER_KEYS = ['family', 'proto', 'src', 'dst', 'sport', 'dport', 'state', 'origin'] as const;
const TUPLE_KEYS = ['family', 'proto', 'src', 'dst', 'sport', 'dport', 'zone'] as const;

function qs(p: Record<string, string | number>): string {
  const s = new URLSearchParams(Object.entries(p).map(([k, v]) => [k, String(v)])).toString();
  return s ? `?${s}` : '';
}

/** `get`/`delete` target: an id, or a tuple from -p -s -d (--sport --dport). */
function target(positional: string | undefined, v: Values): string {
  if (positional !== undefined) {
    if (!/^\d+$/.test(positional)) throw new UsageError(`the connection id must be a number, not '${positional}'\n\n${usage}`);
    return `/v1/ct/${positional}`;
  }
  if (v.proto === undefined || v.src === undefined || v.dst === undefined) throw new UsageError(`give a connection id, or a tuple with -p, -s and -d (and --sport/--dport)\n\n${usage}`);
  return `/v1/ct/tuple${qs(ctParams(v, TUPLE_KEYS))}`;
}

export const ctCommand: Command = {
  name: 'ct',
  summary: 'connection table: list, get, delete, flush, count, events, import',
  usage,
  async run(args) {
    const { values, positionals } = parse(args, options, usage);
    if (values.help) return void console.log(usage), 0;
    const node = await targetFrom(values, usage);
    const v = values as Values;
    const sub = positionals[0];
    if (values['skip-bad'] && sub !== 'import') throw new UsageError(`--skip-bad goes with import\n\n${usage}`);
    const notFound = (err: unknown): number => {
      if (err instanceof ControlError && err.status === 404) {
        console.error(`hafw ct ${sub}: ${err.message.replace(/^.*?: 404 /, '')}`);
        return 1;
      }
      throw err;
    };
    switch (sub) {
      case 'count': {
        const c = await controlRequest<CtCount>('GET', '/v1/ct/count', node);
        if (values.json) printJson(c);
        else console.log(`connections ${n(c.total)}  (local ${n(c.local)}, replicated ${n(c.replicated)})  capacity ${n(c.capacity)}`);
        return 0;
      }
      case 'list': {
        const r = await controlRequest<{ entries: CtListedEntry[]; next?: number }>('GET', `/v1/ct${qs(ctParams(v, [...FILTER_KEYS, 'limit', 'after']))}`, node);
        if (values.json) printJson(r);
        else {
          for (const e of r.entries) console.log(formatCtLine(e));
          if (r.next !== undefined) console.log(`# more: --after ${r.next}`);
          console.error(`hafw ct: ${r.entries.length} flow entries have been shown.`);
        }
        return 0;
      }
      case 'get': {
        try {
          const e = await controlRequest<CtListedEntry>('GET', target(positionals[1], v), node);
          if (values.json) printJson(e);
          else console.log(formatCtLine(e));
          return 0;
        } catch (err) {
          return notFound(err);
        }
      }
      case 'delete': {
        try {
          const r = await controlRequest<{ deleted: number; entry: CtListedEntry }>('DELETE', target(positionals[1], v), node);
          if (values.json) printJson(r);
          else {
            console.log(formatCtLine(r.entry));
            console.error(`hafw ct: ${r.deleted} flow entries have been deleted.`);
          }
          return 0;
        } catch (err) {
          return notFound(err);
        }
      }
      case 'flush': {
        const r = await controlRequest<{ deleted: number }>('POST', '/v1/ct/flush', { ...node, body: ctParams(v, FILTER_KEYS) });
        if (values.json) printJson(r);
        else console.log(`hafw ct: ${r.deleted} flow entries have been deleted.`);
        return 0;
      }
      case 'events': {
        const count = v.count === undefined ? Infinity : Number(v.count);
        if (v.count !== undefined && !(Number.isInteger(count) && count >= 1)) throw new UsageError(`--count must be a positive integer\n\n${usage}`);
        const query = ctParams(v, [...FILTER_KEYS, 'event']);
        return followCtEvents(node, query, { json: values.json === true, count, formatEntry: (e) => formatCtLine(e) });
      }
      case 'import': {
        if (positionals.length > 2) throw new UsageError(`import reads one file (or - for standard input), not ${positionals.length - 1}\n\n${usage}`);
        return runCtImport(positionals[1] ?? '-', values['skip-bad'] === true, values.json === true, node);
      }
      default:
        throw new UsageError(`${sub ? `unknown ct command ${sub}${didYouMean(sub, CT_COMMANDS)}` : 'a ct command is required'}\n\n${usage}`);
    }
  },
};
