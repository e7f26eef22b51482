import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { ClassifyContext, Hook, RejectKind, Verdict } from './context.js';
import { fillPacket, type TestPacket } from './test-packets.js';

const V4: TestPacket = { src: '192.0.2.100', dst: '198.51.100.100', proto: 'tcp', sport: 40000, dport: 22, flags: 0x02 };
const V6: TestPacket = { src: '2001:db8::100', dst: '2001:db8:1::100', proto: 'tcp', sport: 40000, dport: 22, flags: 0x02 };

/** An engine whose forward chain (policy accept unless given) holds `rules`, plus extra chains. */
function engine(rules: string, opts: { family?: string; policy?: string; extra?: string; log?: (l: string) => void; now?: () => number } = {}): RulesetEngine {
  const log = opts.log;
  const e = new RulesetEngine({ log: log && { write: (l) => log(l.prefix + l.line) }, clock: opts.now });
  e.load(`table ${opts.family ?? 'inet'} t {
    chain fw {
      type filter hook forward priority 0; policy ${opts.policy ?? 'accept'};
      ${rules}
    }
    ${opts.extra ?? ''}
  }`);
  return e;
}

function run(e: RulesetEngine, p: TestPacket, setup?: (ctx: ClassifyContext) => void): { v: Verdict; ctx: ClassifyContext } {
  const ctx = new ClassifyContext();
  fillPacket(ctx.pkt, p);
  setup?.(ctx);
  const v = e.compiled.classify(ctx, Hook.Forward);
  return { v, ctx };
}

/** Drop verdict of `rule drop` for a packet: true when the rule matched. */
function matches(rule: string, p: TestPacket, setup?: (ctx: ClassifyContext) => void, family?: string): boolean {
  return run(engine(`${rule} drop`, { family }), p, setup).v === Verdict.Drop;
}

describe('classify: matches on IPv4 and IPv6', () => {
  it('ip saddr / daddr: exact, prefix, range, negation', () => {
    assert.equal(matches('ip saddr 192.0.2.100', V4), true);
    assert.equal(matches('ip saddr 192.0.2.101', V4), false);
    assert.equal(matches('ip saddr 192.0.2.0/24', V4), true);
    assert.equal(matches('ip daddr 198.51.100.0/25', V4), true);
    assert.equal(matches('ip daddr 198.51.100.128/25', V4), false);
    assert.equal(matches('ip saddr 192.0.2.50-192.0.2.150', V4), true);
    assert.equal(matches('ip saddr != 192.0.2.0/24', V4), false);
    assert.equal(matches('ip saddr != 10.0.0.0/8', V4), true);
    // an IPv4 match never matches an IPv6 packet in an inet table, not even negated
    assert.equal(matches('ip saddr != 10.0.0.0/8', V6), false);
  });

  it('ip6 saddr / daddr: exact, prefix, range, negation', () => {
    assert.equal(matches('ip6 saddr 2001:db8::100', V6), true);
    assert.equal(matches('ip6 saddr 2001:db8::101', V6), false);
    assert.equal(matches('ip6 saddr 2001:db8::/32', V6), true);
    assert.equal(matches('ip6 daddr 2001:db8:1::/48', V6), true);
    assert.equal(matches('ip6 daddr 2001:db8:2::/48', V6), false);
    assert.equal(matches('ip6 saddr 2001:db8::1-2001:db8::ffff', V6), true);
    assert.equal(matches('ip6 saddr != 2001:db8::/32', V6), false);
    assert.equal(matches('ip6 saddr 2001:db8::/32', V4), false);
  });

  it('ip protocol, ip6 nexthdr, meta l4proto, meta nfproto', () => {
    assert.equal(matches('ip protocol tcp', V4), true);
    assert.equal(matches('ip protocol udp', V4), false);
    assert.equal(matches('ip6 nexthdr tcp', V6), true);
    assert.equal(matches('meta l4proto tcp', V4), true);
    assert.equal(matches('meta l4proto tcp', V6), true);
    assert.equal(matches('meta l4proto { udp, icmp }', V4), false);
    assert.equal(matches('meta nfproto ipv4', V4), true);
    assert.equal(matches('meta nfproto ipv4', V6), false);
    assert.equal(matches('meta nfproto ipv6', V6), true);
  });

  for (const [name, P] of [['IPv4', V4], ['IPv6', V6]] as const) {
    it(`tcp / udp / th ports on ${name}: values, ranges, sets, comparisons`, () => {
      assert.equal(matches('tcp dport 22', P), true);
      assert.equal(matches('tcp dport ssh', P), true);
      assert.equal(matches('tcp dport 23', P), false);
      assert.equal(matches('tcp sport 1024-65535', P), true);
      assert.equal(matches('tcp dport { 80, 443, 20-30 }', P), true);
      assert.equal(matches('tcp dport != { 80, 443 }', P), true);
      assert.equal(matches('tcp dport < 1024', P), true);
      assert.equal(matches('tcp dport > 1024', P), false);
      assert.equal(matches('udp dport 22', P), false, 'udp match on a tcp packet');
      assert.equal(matches('udp dport 53', { ...P, proto: 'udp', dport: 53 }), true);
      assert.equal(matches('th dport 53', { ...P, proto: 'udp', dport: 53 }), true);
      assert.equal(matches('th dport 22', P), true);
      assert.equal(matches('th dport 0', { ...P, proto: 'icmp' }), false);
    });

    it(`tcp flags on ${name}: any-of, exact, masked`, () => {
      const synAck = { ...P, flags: 0x12 };
      assert.equal(matches('tcp flags syn', P), true);
      assert.equal(matches('tcp flags syn', synAck), true);
      assert.equal(matches('tcp flags == syn', synAck), false);
      assert.equal(matches('tcp flags == syn', P), true);
      assert.equal(matches('tcp flags syn / syn,ack', P), true);
      assert.equal(matches('tcp flags syn / syn,ack', synAck), false);
      assert.equal(matches('tcp flags fin,rst', P), false);
      assert.equal(matches('tcp flags != rst', P), true);
    });

    it(`iifname / oifname, marks, ct state / status on ${name}`, () => {
      const e = engine('iifname "lan" oifname "wan" drop');
      const lan = e.ifnames.idOf('lan');
      const wan = e.ifnames.idOf('wan');
      assert.equal(run(e, P, (c) => { c.iif = lan; c.oif = wan; }).v, Verdict.Drop);
      assert.equal(run(e, P, (c) => { c.iif = wan; c.oif = lan; }).v, Verdict.Accept);
      assert.equal(matches('meta mark 0x10', P, (c) => { c.metaMark = 0x10; }), true);
      assert.equal(matches('meta mark 0x10', P, (c) => { c.metaMark = 0x11; }), false);
      assert.equal(matches('ct mark 7', P, (c) => { c.ctMark = 7; }), true);
      assert.equal(matches('ct state established,related', P, (c) => { c.ctState = 2; }), true);
      assert.equal(matches('ct state established,related', P, (c) => { c.ctState = 8; }), false);
      assert.equal(matches('ct state new', P, (c) => { c.ctState = 8; }), true);
      assert.equal(matches('ct state != invalid', P, (c) => { c.ctState = 8; }), true);
      assert.equal(matches('ct state { new, untracked }', P, (c) => { c.ctState = 64; }), true);
      assert.equal(matches('ct status assured', P, (c) => { c.ctStatus = 4 | 8; }), true);
      assert.equal(matches('ct status dnat', P, (c) => { c.ctStatus = 4; }), false);
    });
  }

  it('icmp type and icmpv6 type match only their own protocol', () => {
    const echo4: TestPacket = { src: '192.0.2.1', dst: '192.0.2.2', proto: 'icmp', icmpType: 8 };
    const echo6: TestPacket = { src: '2001:db8::1', dst: '2001:db8::2', proto: 'icmpv6', icmpType: 128 };
    assert.equal(matches('icmp type echo-request', echo4), true);
    assert.equal(matches('icmp type echo-reply', echo4), false);
    assert.equal(matches('icmp type echo-request', echo6), false);
    assert.equal(matches('icmpv6 type echo-request', echo6), true);
    assert.equal(matches('icmpv6 type { nd-neighbor-solicit, echo-request }', echo6), true);
    assert.equal(matches('icmpv6 type 128', echo4), false);
  });

  it('concatenations match against anonymous and named sets', () => {
    assert.equal(matches('ip saddr . tcp dport { 192.0.2.100 . 22, 10.0.0.1 . 80 }', V4), true);
    assert.equal(matches('ip saddr . tcp dport { 192.0.2.100 . 23 }', V4), false);
    assert.equal(matches('ip6 saddr . tcp dport { 2001:db8::100 . 22 }', V6), true);
    const e = engine('ip saddr . tcp dport @s drop', { extra: 'set s { type ipv4_addr . inet_service; elements = { 192.0.2.100 . 22 } }' });
    assert.equal(run(e, V4).v, Verdict.Drop);
    assert.equal(run(e, { ...V4, dport: 80 }).v, Verdict.Accept);
  });

  it('a concatenation with ranges in an interval set matches per component', () => {
    const e = engine('ip saddr . tcp dport @s drop', { extra: 'set s { type ipv4_addr . inet_service; flags interval; elements = { 192.0.2.0/24 . 20-30 } }' });
    assert.equal(run(e, V4).v, Verdict.Drop);
    assert.equal(run(e, { ...V4, dport: 31 }).v, Verdict.Accept);
    assert.equal(run(e, { ...V4, src: '192.0.3.1' }).v, Verdict.Accept);
  });
});

describe('classify: named sets', () => {
  it('uses a hash for exact keys and an interval structure for prefixes (IPv4 and IPv6)', () => {
    const e = engine('ip saddr @b4 drop\nip6 saddr @b6 drop', {
      extra: `set b4 { type ipv4_addr; flags interval; elements = { 192.0.2.0/28, 10.0.0.1 } }
              set b6 { type ipv6_addr; elements = { 2001:db8::100 } }`,
    });
    assert.equal(run(e, V4).v, Verdict.Accept); // .100 is outside /28
    assert.equal(run(e, { ...V4, src: '192.0.2.15' }).v, Verdict.Drop);
    assert.equal(run(e, { ...V4, src: '10.0.0.1' }).v, Verdict.Drop);
    assert.equal(run(e, V6).v, Verdict.Drop);
    assert.equal(run(e, { ...V6, src: '2001:db8::101' }).v, Verdict.Accept);
  });

  it('stays correct with 10,000 elements (hash) and 10,000 ranges (interval)', () => {
    const exact: string[] = [];
    const ranges: string[] = [];
    for (let i = 0; i < 10000; i++) {
      exact.push(`10.${(i >> 8) & 255}.${i & 255}.1`);
      ranges.push(`${1000 + i * 5}-${1000 + i * 5 + 2}`);
    }
    const e = engine('ip saddr @big drop\ntcp dport @r drop', {
      extra: `set big { type ipv4_addr; elements = { ${exact.join(', ')} } }
              set r { type inet_service; flags interval; elements = { ${ranges.slice(0, 10000).filter((_, i) => 1000 + i * 5 + 2 < 65536).join(', ')} } }`,
    });
    assert.equal(run(e, { ...V4, src: '10.39.15.1' }).v, Verdict.Drop);
    assert.equal(run(e, { ...V4, src: '10.39.15.2' }).v, Verdict.Accept);
    assert.equal(run(e, { ...V4, dport: 1000 + 777 * 5 + 1 }).v, Verdict.Drop);
    assert.equal(run(e, { ...V4, dport: 1000 + 777 * 5 + 3 }).v, Verdict.Accept);
  });

  it('ignores elements whose timeout has passed', () => {
    let now = 1_000_000;
    const e = engine('ip saddr @t drop', { now: () => now, extra: 'set t { type ipv4_addr; flags timeout; elements = { 192.0.2.100 timeout 10s } }' });
    assert.equal(run(e, V4, (c) => { c.nowMs = now + 9_999; }).v, Verdict.Drop);
    assert.equal(run(e, V4, (c) => { c.nowMs = now + 10_000; }).v, Verdict.Accept);
    now += 20_000;
    assert.doesNotMatch(e.list(), /192\.0\.2\.100/, 'expired elements are not listed');
  });
});

describe('classify: verdicts and chains', () => {
  it('applies the base chain policy when no rule decides', () => {
    assert.equal(run(engine('tcp dport 80 accept', { policy: 'drop' }), V4).v, Verdict.Drop);
    assert.equal(run(engine('tcp dport 22 accept', { policy: 'drop' }), V4).v, Verdict.Accept);
    assert.equal(run(engine('tcp dport 80 drop'), V4).v, Verdict.Accept);
  });

  it('jump returns to the caller, goto does not, return leaves a chain', () => {
    const extra = `chain j { tcp dport 22 return\n drop }
                   chain g { tcp dport 22 accept }`;
    // jump: j returns for port 22, the next rule of fw decides
    let e = engine('jump j\ndrop', { extra });
    assert.equal(run(e, V4).v, Verdict.Drop);
    assert.equal(run(e, { ...V4, dport: 23 }).v, Verdict.Drop);
    e = engine('jump j\naccept', { extra, policy: 'drop' });
    assert.equal(run(e, V4).v, Verdict.Accept);
    // goto: when g ends without a verdict, the base chain's policy applies (not the next rule)
    e = engine('goto g\naccept', { extra, policy: 'drop' });
    assert.equal(run(e, { ...V4, dport: 23 }).v, Verdict.Drop);
    assert.equal(run(e, V4).v, Verdict.Accept);
  });

  it('continue goes on with the next rule; accept in one base chain lets the next base chain decide', () => {
    assert.equal(run(engine('tcp dport 22 continue\ndrop'), V4).v, Verdict.Drop);
    const e = new RulesetEngine();
    e.load(`table ip a { chain f { type filter hook forward priority 0; policy accept; accept } }
            table ip b { chain f { type filter hook forward priority 10; policy accept; tcp dport 22 drop } }`);
    const { v, ctx } = run(e, V4);
    assert.equal(v, Verdict.Drop);
    assert.ok(ctx.verdictRule > 0);
  });

  it('runs base chains in priority order: drop in the earlier one wins', () => {
    const e = new RulesetEngine();
    e.load(`table ip late { chain f { type filter hook forward priority 100; policy accept; counter accept } }
            table ip early { chain f { type filter hook forward priority -100; policy accept; tcp dport 22 drop } }`);
    assert.equal(run(e, V4).v, Verdict.Drop);
    const h = e.toJSON().nftables.find((x) => 'rule' in x && x.rule.table === 'late') as { rule: { expr: { counter?: { packets: number } }[] } };
    assert.equal(h.rule.expr[0].counter?.packets, 0, 'the later chain never saw the dropped packet');
  });

  it('ip and ip6 tables see only their family; inet sees both', () => {
    const e = new RulesetEngine();
    e.load(`table ip x { chain f { type filter hook forward priority 0; policy drop; } }`);
    assert.equal(run(e, V4).v, Verdict.Drop);
    assert.equal(run(e, V6).v, Verdict.Accept);
    e.load(`table ip6 x { chain f { type filter hook forward priority 0; policy drop; } }`);
    assert.equal(run(e, V4).v, Verdict.Accept);
    assert.equal(run(e, V6).v, Verdict.Drop);
  });

  it('verdict maps pick accept, drop, jump and goto', () => {
    const e = engine('tcp dport vmap { 22 : accept, 23 : drop, 24 : jump j, 25 : goto g }\ndrop', {
      extra: 'chain j { return }\nchain g { accept }',
    });
    assert.equal(run(e, V4).v, Verdict.Accept);
    assert.equal(run(e, { ...V4, dport: 23 }).v, Verdict.Drop);
    assert.equal(run(e, { ...V4, dport: 24 }).v, Verdict.Drop, 'jump then return, then the next rule drops');
    assert.equal(run(e, { ...V4, dport: 25 }).v, Verdict.Accept);
    assert.equal(run(e, { ...V4, dport: 26 }).v, Verdict.Drop, 'no element: the rule does not apply');
  });

  it('named verdict maps work on IPv6 keys', () => {
    const e = engine('ip6 saddr vmap @m', { extra: 'map m { type ipv6_addr : verdict; flags interval; elements = { 2001:db8::/64 : drop } }' });
    assert.equal(run(e, V6).v, Verdict.Drop);
    assert.equal(run(e, { ...V6, src: '2001:db8:5::1' }).v, Verdict.Accept);
  });
});

describe('classify: statements', () => {
  it('counter counts packets and bytes per rule', () => {
    const e = engine('tcp dport 22 counter\ncounter');
    run(e, { ...V4, len: 60 });
    run(e, { ...V4, len: 40, dport: 80 });
    const rules = e.toJSON().nftables.filter((x) => 'rule' in x) as { rule: { handle: number; expr: { counter?: { packets: number; bytes: number } }[] } }[];
    assert.deepEqual(rules[0].rule.expr[1].counter, { packets: 1, bytes: 60 });
    assert.deepEqual(rules[1].rule.expr[0].counter, { packets: 2, bytes: 100 });
    assert.equal(e.compiled.counters('inet', 't', rules[1].rule.handle)?.[0].packets, 2);
  });

  it('meta mark set and ct mark set write the context', () => {
    const { ctx, v } = run(engine('meta mark set 0x10 ct mark set 0x20'), V4);
    assert.equal(v, Verdict.Accept);
    assert.equal(ctx.metaMark, 0x10);
    assert.equal(ctx.ctMark, 0x20);
    assert.equal(ctx.ctMarkSet, true);
    // a later rule sees the mark set by an earlier one
    assert.equal(run(engine('meta mark set 7\nmeta mark 7 drop'), V6).v, Verdict.Drop);
  });

  it('meta mark set / ct mark set take their value from anonymous and named maps', () => {
    let r = run(engine('meta mark set tcp dport map { 22 : 0x16, 80 : 0x50 }'), V4);
    assert.equal(r.ctx.metaMark, 0x16);
    r = run(engine('meta mark set tcp dport map { 80 : 0x50 }\nmeta mark 0 drop'), V6);
    assert.equal(r.v, Verdict.Drop, 'a miss leaves the mark alone and ends the rule');
    const e = engine('ct mark set ip6 saddr map @m', { extra: 'map m { type ipv6_addr : mark; flags interval; elements = { 2001:db8::/64 : 0x7 } }' });
    r = run(e, V6);
    assert.deepEqual([r.ctx.ctMark, r.ctx.ctMarkSet], [7, true]);
    assert.match(e.list(), /ct mark set ip6 saddr map @m/);
    assert.match(e.list(), /2001:db8::\/64 : 0x00000007/);
  });

  it('a typeof set takes its key type from the selectors', () => {
    const e = engine('ip saddr . tcp dport @s drop', { extra: 'set s { typeof ip saddr . tcp dport; elements = { 192.0.2.100 . 22 } }' });
    assert.equal(run(e, V4).v, Verdict.Drop);
    // Listed as declared, as nft lists it (the JSON has the types: nft -j lists `type`).
    assert.match(e.list(), /typeof ip saddr \. tcp dport\n/);
  });

  it('notrack raises ctx.notrack without deciding', () => {
    const { ctx, v } = run(engine('notrack'), V6);
    assert.equal(ctx.notrack, true);
    assert.equal(v, Verdict.Accept);
  });

  it('reject drops and asks for a TCP reset or the right ICMP unreachable', () => {
    let r = run(engine('reject with tcp reset'), V4);
    assert.deepEqual([r.v, r.ctx.reject], [Verdict.Drop, RejectKind.TcpReset]);
    r = run(engine('reject'), V4);
    assert.deepEqual([r.v, r.ctx.reject, r.ctx.rejectCode], [Verdict.Drop, RejectKind.Icmp, 3]);
    r = run(engine('reject'), V6);
    assert.deepEqual([r.v, r.ctx.reject, r.ctx.rejectCode], [Verdict.Drop, RejectKind.Icmpv6, 4]);
    r = run(engine('reject with icmpx admin-prohibited'), V6);
    assert.deepEqual([r.ctx.reject, r.ctx.rejectCode], [RejectKind.Icmpx, 3]);
    r = run(engine('reject with icmp type host-prohibited'), V4);
    assert.deepEqual([r.ctx.reject, r.ctx.rejectCode], [RejectKind.Icmp, 10]);
    r = run(engine('reject with icmpv6 addr-unreachable'), V6);
    assert.deepEqual([r.v, r.ctx.reject, r.ctx.rejectCode], [Verdict.Drop, RejectKind.Icmpv6, 3]);
    // the outputs are cleared for the next packet
    const e = engine('tcp dport 22 reject');
    const ctx = new ClassifyContext();
    fillPacket(ctx.pkt, V4);
    e.compiled.classify(ctx, Hook.Forward);
    fillPacket(ctx.pkt, { ...V4, dport: 80 });
    assert.equal(e.compiled.classify(ctx, Hook.Forward), Verdict.Accept);
    assert.equal(ctx.reject, RejectKind.None);
  });

  it('a reject of the other family or for another protocol does not match, as the dependency nft adds makes it (listed for tcp reset, hidden for the family)', () => {
    // nft compiles `reject with icmp X` in an inet table as `meta nfproto ipv4 reject ...`,
    // `with icmpv6` as nfproto ipv6, `with tcp reset` as `meta l4proto tcp`: the rule does
    // not apply to other packets, which go on to the next rule (here the policy, drop).
    const e = engine('reject with icmp host-unreachable\nreject with icmpv6 addr-unreachable', { policy: 'drop' });
    let r = run(e, V6);
    assert.deepEqual([r.v, r.ctx.reject, r.ctx.rejectCode], [Verdict.Drop, RejectKind.Icmpv6, 3], 'IPv6 skips the icmp rule');
    r = run(e, V4);
    assert.deepEqual([r.v, r.ctx.reject, r.ctx.rejectCode], [Verdict.Drop, RejectKind.Icmp, 1]);
    r = run(engine('reject with tcp reset\nreject with icmpx admin-prohibited'), { ...V4, proto: 'udp' });
    assert.deepEqual([r.v, r.ctx.reject, r.ctx.rejectCode], [Verdict.Drop, RejectKind.Icmpx, 3], 'UDP skips the tcp reset rule');
    r = run(engine('reject with icmpv6 no-route'), V4);
    assert.deepEqual([r.v, r.ctx.reject], [Verdict.Accept, RejectKind.None], 'IPv4 passes an icmpv6-only reject');
  });

  it('limit rate lets a burst through, then refills with time; over inverts it', () => {
    const e = engine('limit rate 2/second burst 2 packets accept\ndrop');
    const at = (ms: number): Verdict => run(e, V4, (c) => { c.nowMs = ms; }).v;
    assert.deepEqual([at(0), at(1), at(2)], [Verdict.Accept, Verdict.Accept, Verdict.Drop]);
    assert.equal(at(600), Verdict.Accept, 'one token back after 500 ms');
    assert.equal(at(601), Verdict.Drop);
    const o = engine('limit rate over 1/second burst 1 packets drop');
    const ot = (ms: number): Verdict => run(o, V4, (c) => { c.nowMs = ms; }).v;
    assert.deepEqual([ot(0), ot(1)], [Verdict.Accept, Verdict.Drop]);
  });

  it('log hands a line with the prefix to the sink, rate limited', () => {
    const lines: string[] = [];
    const e = engine('log prefix "fw: "', { log: (l) => lines.push(l) });
    for (let i = 0; i < 100; i++) run(e, V4, (c) => { c.nowMs = 5; });
    assert.equal(lines.length, 20, 'burst of 20, then nothing within the same millisecond');
    assert.match(lines[0], /^fw: IN= OUT= SRC=192\.0\.2\.100 DST=198\.51\.100\.100 LEN=\d+ TOS=0x00 PREC=0x00 TTL=\d+ ID=\d+ PROTO=TCP SPT=40000 DPT=22 WINDOW=\d+ RES=0x[0-9a-f]{2} SYN URGP=\d+$/);
    run(e, V6, (c) => { c.nowMs = 1000; });
    assert.match(lines[20], /SRC=2001:0db8:0000:0000:0000:0000:0000:0100 /, 'addresses as %pI6 prints them');
  });

  it('statements after a failed match do not run', () => {
    const { ctx } = run(engine('tcp dport 80 meta mark set 1 notrack'), V4);
    assert.equal(ctx.metaMark, 0);
    assert.equal(ctx.notrack, false);
  });
});

describe('classify: every statement and verdict on both families', () => {
  for (const [name, P] of [['IPv4', V4], ['IPv6', V6]] as const) {
    it(`statements and verdicts behave the same on ${name}`, () => {
      const extra = 'chain sub { tcp dport 22 return\n drop }\nchain acc { accept }';
      const cases: [string, Verdict, ((c: ClassifyContext) => boolean)?][] = [
        ['accept', Verdict.Accept],
        ['drop', Verdict.Drop],
        ['continue\ndrop', Verdict.Drop],
        ['return\ndrop', Verdict.Accept], // return in a base chain applies its policy
        ['jump sub\ndrop', Verdict.Drop],
        ['jump acc\ndrop', Verdict.Accept],
        ['goto acc\ndrop', Verdict.Accept],
        ['counter accept', Verdict.Accept],
        ['limit rate 1/second accept\ndrop', Verdict.Accept],
        ['log accept', Verdict.Accept],
        ['notrack drop', Verdict.Drop, (c) => c.notrack],
        ['meta mark set 0x5 drop', Verdict.Drop, (c) => c.metaMark === 5],
        ['ct mark set 0x6 drop', Verdict.Drop, (c) => c.ctMark === 6 && c.ctMarkSet],
        ['reject', Verdict.Drop, (c) => c.reject === (P === V4 ? RejectKind.Icmp : RejectKind.Icmpv6)],
        ['reject with tcp reset', Verdict.Drop, (c) => c.reject === RejectKind.TcpReset],
        ['reject with icmpx no-route', Verdict.Drop, (c) => c.reject === RejectKind.Icmpx && c.rejectCode === 0],
        ['tcp dport vmap { 22 : drop }', Verdict.Drop],
      ];
      for (const [rules, want, check] of cases) {
        const { v, ctx } = run(engine(rules, { extra, policy: 'accept', log: () => undefined }), P);
        assert.equal(v, want, rules);
        if (check) assert.ok(check(ctx), `side effect of: ${rules}`);
      }
    });
  }
});
