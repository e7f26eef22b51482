/**
 * `list|reset counters|quotas|limits` as nft 1.0.6 takes and prints them (the expected
 * outputs were printed by nft 1.0.6 in a throw-away namespace after `nft -f` of RULESET),
 * acting on the values packets moved.
 */
import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { ClassifyContext, Hook } from './context.js';
import { fillPacket } from './test-packets.js';
import { RulesetError } from './errors.js';

const RULESET = `table inet t {
  counter c1 { packets 5 bytes 500 }
  counter c2 { }
  quota q1 { over 300 bytes used 100 bytes }
  limit l1 { rate 2/second }
  chain f { type filter hook forward priority 0; counter packets 3 bytes 30 accept; }
}
table ip u {
  counter c3 { packets 1 bytes 1 }
}
`;

function load(): RulesetEngine {
  const e = new RulesetEngine();
  e.load(RULESET);
  return e;
}

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof RulesetError);
    return err.message;
  }
  assert.fail('not refused');
};

describe('list|reset counters|quotas|limits (named objects, nft 1.0.6)', () => {
  it('lists every table of the family with its objects of the kind, as nft prints them', () => {
    const e = load();
    assert.equal(e.objectCommand('list counters'), 'table inet t {\n\tcounter c1 {\n\t\tpackets 5 bytes 500\n\t}\n\tcounter c2 {\n\t\tpackets 0 bytes 0\n\t}\n}\ntable ip u {\n\tcounter c3 {\n\t\tpackets 1 bytes 1\n\t}\n}\n');
    assert.equal(e.objectCommand('list quotas'), 'table inet t {\n\tquota q1 {\n\t\tover 300 bytes used 100 bytes\n\t}\n}\ntable ip u {\n}\n');
    assert.equal(e.objectCommand('list limit inet t l1'), 'table inet t {\n\tlimit l1 {\n\t\trate 2/second\n\t}\n}\n');
    assert.equal(e.objectCommand('list counters inet'), e.objectCommand('list counters table inet t'));
    assert.equal(e.objectCommand('list counter inet t c1'), 'table inet t {\n\tcounter c1 {\n\t\tpackets 5 bytes 500\n\t}\n}\n');
  });

  it('reset prints what it found, then zeroes it; a table without such objects is left out', () => {
    const e = load();
    assert.equal(e.objectCommand('reset counter inet t c1'), 'table inet t {\n\tcounter c1 {\n\t\tpackets 5 bytes 500\n\t}\n}\n');
    assert.equal(e.objectCommand('list counter inet t c1'), 'table inet t {\n\tcounter c1 {\n\t\tpackets 0 bytes 0\n\t}\n}\n');
    assert.equal(e.objectCommand('reset quotas'), 'table inet t {\n\tquota q1 {\n\t\tover 300 bytes used 100 bytes\n\t}\n}\n');
    assert.equal(e.objectCommand('reset quota inet t q1'), 'table inet t {\n\tquota q1 {\n\t\tover 300 bytes\n\t}\n}\n');
    assert.equal(e.objectCommand('reset counters ip'), 'table ip u {\n\tcounter c3 {\n\t\tpackets 1 bytes 1\n\t}\n}\n');
    assert.match(e.list(), /counter c3 \{\n\t\tpackets 0 bytes 0\n/);
    // Not a ruleset change: the generation stays, and a rule's own counter is not a named object.
    assert.equal(e.generation, 1);
    assert.match(e.list(), /counter packets 3 bytes 30 accept/);
  });

  it('acts on the values packets moved (the live cells rules share)', () => {
    const e = new RulesetEngine();
    e.load('table ip t {\n counter hits { }\n quota q { over 1000 bytes }\n chain f { type filter hook forward priority 0; counter name "hits" quota name "q" accept; }\n}\n');
    const ctx = new ClassifyContext();
    for (let i = 0; i < 3; i++) {
      fillPacket(ctx.pkt, { src: '192.0.2.1', dst: '198.51.100.1', proto: 'udp', sport: 1, dport: 2, len: 100 });
      e.compiled.classify(ctx, Hook.Forward);
    }
    assert.match(e.objectCommand('reset counters'), /counter hits \{\n\t\tpackets 3 bytes 300\n/);
    assert.match(e.objectCommand('reset quotas'), /over 1000 bytes used 300 bytes/);
    assert.match(e.list(), /counter hits \{\n\t\tpackets 0 bytes 0\n\t\}\n\n\tquota q \{\n\t\tover 1000 bytes\n/);
    fillPacket(ctx.pkt, { src: '192.0.2.1', dst: '198.51.100.1', proto: 'udp', sport: 1, dport: 2, len: 100 });
    e.compiled.classify(ctx, Hook.Forward);
    assert.match(e.objectCommand('list counters'), /packets 1 bytes 100/);
  });

  it('refuses what nft 1.0.6 refuses, with the reason, and resets nothing then', () => {
    const e = load();
    assert.equal(refusal(() => e.objectCommand('reset counters\nreset counters table inet nope')), '<command>:2:1: no table inet nope (nft: No such file or directory)');
    assert.match(e.objectCommand('list counter inet t c1'), /packets 5 bytes 500/);
    // The family defaults to ip, as in nft.
    assert.match(refusal(() => e.objectCommand('list counters table t')), /no table ip t/);
    assert.match(refusal(() => e.objectCommand('reset counter inet t nope')), /no counter nope in table inet t/);
    assert.match(refusal(() => e.objectCommand('reset rules')), /nft 1\.0\.6 has no 'reset rules'/);
    assert.match(refusal(() => e.objectCommand('reset limits')), /no 'reset limits'/);
    assert.match(refusal(() => e.objectCommand('list counters table')), /^<command>:1:1: expected list counters \[FAMILY \| table \[FAMILY\] TABLE\]/);
  });
});
