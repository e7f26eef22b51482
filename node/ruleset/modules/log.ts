/**
 * `log [prefix "TEXT"] [level LEVEL]`: hands a line describing the packet to the log
 * sink. Every log statement carries its own rate limit (10 lines/s, burst 20) so a flood
 * cannot turn logging into a denial of service; put `limit rate` before it for a
 * different rate. The line is built only when it will be emitted.
 */
import type { Registry, StatementModule } from '../registry.js';
import type { ClassifyContext } from '../context.js';
import { TokenBucket } from './limit.js';

const LEVELS = ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug'];

interface LogJ {
  prefix?: string;
  level?: string;
}

function describe(ctx: ClassifyContext): string {
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
  if (p.l4Valid && (p.l4proto === 1 || p.l4proto === 58)) s += ` TYPE=${p.icmpType} CODE=${p.icmpCode}`;
  return s + ` MARK=0x${(ctx.metaMark >>> 0).toString(16)}`;
}

export const logModule: StatementModule = {
  name: 'log',
  keywords: ['log'],
  jsonKeys: ['log'],
  help: 'log the packet to the node log (rate limited to 10 lines/s per statement)',
  params: [
    { name: 'prefix', type: 'string', help: 'text put before the packet description' },
    { name: 'level', type: LEVELS.join('|'), help: 'syslog level (default warn)' },
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
      } else break;
    }
    return { log: out };
  },
  print(stmt, p) {
    const l = (stmt as { log: LogJ | null }).log ?? {};
    let s = 'log';
    if (l.prefix !== undefined) s += ` prefix ${p.quote(l.prefix)}`;
    if (l.level !== undefined) s += ` level ${l.level}`;
    return s;
  },
  checkJson(stmt) {
    const l = (stmt as { log: LogJ | null }).log;
    if (l === null) return null;
    if (typeof l !== 'object') return 'log must be an object';
    if (l.prefix !== undefined && typeof l.prefix !== 'string') return 'log prefix must be a string';
    if (l.level !== undefined && !LEVELS.includes(l.level)) return `log level must be one of ${LEVELS.join(', ')}`;
    return null;
  },
  compile(stmt, env) {
    const l = (stmt as { log: LogJ | null }).log ?? {};
    const prefix = l.prefix ?? '';
    const bucket = new TokenBucket(10 / 1000, 20);
    const sink = env.log;
    return (ctx) => {
      if (bucket.take(ctx.nowMs)) sink(prefix + describe(ctx), ctx);
      return 0;
    };
  },
};

export function registerLog(r: Registry): void {
  r.registerStatement(logModule);
}
