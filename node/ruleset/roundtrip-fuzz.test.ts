import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { builtinRegistry } from './modules/index.js';
import { convertRuleset } from './check.js';
import type { DataType } from './data-types.js';
import type { MatchModule } from './registry.js';
import { Printer } from './printer.js';

/** Sample values in text form for a type: exact, and (when the type allows) range / prefix / set. */
function samples(t: DataType): string[] {
  switch (t.name) {
    case 'ipv4_addr':
      return ['192.0.2.1', '192.0.2.0/24', '192.0.2.1-192.0.2.9', '{ 192.0.2.1, 198.51.100.0/24 }'];
    case 'ipv6_addr':
      return ['2001:db8::1', '2001:db8::/32', '2001:db8::1-2001:db8::9', '{ 2001:db8::1, 2001:db8:1::/48 }'];
    case 'ifname':
      return ['"lan"', '{ "lan", "wan" }'];
    case 'boolean':
      return ['exists', 'missing', '!= exists'];
    case 'fib_addrtype': // names only, and only those hafw tells apart
      return ['local', '!= local', '{ local, multicast }', 'multicast'];
    case 'fib_oif': // names (no indexes), 0, exists, missing
      return ['"lan"', '0', '!= 0', 'exists', 'missing', '{ "lan", "wan" }'];
    case 'hour':
      return ['"08:00"', '"08:00"-"17:30:05"', '!= "23:59"', '{ "01:00", "02:00"-"03:00" }', '< "06:30"', '"22:00"-"06:00"'];
    case 'day':
      return ['"Monday"', '{ "Saturday", "Sunday" }', '!= 3', '"Monday"-"Friday"'];
    case 'nftrace': // one bit
      return ['1', '0', '!= 1', '{ 0, 1 }'];
    case 'ct_helper': // the helpers hafw has
      return ['"ftp"', '!= "ftp"', '{ "ftp" }'];
    case 'date':
      return ['"2026-01-01"', '"2026-01-01 00:00:00"-"2026-12-31 23:59:59"', '< "2030-01-01 12:00"'];
  }
  const syms = t.symbols ? [...t.symbols.keys()] : [];
  if (t.bitmask) {
    return [syms[0], `${syms[0]},${syms[1]}`, `== ${syms[1]}`, `{ ${syms[0]}, ${syms[1]} }`,
      `& (${syms[0]}|${syms[1]}) == ${syms[1]}`, `& (${syms[0]}|${syms[1]}) != ${syms[0]}|${syms[1]}`];
  }
  if (t.bits === 1) return ['1', '!= 0', '{ 0, 1 }', '& 1 == 1', '0-1', '< 1'];
  const out = ['1', '!= 2', '{ 1, 3 }', '& 3 == 1', '& 3 != 2'];
  if (syms.length) out.push(syms[syms.length - 1]);
  if (t.ordered) out.push(...(t.bits < 5 ? ['1-3', '< 2'] : ['10-20', '< 5']));
  return out;
}

const STATEMENTS = [
  'accept', 'drop', 'counter', 'counter accept', 'log prefix "x: " level warn', 'limit rate 5/minute',
  'limit rate over 1/second burst 3 packets drop', 'meta mark set 0x1', 'ct mark set 0x2', 'notrack',
  'reject', 'reject with icmpx admin-prohibited', 'jump sub', 'goto sub', 'return', 'continue', '',
  'ip dscp set cs1', 'ip6 dscp set 46', 'tcp option maxseg size set 1400', 'log flags tcp sequence,options,ip options', 'log level audit',
  'quota over 10 mbytes drop', 'quota 3 kbytes used 100 bytes', 'meta nftrace set 1',
];

/** A selector's text: its keywords, or with its parameters (numgen, jhash, symhash) as their module prints its example. */
function selText(m: MatchModule): string {
  const text = m.printSel ? m.printSel(m.left, new Printer(builtinRegistry())) : m.keywords.join(' ');
  // nft needs the transport protocol before a conntrack port (ct original proto-dst ...).
  const ct = (m.left as { ct?: { key?: string } }).ct;
  return ct?.key === 'proto-src' || ct?.key === 'proto-dst' ? `meta l4proto tcp ${text}` : text;
}

describe('registry-driven round trip (bounded)', () => {
  it('every match module with every kind of value prints what it parses, in text and JSON', () => {
    const reg = builtinRegistry();
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const check = (rules: string[]): void => {
      const text = `table inet t {\n chain c {\n  type filter hook forward priority 0; policy accept;\n  ${rules.join('\n  ')}\n }\n chain sub { return }\n}\n`;
      const a = new RulesetEngine();
      a.load(text, 'fuzz.nft');
      const printed = a.list();
      const b = new RulesetEngine();
      b.load(printed, 'printed.nft');
      assert.deepEqual(b.toJSON(), a.toJSON());
      assert.equal(convertRuleset(convertRuleset(text, 'json'), 'nft'), printed);
      assert.equal(a.counts().rules, rules.length + 1);
    };
    // every (module, sample) pair once, in batches (a ruleset's JSON stays under ruleset.maxBytes)...
    // (modules nft knows and hafw refuses with a reason, such as ct label, load nothing)
    // (and those the kernel allows only before forward, such as fib daddr oif: fib.test.ts has them)
    const usable = reg.matches.filter((m) => m.refused === undefined && (m.hooks === undefined || m.hooks.includes('forward')));
    for (let i = 0; i < usable.length; i += 100) {
      const rules: string[] = [];
      for (const m of usable.slice(i, i + 100)) {
        for (const v of samples(m.type)) rules.push(`${selText(m)} ${v} ${STATEMENTS[rnd(STATEMENTS.length)]}`.trim());
      }
      check(rules);
    }
    // ...then random combinations (bounded)
    const rules: string[] = [];
    const inet = usable.filter((m) => m.families.includes('inet'));
    for (let i = 0; i < 200; i++) {
      const parts: string[] = [];
      const n = 1 + rnd(3);
      for (let k = 0; k < n; k++) {
        const m = inet[rnd(inet.length)];
        const s = samples(m.type);
        parts.push(`${selText(m)} ${s[rnd(s.length)]}`);
      }
      parts.push(STATEMENTS[rnd(STATEMENTS.length)]);
      rules.push(parts.join(' ').trim());
    }
    check(rules);
  });
});
