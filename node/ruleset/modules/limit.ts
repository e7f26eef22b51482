/**
 * `limit rate [over] N/UNIT [burst N packets]` and `limit rate [over] N BYTES/UNIT
 * [burst N BYTES]` (BYTES: bytes, kbytes, mbytes; powers of 1024): a token bucket per
 * statement (nft's limit expression). Without `over` the rule goes on while the bucket
 * has room, with `over` only once the rate is exceeded.
 *
 * As the kernel's nft_limit: a packet limit costs one token per packet and holds `burst`
 * packets (default 5); a byte limit costs the packet's length and holds one time unit's
 * worth of the rate plus `burst` bytes (default 0). A packet too big for what the bucket
 * holds takes nothing. The JSON form is libnftables': `rate_unit` / `burst_unit` for bytes.
 */
import type { Registry, StatementModule, TextReader } from '../registry.js';
import type { ClassifyContext } from '../context.js';
import type { Token } from '../lexer.js';
import { namedObjectParse, namedObjectCheck, namedObjectValidate, namedObjectCompile } from './object-ref.js';

const UNIT_MS: Record<string, number> = {
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000,
};

/** nft's data units for byte rates (no gbytes here: nft refuses it in a limit). */
const BYTE_UNITS: Record<string, number> = { bytes: 1, kbytes: 1024, mbytes: 1024 ** 2 };
/** The kernel keeps a limit's burst in 32 bits. */
const BURST_MAX = 0xffffffff;

interface LimitJ {
  rate: number;
  per?: string;
  burst?: number;
  inv?: boolean;
  /** Present for a byte limit: the unit of `rate`. */
  rate_unit?: string;
  burst_unit?: string;
}

/** A token bucket refilled from ctx.nowMs: `take` returns true when `cost` tokens were there. */
export class TokenBucket {
  private tokens: number;
  private last = -1;
  constructor(private readonly perMs: number, private readonly capacity: number) {
    this.tokens = capacity;
  }
  take(nowMs: number, cost = 1): boolean {
    if (this.last < 0) this.last = nowMs;
    const dt = nowMs - this.last;
    if (dt > 0) {
      this.tokens = Math.min(this.capacity, this.tokens + dt * this.perMs);
      this.last = nowMs;
    }
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return true;
    }
    return false;
  }
}

const bytesOf = (n: number, unit: string | undefined): number => n * (BYTE_UNITS[unit ?? 'bytes'] ?? NaN);

/** A byte count in the largest unit that holds it exactly, as nft lists it: [n, unit]. */
function inUnits(bytes: number): [number, string] {
  for (const u of ['mbytes', 'kbytes']) {
    const f = BYTE_UNITS[u]!;
    if (bytes >= f && bytes % f === 0) return [bytes / f, u];
  }
  return [bytes, 'bytes'];
}

function byteUnit(r: TextReader, t: Token, text: string): string {
  if (!(text in BYTE_UNITS)) r.error(`unknown unit '${text}' (${Object.keys(BYTE_UNITS).join(', ')}; or RATE/UNIT for packets)`, t);
  return text;
}

const limitModule: StatementModule = {
  name: 'limit',
  keywords: ['limit'],
  jsonKeys: ['limit'],
  help: 'match at most RATE packets (N/second) or bytes (N kbytes/second) per time unit (token bucket); with `over`, match only the excess',
  params: [
    { name: 'rate', type: 'integer', required: true, help: 'packets per unit, or rate_unit per unit' },
    { name: 'per', type: 'second|minute|hour|day|week', help: 'time unit (default second)' },
    { name: 'burst', type: 'integer', help: 'extra packets allowed at once (default 5), or burst_unit for a byte limit (default 0)' },
    { name: 'inv', type: 'boolean', help: 'true for `over`: match when the rate is exceeded' },
    { name: 'rate_unit', type: Object.keys(BYTE_UNITS).join('|'), help: 'makes it a byte limit: the unit of rate' },
    { name: 'burst_unit', type: Object.keys(BYTE_UNITS).join('|'), help: 'unit of a byte limit\'s burst (default bytes)' },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r) {
    const named = namedObjectParse(r, 'limit');
    if (named) return named;
    r.expectWord('rate');
    const inv = r.acceptWord('over');
    const t = r.expectWord();
    const pkts = /^(\d+)\/(second|minute|hour|day|week)$/.exec(t.text);
    let out: LimitJ;
    if (pkts) {
      out = { rate: Number(pkts[1]), per: pkts[2] };
      if (r.acceptWord('burst')) {
        out.burst = r.integer();
        const u = r.expectWord();
        if (u.text !== 'packets') r.error(`a packet rate's burst is in packets, not '${u.text}' (or give the rate in bytes)`, u);
        // 5 packets is the default: nft does not list it.
        if (out.burst === 5) delete out.burst;
      }
    } else {
      // `10 mbytes/second`: the number, then UNIT/PER as one word.
      if (!/^\d+$/.test(t.text)) r.error(`expected RATE/UNIT (e.g. 10/second) or RATE BYTES/UNIT (e.g. 10 mbytes/second), got '${t.text}'`, t);
      const u = r.expectWord();
      const m = /^([a-z]+)\/(second|minute|hour|day|week)$/.exec(u.text);
      if (!m) r.error(`expected BYTES/UNIT after '${t.text}' (e.g. mbytes/second), got '${u.text}'`, u);
      const bytes = bytesOf(Number(t.text), byteUnit(r, u, m![1]!));
      let burst = 0;
      if (r.acceptWord('burst')) {
        const n = r.integer();
        const bu = r.expectWord();
        burst = bytesOf(n, byteUnit(r, bu, bu.text));
      }
      // Kept as nft keeps it: in bytes, listed in the largest unit that holds it exactly.
      const [rate, rateUnit] = inUnits(bytes);
      const [b, burstUnit] = inUnits(burst);
      // nft's key order, so the JSON listing reads as nft's.
      out = { rate, burst: b, per: m![2], ...(inv ? { inv: true } : {}), rate_unit: rateUnit, burst_unit: burstUnit };
    }
    if (inv) out.inv = true;
    return { limit: out };
  },
  print(stmt) {
    if (typeof (stmt as { limit: unknown }).limit === 'string') return `limit name ${JSON.stringify((stmt as { limit: string }).limit)}`;
    const l = (stmt as { limit: LimitJ }).limit;
    const over = l.inv ? 'over ' : '';
    const per = l.per ?? 'second';
    if (l.rate_unit !== undefined) {
      const [rate, ru] = inUnits(bytesOf(l.rate, l.rate_unit));
      const burst = bytesOf(l.burst ?? 0, l.burst_unit);
      const [b, bu] = inUnits(burst);
      return `limit rate ${over}${rate} ${ru}/${per}${burst > 0 ? ` burst ${b} ${bu}` : ''}`;
    }
    // 5 packets is the default burst: nft does not list it.
    return `limit rate ${over}${l.rate}/${per}${l.burst !== undefined && l.burst !== 5 ? ` burst ${l.burst} packets` : ''}`;
  },
  checkJson(stmt) {
    const named = namedObjectCheck((stmt as { limit: unknown }).limit);
    if (named !== undefined) return named;
    const l = (stmt as { limit: LimitJ }).limit;
    if (!l || typeof l !== 'object') return 'limit needs {rate, per}';
    if (!Number.isSafeInteger(l.rate) || !(l.rate > 0)) return 'limit rate must be a positive integer';
    if (l.per !== undefined && !(l.per in UNIT_MS)) return `limit per must be one of ${Object.keys(UNIT_MS).join(', ')}`;
    if (l.burst !== undefined && (!Number.isSafeInteger(l.burst) || l.burst < 0)) return 'limit burst must be a non-negative integer';
    if (l.inv !== undefined && typeof l.inv !== 'boolean') return 'limit inv must be true or false';
    for (const k of ['rate_unit', 'burst_unit'] as const) {
      if (l[k] !== undefined && !(l[k]! in BYTE_UNITS)) return `limit ${k} must be one of ${Object.keys(BYTE_UNITS).join(', ')}`;
    }
    if (l.burst_unit !== undefined && l.rate_unit === undefined) return 'limit burst_unit needs rate_unit (a byte limit)';
    if (l.rate_unit !== undefined) {
      if (!Number.isSafeInteger(bytesOf(l.rate, l.rate_unit))) return 'limit rate is too large';
      if (bytesOf(l.burst ?? 0, l.burst_unit) > BURST_MAX) return `limit burst must be at most ${BURST_MAX} bytes`;
    } else if ((l.burst ?? 0) > BURST_MAX) return `limit burst must be at most ${BURST_MAX} packets`;
    return null;
  },
  validate: (stmt, env) => namedObjectValidate(stmt, 'limit', env),
  compile(stmt, env) {
    const named = namedObjectCompile(stmt, 'limit', env);
    if (named) return named;
    const l = (stmt as { limit: LimitJ }).limit;
    const unitMs = UNIT_MS[l.per ?? 'second']!;
    const inv = l.inv === true;
    if (l.rate_unit !== undefined) {
      const rate = bytesOf(l.rate, l.rate_unit);
      const bucket = new TokenBucket(rate / unitMs, rate + bytesOf(l.burst ?? 0, l.burst_unit));
      return (ctx: ClassifyContext) => (bucket.take(ctx.nowMs, ctx.pkt.end - ctx.pkt.l3Off) !== inv ? 0 : 5 /* Code.Break */);
    }
    const bucket = new TokenBucket(l.rate / unitMs, Math.max(1, l.burst ?? 5));
    return (ctx: ClassifyContext) => (bucket.take(ctx.nowMs) !== inv ? 0 : 5 /* Code.Break */);
  },
};

export function registerLimit(r: Registry): void {
  r.registerStatement(limitModule);
}
