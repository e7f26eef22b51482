/**
 * `log [prefix "TEXT"] [level LEVEL] [flags FLAGS]`: hands a line describing the packet to
 * the log sink. Of nft's flags, `tcp sequence` adds the TCP sequence and acknowledgement
 * numbers and `tcp options` the options' length; `ip options`, `skuid` and `ether` are
 * accepted (rulesets written for nft load) and add nothing: the node sees no link layer
 * and no local sockets. `all` is all of them. Every log statement carries its own rate limit (10 lines/s, burst 20) so a flood
 * cannot turn logging into a denial of service; put `limit rate` before it for a
 * different rate. The line is built only when it will be emitted.
 */
import type { Registry, StatementModule, TextReader } from '../registry.js';
import type { ClassifyContext } from '../context.js';
import { TokenBucket } from './limit.js';

const LEVELS = ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug'];

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

/** Extra detail the flags ask for: bit 1 tcp sequence, bit 2 tcp options. */
function detailOf(flags: string[] | undefined): number {
  if (!flags) return 0;
  const all = flags.includes('all');
  return (all || flags.includes('tcp sequence') ? 1 : 0) | (all || flags.includes('tcp options') ? 2 : 0);
}

function describe(ctx: ClassifyContext, detail: number): string {
  const p = ctx.pkt;
  const addr = (o: number): string => {
    if (p.addrLen === 4) return `${p.buf[o]}.${p.buf[o + 1]}.${p.buf[o + 2]}.${p.buf[o + 3]}`;
    const g: string[] = [];
    for (let i = 0; i < 16; i += 2) g.push(((p.buf[o + i] << 8) | p.buf[o + i + 1]).toString(16));
    return g.join(':');
  };
  let s = `IN=${ctx.iif} OUT=${ctx.oif}`;
  if (p.family !== 0) s += ` SRC=${addr(p.srcOff)} DST=${addr(p.dstOff)} LEN=${p.end - p.l3Off} PROTO=${p.l4proto}`;
  if (p.l4Valid && (p.l4proto === 6 || p.l4proto === 17)) s += ` SPT=${p.sport} DPT=${p.dport}`;
  if (p.l4Valid && p.l4proto === 6) {
    if (detail & 1) s += ` SEQ=${p.seq >>> 0} ACK=${p.ack >>> 0}`;
    if (detail & 2) s += ` OPTLEN=${p.tcpOptLen}`;
  }
  if (p.l4Valid && (p.l4proto === 1 || p.l4proto === 58)) s += ` TYPE=${p.icmpType} CODE=${p.icmpCode}`;
  return s + ` MARK=0x${(ctx.metaMark >>> 0).toString(16)}`;
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

export const logModule: StatementModule = {
  name: 'log',
  keywords: ['log'],
  jsonKeys: ['log'],
  help: 'log the packet to the node log (rate limited to 10 lines/s per statement)',
  params: [
    { name: 'prefix', type: 'string', help: 'text put before the packet description' },
    { name: 'level', type: LEVELS.join('|'), help: 'syslog level (default warn)' },
    { name: 'flags', type: 'list of: tcp sequence, tcp options, ip options, skuid, ether, all', help: 'extra detail: tcp sequence adds SEQ/ACK, tcp options OPTLEN; the others are accepted and add nothing here' },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r) {
    const out: LogJ = {};
    for (;;) {
      if (r.acceptWord('prefix')) out.prefix = r.string();
      else if (r.acceptWord('level')) {
        const t = r.expectWord();
        if (!LEVELS.includes(t.text)) r.error(`unknown log level '${t.text}' (${LEVELS.join(', ')})`, t);
        out.level = t.text;
      } else if (r.acceptWord('flags')) out.flags = parseFlags(r);
      else if (NFLOG_WORDS.includes(r.peek().text) && !r.atRuleEnd()) r.error(NFLOG_REFUSED(r.peek().text), r.peek());
      else break;
    }
    return { log: out };
  },
  print(stmt, p) {
    const l = (stmt as { log: LogJ | null }).log ?? {};
    let s = 'log';
    if (l.prefix !== undefined) s += ` prefix ${p.quote(l.prefix)}`;
    if (l.level !== undefined) s += ` level ${l.level}`;
    if (l.flags !== undefined) s += ` flags ${printFlags(l.flags)}`;
    return s;
  },
  checkJson(stmt) {
    const l = (stmt as { log: LogJ | null }).log;
    if (l === null) return null;
    if (typeof l !== 'object') return 'log must be an object';
    for (const w of NFLOG_WORDS) if (w in l) return NFLOG_REFUSED(w);
    if (l.prefix !== undefined && typeof l.prefix !== 'string') return 'log prefix must be a string';
    if (l.level !== undefined && !LEVELS.includes(l.level)) return `log level must be one of ${LEVELS.join(', ')}`;
    if (l.flags !== undefined && (!Array.isArray(l.flags) || l.flags.some((f) => !FLAGS.includes(f)))) return `log flags must be a list of ${FLAGS.join(', ')}`;
    return null;
  },
  compile(stmt, env) {
    const l = (stmt as { log: LogJ | null }).log ?? {};
    const prefix = l.prefix ?? '';
    const bucket = new TokenBucket(10 / 1000, 20);
    const sink = env.log;
    const detail = detailOf(l.flags);
    return (ctx) => {
      if (bucket.take(ctx.nowMs)) sink(prefix + describe(ctx, detail), ctx);
      return 0;
    };
  },
};

export function registerLog(r: Registry): void {
  r.registerStatement(logModule);
}
