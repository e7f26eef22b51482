/**
 * `limit rate [over] N/UNIT [burst N packets]`: a token bucket per statement (nft's
 * limit expression). Without `over` the rule goes on while tokens remain; with `over`
 * it goes on only once the rate is exceeded. Burst defaults to 5 packets as in nft.
 */
import type { Registry, StatementModule } from '../registry.js';
import type { ClassifyContext } from '../context.js';

export const UNIT_MS: Record<string, number> = {
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000,
};

interface LimitJ {
  rate: number;
  per?: string;
  burst?: number;
  inv?: boolean;
}

/** A token bucket refilled from ctx.nowMs: returns true when a token was taken. */
export class TokenBucket {
  private tokens: number;
  private last = -1;
  constructor(private readonly perMs: number, private readonly capacity: number) {
    this.tokens = capacity;
  }
  take(nowMs: number): boolean {
    if (this.last < 0) this.last = nowMs;
    const dt = nowMs - this.last;
    if (dt > 0) {
      this.tokens = Math.min(this.capacity, this.tokens + dt * this.perMs);
      this.last = nowMs;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}

export const limitModule: StatementModule = {
  name: 'limit',
  keywords: ['limit'],
  jsonKeys: ['limit'],
  help: 'match at most RATE packets per time unit (token bucket); with `over`, match only the excess',
  params: [
    { name: 'rate', type: 'integer', required: true, help: 'packets per unit' },
    { name: 'per', type: 'second|minute|hour|day|week', help: 'time unit (default second)' },
    { name: 'burst', type: 'integer', help: 'extra packets allowed at once (default 5)' },
    { name: 'inv', type: 'boolean', help: 'true for `over`: match when the rate is exceeded' },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r) {
    r.expectWord('rate');
    const inv = r.acceptWord('over');
    const t = r.expectWord();
    const m = /^(\d+)\/(second|minute|hour|day|week)$/.exec(t.text);
    if (!m) r.error(`expected RATE/UNIT (e.g. 10/second), got '${t.text}'`, t);
    const out: LimitJ = { rate: Number(m![1]), per: m![2] };
    if (r.acceptWord('burst')) {
      out.burst = r.integer();
      r.expectWord('packets');
    }
    if (inv) out.inv = true;
    return { limit: out };
  },
  print(stmt) {
    const l = (stmt as { limit: LimitJ }).limit;
    return `limit rate ${l.inv ? 'over ' : ''}${l.rate}/${l.per ?? 'second'}${l.burst !== undefined ? ` burst ${l.burst} packets` : ''}`;
  },
  checkJson(stmt) {
    const l = (stmt as { limit: LimitJ }).limit;
    if (!l || typeof l !== 'object') return 'limit needs {rate, per}';
    if (typeof l.rate !== 'number' || !(l.rate > 0)) return 'limit rate must be a positive number';
    if (l.per !== undefined && !(l.per in UNIT_MS)) return `limit per must be one of ${Object.keys(UNIT_MS).join(', ')}`;
    if (l.burst !== undefined && (typeof l.burst !== 'number' || l.burst < 0)) return 'limit burst must be a non-negative number';
    return null;
  },
  compile(stmt) {
    const l = (stmt as { limit: LimitJ }).limit;
    const bucket = new TokenBucket(l.rate / UNIT_MS[l.per ?? 'second'], Math.max(1, l.burst ?? 5));
    const inv = l.inv === true;
    return (ctx: ClassifyContext) => (bucket.take(ctx.nowMs) !== inv ? 0 : 5 /* Code.Break */);
  },
};

export function registerLimit(r: Registry): void {
  r.registerStatement(limitModule);
}
