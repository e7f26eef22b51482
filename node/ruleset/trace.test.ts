import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { compileTraceFilter, TraceFilterError } from './trace.js';

describe('meta nftrace and trace filters (hafw trace)', () => {
  it('meta nftrace set 1 is accepted, listed as written, and matchable', () => {
    const e = new RulesetEngine();
    e.load('table inet f { chain pre { type filter hook prerouting priority -301; policy accept; tcp dport 22 meta nftrace set 1; meta nftrace 1 counter } }');
    const text = e.list();
    assert.match(text, /tcp dport 22 meta nftrace set 1\n/);
    assert.match(text, /meta nftrace 1 counter/);
    // And it reloads from its own listing.
    new RulesetEngine().load(text);
  });

  it('meta nftrace takes 0 or 1 only, with the place of the fault', () => {
    assert.throws(() => new RulesetEngine().load('table ip f {\n chain c { meta nftrace set 2 }\n}', 'r.nft'), /r\.nft:2:/);
  });

  it('a filter compiles from rule matches; a fault names its column', () => {
    compileTraceFilter('ip saddr 192.0.2.1 tcp dport 22');
    compileTraceFilter('iifname "lan" ct state new');
    const col = (f: string): [number, string] => {
      try {
        compileTraceFilter(f);
      } catch (e) {
        assert.ok(e instanceof TraceFilterError);
        return [e.col, e.message];
      }
      return assert.fail(`'${f}' compiled`);
    };
    assert.deepEqual(col('ip saddr 300.1.1.1')[0], 10);
    assert.match(col('ip saddr 300.1.1.1')[1], /not a valid IPv4 address/);
    assert.match(col('tcp dport 22 counter')[1], /matches only/);
    assert.match(col('tcp dport 22 accept')[1], /matches only/);
    assert.match(col('')[1], /empty/);
    // A filter cannot reach outside its one rule.
    assert.deepEqual(col('tcp dport 22 } table ip x {')[0], 14);
    assert.deepEqual(col('tcp dport 22; drop')[0], 13);
  });
});
