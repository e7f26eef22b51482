/**
 * `log [prefix "TEXT"] [level LEVEL] [flags FLAGS]`: hands a line describing the packet,
 * as the kernel's nf_log prints it (`IN=lan OUT=wan SRC=... DST=... LEN=... TTL=...
 * PROTO=TCP SPT=... DPT=... WINDOW=... SYN URGP=0`), with the statement's prefix and level
 * to the log sink (on a node: the datapath's LogCollector, then the node log). Of nft's
 * flags, `tcp sequence` adds SEQ/ACK, `tcp options` and `ip options` the options' bytes
 * (`OPT (...)`, as the kernel prints them); `ether` (the link-layer header) and `skuid`
 * (the sending socket's owner) are refused: a packet read from the TUN device has neither.
 * `all` is every flag this datapath can honour. `level audit` is nft's: alone, no other
 * option. Every log statement carries its own rate limit (10 lines/s, burst 20) so a
 * flood cannot turn logging into a denial of service (the node adds a node-wide one); put
 * `limit rate` before it for a different rate. The line is built only when it will be
 * written.
 */
import type { Registry, StatementModule, TextReader } from '../registry.js';
import type { ClassifyContext, LogLevel } from '../context.js';
import { TokenBucket } from './limit.js';

const LEVELS: LogLevel[] = ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug', 'audit'];

interface LogJ {
  prefix?: string;
  level?: string;
  /** libnftables' names: "tcp sequence", "tcp options", "ip options", "skuid", "ether", "all". */
  flags?: string[];
}

/**
 * `log group N` (and its snaplen / queue-threshold) hands packets to an nflog group for a
 * program such as ulogd; there is none behind hafw's datapath, so it is refused, never
 * accepted and silently turned into a plain log line.
 */
const NFLOG_WORDS = ['group', 'snaplen', 'queue-threshold'];
const NFLOG_REFUSED = (w: string) =>
  `'log ${w}' sends packets to an nflog group (netlink, read by ulogd or similar); hafw's datapath runs in user space and has no nflog to send to. Use 'log prefix "..."' (the node log) instead`;

const FLAGS = ['tcp sequence', 'tcp options', 'ip options', 'skuid', 'ether', 'all'];
/** Flags naming what a packet read from the TUN device does not have: refused with the reason. */
const FLAG_REFUSED: Record<string, string> = {
  ether: "'log flags ether' decodes the link-layer (MAC) header; hafw's datapath reads IP packets from a TUN device, which carry none. Log the MAC addresses with the node's own nftables (netdev or bridge family) instead",
  skuid: "'log flags skuid' prints the user and group owning the sending socket; packets read from the TUN device carry no socket (the kernel knows it only for its own output). Use the node's own nftables (output hook) for that",
};
const AUDIT_ALONE = "log level audit doesn't support any further options (as in nft: an audit record has no prefix nor flags)";

/** Extra detail the flags ask for: bit 1 tcp sequence, bit 2 tcp options, bit 4 ip options. */
function detailOf(flags: string[] | undefined): number {
  if (!flags) return 0;
  const all = flags.includes('all');
  return (all || flags.includes('tcp sequence') ? 1 : 0) | (all || flags.includes('tcp options') ? 2 : 0) | (all || flags.includes('ip options') ? 4 : 0);
}

/** The line and its fields, built together (only for a line that will be written). */
class LineBuilder {
  text = '';
  readonly fields: Record<string, string> = {};
  kv(key: string, value: string | number, field = key): void {
    this.text += `${this.text === '' ? '' : ' '}${key}=${value}`;
    this.fields[field] = String(value);
  }
  /** A bare word (DF, SYN...), gathered under `field` in the fields. */
  word(w: string, field: string): void {
    this.text += ` ${w}`;
    this.fields[field] = this.fields[field] === undefined ? w : `${this.fields[field]} ${w}`;
  }
  /** `OPT (0204...)`: the options' bytes in hex, as nf_log prints them. */
  opt(buf: Uint8Array, from: number, to: number, field: string): void {
    let hex = '';
    for (let i = from; i < to; i++) hex += buf[i]!.toString(16).toUpperCase().padStart(2, '0');
    this.text += ` OPT (${hex})`;
    this.fields[field] = hex;
  }
}

const PROTO_NAMES: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 136: 'UDPLITE' };
const TCP_FLAG_WORDS: [number, string][] = [[0x80, 'CWR'], [0x40, 'ECE'], [0x20, 'URG'], [0x10, 'ACK'], [0x08, 'PSH'], [0x04, 'RST'], [0x02, 'SYN'], [0x01, 'FIN']];

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

/** The packet as nf_log_syslog prints it (dump_ipv4_packet / dump_ipv6_packet), without MAC=. */
function describePacket(ctx: ClassifyContext, detail: number): LineBuilder {
  const out = new LineBuilder();
  describeInto(out, ctx, detail);
  // nf_log prints the mark only when there is one.
  if (ctx.metaMark !== 0) out.kv('MARK', `0x${(ctx.metaMark >>> 0).toString(16)}`);
  return out;
}

function describeInto(out: LineBuilder, ctx: ClassifyContext, detail: number): void {
  const p = ctx.pkt;
  const b = p.buf;
  out.kv('IN', ctx.ifnames.nameOf(ctx.iif) ?? '');
  out.kv('OUT', ctx.ifnames.nameOf(ctx.oif) ?? '');
  const addr = (o: number): string => {
    if (p.addrLen === 4) return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
    // %pI6: eight groups of four hex digits, not shortened.
    const g: string[] = [];
    for (let i = 0; i < 16; i += 2) g.push(u16(b, o + i).toString(16).padStart(4, '0'));
    return g.join(':');
  };
  if (p.family === 0) return;
  out.kv('SRC', addr(p.srcOff));
  out.kv('DST', addr(p.dstOff));
  out.kv('LEN', p.end - p.l3Off);
  const hdrEnd = p.l3Off + p.l3HdrLen;
  if (p.family === 4) {
    out.kv('TOS', `0x${(p.tos & 0x1e).toString(16).toUpperCase().padStart(2, '0')}`);
    out.kv('PREC', `0x${(p.tos & 0xe0).toString(16).toUpperCase().padStart(2, '0')}`);
    out.kv('TTL', p.ttl);
    out.kv('ID', p.ipId);
    const frag = u16(b, p.l3Off + 6);
    if (frag & 0x8000) out.word('CE', 'IPFLAGS');
    if (frag & 0x4000) out.word('DF', 'IPFLAGS');
    if (frag & 0x2000) out.word('MF', 'IPFLAGS');
    if (frag & 0x1fff) out.kv('FRAG', frag & 0x1fff);
  } else {
    const word = (b[p.l3Off]! << 24) | (b[p.l3Off + 1]! << 16) | (b[p.l3Off + 2]! << 8) | b[p.l3Off + 3]!;
    out.kv('TC', (word >>> 20) & 0xff);
    out.kv('HOPLIMIT', p.ttl);
    out.kv('FLOWLBL', word & 0xfffff);
  }
  // IPv4 options, or the IPv6 extension headers' bytes.
  if (detail & 4 && hdrEnd > p.l3Off + (p.family === 4 ? 20 : 40)) out.opt(b, p.l3Off + (p.family === 4 ? 20 : 40), hdrEnd, 'IPOPT');
  out.kv('PROTO', PROTO_NAMES[p.l4proto] ?? p.l4proto);
  if (!p.l4Valid) return;
  const l4 = p.l4Off;
  if (p.l4proto === 6) {
    out.kv('SPT', p.sport);
    out.kv('DPT', p.dport);
    if (detail & 1) {
      out.kv('SEQ', p.seq >>> 0);
      out.kv('ACK', p.ack >>> 0);
    }
    out.kv('WINDOW', p.window);
    out.kv('RES', `0x${((b[l4 + 12]! & 0x0f) << 2).toString(16).padStart(2, '0')}`);
    for (const [bit, w] of TCP_FLAG_WORDS) if (p.tcpFlags & bit) out.word(w, 'TCPFLAGS');
    out.kv('URGP', u16(b, l4 + 18));
    if (detail & 2 && p.tcpOptLen > 0) out.opt(b, p.tcpOptOff, p.tcpOptOff + p.tcpOptLen, 'TCPOPT');
  } else if (p.l4proto === 17 || p.l4proto === 136) {
    out.kv('SPT', p.sport);
    out.kv('DPT', p.dport);
    out.kv('LEN', u16(b, l4 + 4), 'UDPLEN');
  } else if (p.l4proto === 1 || p.l4proto === 58) {
    out.kv('TYPE', p.icmpType);
    out.kv('CODE', p.icmpCode);
    const echo = p.l4proto === 1 ? p.icmpType === 0 || p.icmpType === 8 : p.icmpType === 128 || p.icmpType === 129;
    if (echo) {
      out.kv('ID', p.icmpId, 'ICMPID');
      out.kv('SEQ', u16(b, l4 + 6), 'ICMPSEQ');
    }
  }
}

/**
 * nft's text: `flags all`, `flags skuid`, `flags ether`, `flags ip options`,
 * `flags tcp sequence,options` (the words after `tcp` share it), several separated by
 * commas.
 */
function parseFlags(r: TextReader): string[] {
  const out: string[] = [];
  do {
    const t = r.expectWord();
    if (t.text === 'tcp' || t.text === 'ip') {
      const family = t.text;
      do {
        const w = r.expectWord();
        const name = `${family} ${w.text}`;
        if (!FLAGS.includes(name)) r.error(`unknown log flag '${name}' (${FLAGS.join(', ')})`, w);
        out.push(name);
        // `tcp sequence,options`: a following word that is not a family continues the list.
      } while (family === 'tcp' && continuesTcp(r) && r.acceptPunct(','));
    } else {
      if (!FLAGS.includes(t.text)) r.error(`unknown log flag '${t.text}' (${FLAGS.join(', ')})`, t);
      if (FLAG_REFUSED[t.text]) r.error(FLAG_REFUSED[t.text]!, t);
      out.push(t.text);
    }
  } while (r.acceptPunct(','));
  return out;
}

/** `, sequence` or `, options` next: more words for the same `tcp`. */
function continuesTcp(r: TextReader): boolean {
  const comma = r.peekAt(0);
  const word = r.peekAt(1);
  return comma?.text === ',' && (word?.text === 'sequence' || word?.text === 'options');
}

/** Back to nft's text: tcp flags share one `tcp`. */
function printFlags(flags: string[]): string {
  const tcp = flags.filter((f) => f.startsWith('tcp ')).map((f) => f.slice(4));
  const rest = flags.filter((f) => !f.startsWith('tcp '));
  return [...(tcp.length > 0 ? [`tcp ${tcp.join(',')}`] : []), ...rest].join(',');
}

const logModule: StatementModule = {
  name: 'log',
  keywords: ['log'],
  jsonKeys: ['log'],
  help: 'log the packet to the node log (rate limited to 10 lines/s per statement)',
  params: [
    { name: 'prefix', type: 'string', help: 'text put before the packet description' },
    { name: 'level', type: LEVELS.join('|'), help: 'syslog level (default warn); audit: alone, no prefix nor flags' },
    { name: 'flags', type: 'list of: tcp sequence, tcp options, ip options, all', help: 'extra detail: tcp sequence adds SEQ/ACK, tcp options and ip options the options (OPT (hex)); ether and skuid are refused (no link-layer header, no socket on a TUN packet)' },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r) {
    const out: LogJ = {};
    let levelAt: ReturnType<TextReader['expectWord']> | undefined;
    for (;;) {
      if (r.acceptWord('prefix')) out.prefix = r.string();
      else if (r.acceptWord('level')) {
        const t = r.expectWord();
        if (!LEVELS.includes(t.text as LogLevel)) r.error(`unknown log level '${t.text}' (${LEVELS.join(', ')})`, t);
        // warn is the default: nft drops it (and so does not list it).
        if (t.text !== 'warn') out.level = t.text;
        levelAt = t;
      } else if (r.acceptWord('flags')) out.flags = parseFlags(r);
      else if (NFLOG_WORDS.includes(r.peek().text) && !r.atRuleEnd()) r.error(NFLOG_REFUSED(r.peek().text), r.peek());
      else break;
    }
    if (out.level === 'audit' && (out.prefix !== undefined || out.flags !== undefined)) r.error(AUDIT_ALONE, levelAt!);
    return { log: out };
  },
  print(stmt, p) {
    const l = (stmt as { log: LogJ | null }).log ?? {};
    let s = 'log';
    if (l.prefix !== undefined) s += ` prefix ${p.quote(l.prefix)}`;
    // warn is the default level: nft does not list it.
    if (l.level !== undefined && l.level !== 'warn') s += ` level ${l.level}`;
    if (l.flags !== undefined) s += ` flags ${printFlags(l.flags)}`;
    return s;
  },
  checkJson(stmt) {
    const l = (stmt as { log: LogJ | null }).log;
    if (l === null) return null;
    if (typeof l !== 'object') return 'log must be an object';
    for (const w of NFLOG_WORDS) if (w in l) return NFLOG_REFUSED(w);
    if (l.prefix !== undefined && typeof l.prefix !== 'string') return 'log prefix must be a string';
    if (l.level !== undefined && !LEVELS.includes(l.level as LogLevel)) return `log level must be one of ${LEVELS.join(', ')}`;
    if (l.flags !== undefined && (!Array.isArray(l.flags) || l.flags.some((f) => !FLAGS.includes(f)))) return `log flags must be a list of ${FLAGS.join(', ')}`;
    const refused = l.flags?.find((f) => FLAG_REFUSED[f] !== undefined);
    if (refused !== undefined) return FLAG_REFUSED[refused]!;
    if (l.level === 'audit' && (l.prefix !== undefined || l.flags !== undefined)) return AUDIT_ALONE;
    return null;
  },
  compile(stmt, env) {
    const l = (stmt as { log: LogJ | null }).log ?? {};
    const prefix = l.prefix ?? '';
    const level = (l.level ?? 'warn') as LogLevel;
    const bucket = new TokenBucket(10 / 1000, 20);
    const sink = env.log;
    const detail = detailOf(l.flags);
    return (ctx) => {
      if (!bucket.take(ctx.nowMs)) sink.held?.();
      else if (sink.admit === undefined || sink.admit(ctx.nowMs)) {
        const d = describePacket(ctx, detail);
        sink.write({ prefix, level, line: d.text, fields: d.fields }, ctx);
      }
      return 0;
    };
  },
};

export function registerLog(r: Registry): void {
  r.registerStatement(logModule);
}
