/**
 * Reading the kernel's connection table as the conntrack tool prints it, for
 * `hafw ct import` and POST /v1/ct/import: `conntrack -L -o extended` (also plain
 * `conntrack -L`, `-o extended,id` and /proc/net/nf_conntrack, which share the layout)
 * and `conntrack -L -o xml`.
 *
 * Pure: text in, typed entries and positioned errors out. Every line is checked; a bad
 * line is an error naming its line number and why, and the caller decides whether one
 * bad line stops the whole import (the default) or is skipped (--skip-bad).
 *
 * What the text cannot carry: the TCP window state (td_end, td_maxwin, td_scale, ...),
 * which ctnetlink has and the printed forms do not. Entries are imported without it and
 * tracked like Linux tracks a connection it picks up in mid-stream (see ct-import.ts).
 */
import { parseAddress } from '../packet/address.js';
import { TCP_STATE_NAMES } from './ct-types.js';

/** One direction of an imported entry. ICMP: sport is the id, dport is type << 8 | code (the table's layout). */
export interface CtImportTuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

/** One connection read from the text; plain JSON (it crosses postMessage to the datapath thread). */
export interface CtImportEntry {
  /** Line of the entry in the text (1-based; XML: the line its <flow> starts on). */
  line: number;
  family: 4 | 6;
  proto: number;
  zone: number;
  original: CtImportTuple;
  reply: CtImportTuple;
  /** TCP only: the state's number (ESTABLISHED = 3, ...; Linux's enum tcp_conntrack). */
  tcpState?: number;
  /** The reply direction has been seen (no [UNREPLIED]). */
  seenReply: boolean;
  assured: boolean;
  mark: number;
  timeoutSeconds: number;
}

export interface CtImportProblem {
  line: number;
  message: string;
}

export interface CtImportParse {
  format: 'extended' | 'xml';
  entries: CtImportEntry[];
  errors: CtImportProblem[];
}

/** What the datapath answers to an import (node/datapath/worker/ct-import.ts). */
export interface CtImportResult {
  imported: number;
  /** Already in the table (either tuple): left as they were. */
  existing: number;
  /** Not stored: table full or probe cap. */
  refused: number;
  /** Of the imported, those with a NAT binding (source, destination or both). */
  nat: number;
  /** Lines of the existing and refused entries (at most 100 each). */
  existingLines: number[];
  refusedLines: number[];
}

/** Longest line read (a conntrack line with every option is under 600 characters). */
export const MAX_LINE_CHARS = 4096;
/** Longest timeout accepted: Linux's longest default is 5 days (TCP established); 30 days leaves room for tuned tables. */
export const MAX_TIMEOUT_SECONDS = 30 * 24 * 3600;

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMPV6 = 58;

/** The conntrack tool's protocol names; any other protocol is tracked by addresses alone (the generic tracker). */
const PROTO_BY_NAME: Readonly<Record<string, number>> = { tcp: TCP, udp: UDP, icmp: ICMP, icmpv6: ICMPV6, udplite: 136, sctp: 132, dccp: 33, gre: 47 };

/** TCP state names as conntrack prints them (Linux tcp_conntrack_names; older tools print LISTEN for SYN_SENT2). */
function tcpStateNumber(name: string): number {
  if (name === 'LISTEN') return 9;
  return TCP_STATE_NAMES.indexOf(name);
}

/** Keys of the tuple fields per protocol, in the order conntrack prints them. */
function tupleKeys(proto: number): readonly string[] {
  if (proto === ICMP || proto === ICMPV6) return ['src', 'dst', 'type', 'code', 'id'];
  if (proto === TCP || proto === UDP || proto === 136 || proto === 33) return ['src', 'dst', 'sport', 'dport'];
  if (proto === 132) return ['src', 'dst', 'sport', 'dport', 'vtag'];
  if (proto === 47) return ['src', 'dst', 'srckey', 'dstkey'];
  return ['src', 'dst'];
}

/** Fields after the tuples that say nothing hafw keeps (counters, ids, SELinux context, labels). */
const IGNORED_KEYS = new Set(['use', 'id', 'secctx', 'labels', 'packets', 'bytes', 'delta-time', 'helper']);
const IGNORED_FLAGS = new Set(['OFFLOAD', 'HW_OFFLOAD', 'SEEN_REPLY']);

/** What both formats are read into before one check turns it into an entry. */
interface RawFlow {
  l3?: string;
  protoName: string;
  protoNum: string;
  timeout: string;
  state?: string;
  orig: Map<string, string>;
  reply: Map<string, string>;
  unreplied: boolean;
  assured: boolean;
  mark?: string;
  zone?: string;
  zoneOrig?: string;
  zoneReply?: string;
}

class LineError extends Error {}

function uint(text: string | undefined, what: string, max: number): number {
  if (text === undefined) throw new LineError(`${what} is missing`);
  if (!/^\d+$/.test(text)) throw new LineError(`${what} '${text}' is not a number`);
  const v = Number(text);
  if (v > max) throw new LineError(`${what} ${text} is above ${max}`);
  return v;
}

function address(text: string | undefined, what: string): { family: 4 | 6; text: string } {
  if (text === undefined) throw new LineError(`${what} is missing`);
  try {
    return { family: parseAddress(text).family as 4 | 6, text };
  } catch {
    throw new LineError(`${what} '${text}' is not an IPv4 or IPv6 address`);
  }
}

function tuple(m: Map<string, string>, proto: number, dir: string): { family: 4 | 6; t: CtImportTuple } {
  const src = address(m.get('src'), `${dir} src`);
  const dst = address(m.get('dst'), `${dir} dst`);
  if (src.family !== dst.family) throw new LineError(`${dir} src ${src.text} and dst ${dst.text} are of different families`);
  let sport = 0;
  let dport = 0;
  if (proto === ICMP || proto === ICMPV6) {
    const type = m.get('type');
    if (type === undefined) throw new LineError(`${dir} ICMP type/code/id are missing (conntrack -o xml leaves them out: dump with -o extended)`);
    sport = uint(m.get('id'), `${dir} icmp id`, 65535);
    dport = (uint(type, `${dir} icmp type`, 255) << 8) | uint(m.get('code'), `${dir} icmp code`, 255);
  } else if (proto === TCP || proto === UDP) {
    sport = uint(m.get('sport'), `${dir} sport`, 65535);
    dport = uint(m.get('dport'), `${dir} dport`, 65535);
  }
  // Other protocols: the generic tracker keys them by addresses alone (ports, keys and
  // SCTP tags are dropped, as hafw tracks them: node/conntrack/README.md).
  return { family: src.family, t: { src: src.text, dst: dst.text, sport, dport } };
}

function toEntry(r: RawFlow, line: number): CtImportEntry {
  const proto = uint(r.protoNum, 'protocol number', 255);
  const named = PROTO_BY_NAME[r.protoName];
  if (named !== undefined && named !== proto) throw new LineError(`protocol ${r.protoName} with number ${proto} (expected ${named})`);
  const o = tuple(r.orig, proto, 'original');
  if (r.reply.size === 0) throw new LineError('the reply tuple is missing');
  const p = tuple(r.reply, proto, 'reply');
  if (o.family !== p.family) throw new LineError('the original and reply tuples are of different families');
  if (r.l3 !== undefined && r.l3 !== (o.family === 4 ? 'ipv4' : 'ipv6')) throw new LineError(`${r.l3} entry with ${o.family === 4 ? 'IPv4' : 'IPv6'} addresses`);
  if ((proto === ICMP && o.family !== 4) || (proto === ICMPV6 && o.family !== 6)) throw new LineError(`${r.protoName} over IPv${o.family}`);
  let zone = r.zone === undefined ? 0 : uint(r.zone, 'zone', 65535);
  if (r.zoneOrig !== undefined || r.zoneReply !== undefined) {
    // Directional zones (zone-orig= / zone-reply=): hafw has one zone per entry.
    const zo = r.zoneOrig === undefined ? zone : uint(r.zoneOrig, 'zone-orig', 65535);
    const zr = r.zoneReply === undefined ? zone : uint(r.zoneReply, 'zone-reply', 65535);
    if (zo !== zr) throw new LineError(`directional zones (zone-orig=${zo} zone-reply=${zr}) are not supported: hafw has one zone per connection`);
    zone = zo;
  }
  const e: CtImportEntry = {
    line,
    family: o.family,
    proto,
    zone,
    original: o.t,
    reply: p.t,
    seenReply: !r.unreplied,
    assured: r.assured,
    mark: r.mark === undefined ? 0 : uint(r.mark, 'mark', 0xffffffff),
    timeoutSeconds: uint(r.timeout, 'timeout', MAX_TIMEOUT_SECONDS),
  };
  if (proto === TCP) {
    if (r.state === undefined) throw new LineError('a TCP entry without a state');
    const s = tcpStateNumber(r.state);
    if (s <= 0) throw new LineError(`unknown TCP state '${r.state}' (expected one of ${TCP_STATE_NAMES.slice(1).join(', ')})`);
    e.tcpState = s;
  }
  return e;
}

/**
 * One line of `conntrack -L [-o extended]`: [l3name l3num] proto num timeout [STATE]
 * original tuple [counters] [UNREPLIED] reply tuple [counters] [flags] mark= [zone=] use= [id=].
 */
function readExtendedLine(text: string): RawFlow {
  const w = text.trim().split(/\s+/);
  let i = 0;
  let l3: string | undefined;
  if (w[0] === 'ipv4' || w[0] === 'ipv6') {
    l3 = w[0];
    uint(w[1], 'layer-3 protocol number', 255);
    i = 2;
  }
  const protoName = w[i++];
  const protoNum = w[i++];
  const timeout = w[i++];
  if (protoName === undefined || protoNum === undefined || timeout === undefined) throw new LineError('too few fields (expected: [ipv4 2] PROTO NUMBER TIMEOUT [STATE] src=... dst=...)');
  if (protoName.includes('=')) throw new LineError(`expected a protocol name, found '${protoName}'`);
  const r: RawFlow = { l3, protoName, protoNum, timeout, orig: new Map(), reply: new Map(), unreplied: false, assured: false };
  if (w[i] !== undefined && !w[i]!.includes('=') && !w[i]!.startsWith('[')) r.state = w[i++];
  const keys = tupleKeys(Number(protoNum));
  // 0: before the tuples, 1: original, 2: reply, 3: after them.
  let phase = 0;
  for (; i < w.length; i++) {
    const tok = w[i]!;
    if (tok.startsWith('[') && tok.endsWith(']')) {
      const flag = tok.slice(1, -1);
      if (flag === 'UNREPLIED') r.unreplied = true;
      else if (flag === 'ASSURED') r.assured = true;
      else if (!IGNORED_FLAGS.has(flag)) throw new LineError(`unknown flag ${tok}`);
      continue;
    }
    const eq = tok.indexOf('=');
    if (eq <= 0) throw new LineError(`unexpected '${tok}'`);
    const k = tok.slice(0, eq);
    const v = tok.slice(eq + 1);
    if (k === 'src' && phase <= 1 && r.orig.size === 0) {
      phase = 1;
      r.orig.set(k, v);
      continue;
    }
    if (k === 'src' && phase === 1) {
      phase = 2;
      r.reply.set(k, v);
      continue;
    }
    const cur = phase === 1 ? r.orig : phase === 2 ? r.reply : undefined;
    if (cur && keys.includes(k) && !cur.has(k)) {
      cur.set(k, v);
      continue;
    }
    if (phase === 2) phase = 3;
    if (phase === 0) throw new LineError(`'${tok}' before the original tuple`);
    if (k === 'mark') r.mark = v;
    else if (k === 'zone') r.zone = v;
    else if (k === 'zone-orig') r.zoneOrig = v;
    else if (k === 'zone-reply') r.zoneReply = v;
    else if (!IGNORED_KEYS.has(k)) throw new LineError(`unknown field '${k}='`);
  }
  for (const [m, dir] of [[r.orig, 'original'], [r.reply, 'reply']] as const) {
    const missing = keys.filter((k) => !m.has(k));
    if (m.size > 0 && missing.length > 0) throw new LineError(`the ${dir} tuple lacks ${missing.map((k) => `${k}=`).join(' ')}`);
  }
  if (r.orig.size === 0) throw new LineError('no tuple (src=... dst=...)');
  return r;
}

/** The summary conntrack writes to stderr, when a dump was taken with 2>&1. */
const SUMMARY = /^conntrack v[\d.]+ \(conntrack-tools\): \d+ flow entries have been (shown|listed)\.$/;

function parseExtended(text: string, out: CtImportParse, firstLine: number): void {
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/\r$/, '');
    const no = firstLine + n;
    const t = line.trim();
    if (t === '' || t.startsWith('#') || SUMMARY.test(t)) continue;
    if (line.length > MAX_LINE_CHARS) {
      out.errors.push({ line: no, message: `line longer than ${MAX_LINE_CHARS} characters` });
      continue;
    }
    try {
      out.entries.push(toEntry(readExtendedLine(line), no));
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      out.errors.push({ line: no, message: err.message });
    }
  }
}

function xmlField(body: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];
}

/** One <flow> of `conntrack -L -o xml` (conntrack-tools prints each on one line). */
function readXmlFlow(flow: string): RawFlow {
  const meta = (dir: string): string | undefined => new RegExp(`<meta direction="${dir}">(.*?)</meta>`).exec(flow)?.[1];
  const orig = meta('original');
  const reply = meta('reply');
  const ind = meta('independent') ?? '';
  if (orig === undefined) throw new LineError('a <flow> without <meta direction="original">');
  const tupleOf = (m: string | undefined): { l3?: string; name?: string; num?: string; map: Map<string, string> } => {
    const map = new Map<string, string>();
    if (m === undefined) return { map };
    const l3 = /<layer3 protonum="\d+" protoname="([\w-]+)">/.exec(m)?.[1];
    const l4 = /<layer4 protonum="(\d+)" protoname="([\w-]+)">(.*?)<\/layer4>/.exec(m);
    for (const k of ['src', 'dst']) {
      const v = xmlField(m, k);
      if (v !== undefined) map.set(k, v);
    }
    for (const k of ['sport', 'dport', 'type', 'code', 'id']) {
      const v = l4 ? xmlField(l4[3]!, k) : undefined;
      if (v !== undefined) map.set(k, v);
    }
    return { l3, num: l4?.[1], name: l4?.[2], map };
  };
  const o = tupleOf(orig);
  const p = tupleOf(reply);
  if (o.num === undefined || o.name === undefined) throw new LineError('a <flow> without <layer4 protonum=... protoname=...>');
  const timeout = xmlField(ind, 'timeout');
  if (timeout === undefined) throw new LineError('a <flow> without <timeout>');
  return {
    l3: o.l3,
    protoName: o.name,
    protoNum: o.num,
    timeout,
    state: xmlField(ind, 'state'),
    orig: o.map,
    reply: p.map,
    unreplied: ind.includes('<unreplied/>'),
    assured: ind.includes('<assured/>'),
    mark: xmlField(ind, 'mark'),
    zone: xmlField(ind, 'zone'),
  };
}

function parseXml(text: string, out: CtImportParse, firstLine: number): void {
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    const no = firstLine + n;
    if (line.length > MAX_LINE_CHARS) {
      out.errors.push({ line: no, message: `line longer than ${MAX_LINE_CHARS} characters` });
      continue;
    }
    const flows = line.match(/<flow>.*?<\/flow>/g) ?? [];
    if (flows.length === 0 && line.includes('<flow>')) out.errors.push({ line: no, message: 'a <flow> that does not end on its line' });
    for (const f of flows) {
      try {
        out.entries.push(toEntry(readXmlFlow(f), no));
      } catch (err) {
        if (!(err instanceof LineError)) throw err;
        out.errors.push({ line: no, message: err.message });
      }
    }
  }
}

/**
 * Reads a conntrack dump. The format is told apart by its first non-blank character
 * (`<`: XML) unless `format` says it (a piece of a longer dump). `firstLine` numbers the
 * first line of `text`.
 */
export function parseConntrackDump(text: string, firstLine = 1, format?: 'extended' | 'xml'): CtImportParse {
  const xml = format === undefined ? text.trimStart().startsWith('<') : format === 'xml';
  const out: CtImportParse = { format: xml ? 'xml' : 'extended', entries: [], errors: [] };
  if (xml) parseXml(text, out, firstLine);
  else parseExtended(text, out, firstLine);
  return out;
}
