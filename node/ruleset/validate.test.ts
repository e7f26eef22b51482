import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { RulesetError } from './errors.js';
import { checkRuleset } from './check.js';
import { MAX_JUMP_DEPTH } from './validate.js';

function errors(text: string): { line: number; col: number; message: string }[] {
  const r = checkRuleset(text, 'v.nft');
  assert.equal(r.ok, false, 'expected errors');
  return r.errors;
}

describe('validation', () => {
  it('reports an unknown jump target at the jump', () => {
    const [e] = errors('table ip t {\n  chain a {\n    tcp dport 22 jump nowhere\n  }\n}');
    assert.deepEqual([e.line, e.col], [3, 18]);
    assert.match(e.message, /unknown chain 'nowhere'/);
  });

  it('reports positions exactly on very long lines and far down very long files', () => {
    // Positions are packed into one number per node; these take its wide form.
    const els = Array.from({ length: 400 }, (_, i) => `198.51.100.${i % 250}`).join(', ');
    const line = `  set s { type ipv4_addr; elements = { ${els}, 192.0.2.0/24 } }`;
    const [e] = errors(`table ip t {\n${line}\n}`);
    assert.deepEqual([e.line, e.col], [2, line.indexOf('192.0.2.0/24') + 1]);
    assert.ok(e.col > 4096);
    assert.match(e.message, /needs 'flags interval'/);
    const far = errors(`table ip t {\n${'\n'.repeat(300_000)}  chain a {\n    jump nowhere\n  }\n}`);
    assert.deepEqual([far[0].line, far[0].col], [300_003, 5]);
  });

  it('refuses an element timeout in a set that does not take timeouts (as the kernel does)', () => {
    const [e] = errors('table ip t {\n  set s { type ipv4_addr; elements = { 192.0.2.1, 192.0.2.2 timeout 10s } }\n}');
    assert.deepEqual([e.line, e.col], [2, 51]);
    assert.match(e.message, /set 's' needs 'flags timeout' \(or a set timeout\) for element timeouts/);
    for (const decl of ['flags timeout;', 'timeout 1h;']) {
      assert.equal(checkRuleset(`table ip t { set s { type ipv4_addr; ${decl} elements = { 192.0.2.2 timeout 10s } } }`).ok, true, decl);
    }
  });

  it('reports an unknown set and a set of the wrong type', () => {
    assert.match(errors('table ip t { chain a { ip saddr @nope drop } }')[0].message, /unknown set 'nope'/);
    const [e] = errors('table ip t { set p { type inet_service; }\n chain a { ip saddr @p drop } }');
    assert.deepEqual([e.line, e.col], [2, 12]);
    assert.match(e.message, /holds inet_service, the selector gives ipv4_addr/);
  });

  it('reports a match used in a family it does not apply to', () => {
    assert.match(errors('table ip6 t { chain a { ip saddr 10.0.0.1 drop } }')[0].message, /ip saddr cannot be used in a table of family ip6/);
    assert.match(errors('table ip t { chain a { icmpv6 type echo-request drop } }')[0].message, /family ip/);
    assert.match(errors('table ip t { chain a { reject with icmpv6 port-unreachable } }')[0].message, /not possible in an ip table/);
  });

  it('reports statements after a verdict and ranges in a set without flags interval', () => {
    assert.match(errors('table ip t { chain a { accept counter } }')[0].message, /after 'accept' never runs/);
    const [e] = errors('table ip t {\n set s { type ipv4_addr; elements = { 10.0.0.0/8 } }\n}');
    assert.equal(e.line, 2);
    assert.match(e.message, /needs 'flags interval'/);
  });

  it('reports all errors of a file, not only the first', () => {
    const es = errors('table ip t {\n chain a { jump x }\n chain b { jump y }\n}');
    assert.deepEqual(es.map((e) => e.line), [2, 3]);
  });

  it('reports overlapping intervals in a set', () => {
    assert.match(errors('table ip t { set s { type inet_service; flags interval; elements = { 10-20, 15-30 } } }')[0].message, /conflicting intervals/);
  });

  it('finds a direct loop', () => {
    const [e] = errors('table ip t {\n chain a {\n  jump a\n }\n}');
    assert.match(e.message, /loop detected: a -> a/);
    assert.deepEqual([e.line, e.col], [3, 3]);
  });

  it('finds an indirect loop through goto', () => {
    const [e] = errors('table inet t {\n chain a { jump b }\n chain b { goto c }\n chain c { tcp dport 1 jump a }\n}');
    assert.match(e.message, /loop detected: a -> b -> c -> a/);
    assert.equal(e.line, 4);
  });

  it('finds loops through anonymous and named verdict maps', () => {
    assert.match(errors('table ip t { chain a { tcp dport vmap { 1 : jump b } }\n chain b { jump a } }')[0].message, /loop detected/);
    assert.match(
      errors('table ip t { map m { type inet_service : verdict; elements = { 1 : goto b } }\n chain a { tcp dport vmap @m }\n chain b { jump a } }')[0].message,
      /loop detected: a -> b -> a|loop detected: b -> a -> b/,
    );
  });

  it('refuses a jump to a base chain', () => {
    assert.match(errors('table ip t { chain b { type filter hook forward priority 0; }\n chain a { jump b } }')[0].message, /cannot jump or goto base chain 'b'/);
  });

  it('accepts named priorities with an offset', () => {
    const e = new RulesetEngine();
    e.load('table ip t { chain a { type filter hook forward priority filter + 10; }\n chain b { type filter hook prerouting priority raw - 5; } }');
    assert.match(e.list(), /hook forward priority filter \+ 10;/);
    assert.match(e.list(), /hook prerouting priority raw - 5;/);
  });

  it('accepts a diamond (shared target) which is not a loop', () => {
    const r = checkRuleset('table ip t { chain a { jump b\n jump c }\n chain b { jump d }\n chain c { jump d }\n chain d { accept } }');
    assert.equal(r.ok, true, JSON.stringify(r.errors));
  });

  it(`enforces the jump depth limit of ${MAX_JUMP_DEPTH} from base chains; goto does not count`, () => {
    const chainText = (n: number, verb: string): string => {
      let s = 'table ip t {\n chain base { type filter hook forward priority 0; policy accept; jump c1 }\n';
      for (let i = 1; i < n; i++) s += ` chain c${i} { ${verb} c${i + 1} }\n`;
      return s + ` chain c${n} { accept }\n}`;
    };
    assert.equal(checkRuleset(chainText(MAX_JUMP_DEPTH, 'jump')).ok, true);
    const [e] = errors(chainText(MAX_JUMP_DEPTH + 1, 'jump'));
    assert.match(e.message, /jump depth 17 .* exceeds the limit of 16/);
    assert.equal(e.line, 2);
    assert.equal(checkRuleset(chainText(40, 'goto')).ok, true);
  });

  it('checks 1,000 chains of 10 rules (10,000 rules) in one linear pass', () => {
    let s = 'table inet t {\n chain base {\n  type filter hook forward priority 0; policy drop;\n';
    for (let i = 0; i < 1000; i++) s += `  ip saddr 10.${i >> 8}.${i & 255}.0/24 jump c${i}\n`;
    s += ' }\n';
    for (let i = 0; i < 1000; i++) {
      s += ` chain c${i} {\n`;
      for (let k = 0; k < 10; k++) s += `  tcp dport ${1000 + k} ip daddr 192.0.2.${k} counter accept\n`;
      s += ' }\n';
    }
    s += '}\n';
    const r = checkRuleset(s, 'big.nft');
    assert.equal(r.ok, true, JSON.stringify(r.errors.slice(0, 3)));
    assert.deepEqual([r.tables, r.chains, r.rules, r.sets], [1, 1001, 11000, 0]);
  });

  it('refuses to delete a chain or set that is still referenced, and changes nothing', () => {
    const e = new RulesetEngine();
    e.load('table ip t { set s { type ipv4_addr; }\n chain a { jump b\n ip saddr @s drop }\n chain b { accept } }');
    const before = e.list();
    assert.throws(() => e.transaction('delete chain ip t b'), (x: unknown) => x instanceof RulesetError && /still the target/.test(x.message));
    assert.throws(() => e.transaction('delete set ip t s'), /still used by 1 rule/);
    assert.equal(e.list(), before);
    assert.equal(e.generation, 1);
    e.transaction('add map ip t m { type inet_service : verdict; elements = { 1 : goto b } }');
    assert.throws(() => e.transaction('flush chain ip t a\ndelete chain ip t b'), /still a target in verdict map 'm'/);
    assert.match(e.list(), /jump b/);
    assert.equal(e.generation, 2);
  });
});
