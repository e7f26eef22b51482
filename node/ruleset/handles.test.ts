/**
 * Handles as nft 1.0.6 allocates them: tables from one counter for the whole ruleset,
 * everything inside a table (chains, named objects, sets, rules, and the anonymous set
 * nft makes for a rule's `{ ... }`) from that table's own counter, in the order nft
 * expands a table block (chains, objects, sets, rules). The expected listings were
 * recorded with `nft -a list ruleset` in a throw-away network namespace, so a script
 * written against nft's handles runs unchanged against hafw.
 */
import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { ClassifyContext, Hook, Verdict } from './context.js';
import { fillPacket } from './test-packets.js';

const LOAD = `table inet filter {
  set s { type ipv4_addr; elements = { 10.0.0.1 }; }
  chain forward { type filter hook forward priority 0; policy accept;
    tcp dport 22 accept
    tcp dport { 80, 443 } accept
    ip saddr @s drop
  }
  counter c1 { }
  chain other { counter;
  }
}
table ip nat {
  chain post { type nat hook postrouting priority 100; masquerade;
  }
}
`;

/** `nft -a list ruleset` after `nft -f LOAD` (nft 1.0.6, Debian bookworm). */
const NFT_AFTER_LOAD = `table inet filter { # handle 1
	counter c1 { # handle 3
		packets 0 bytes 0
	}

	set s { # handle 4
		type ipv4_addr
		elements = { 10.0.0.1 }
	}

	chain forward { # handle 1
		type filter hook forward priority filter; policy accept;
		tcp dport 22 accept # handle 5
		tcp dport { 80, 443 } accept # handle 7
		ip saddr @s drop # handle 8
	}

	chain other { # handle 2
		counter packets 0 bytes 0 # handle 9
	}
}
table ip nat { # handle 2
	chain post { # handle 1
		type nat hook postrouting priority srcnat; policy accept;
		masquerade # handle 2
	}
}
`;

/** The handle comments of a listing, line by line (what scripts read). */
const handles = (text: string): string[] => text.split('\n').filter((l) => l.includes('# handle')).map((l) => l.trim());

describe('handles as nft allocates them', () => {
  it("the issue's example: after one chain and two rules, `delete rule ... handle 2` deletes the first rule", () => {
    const e = new RulesetEngine();
    e.load('table inet filter {\n chain forward {\n type filter hook forward priority 0;\n tcp dport 22 drop\n tcp dport 23 drop\n }\n}\n');
    e.transaction('delete rule inet filter forward handle 2');
    assert.deepEqual(handles(e.list({ handles: true })), ['table inet filter { # handle 1', 'chain forward { # handle 1', 'tcp dport 23 drop # handle 3']);
  });

  it('a load numbers chains, then objects, then sets, then rules, per table; an anonymous set takes one too', () => {
    const e = new RulesetEngine();
    e.load(LOAD);
    assert.equal(e.list({ handles: true }), NFT_AFTER_LOAD);
  });

  it('later transactions go on counting; deleted handles are not reused; flush table keeps the count; a new table starts at 1', () => {
    const e = new RulesetEngine();
    e.load(LOAD);
    e.transaction('delete rule inet filter forward handle 5');
    e.transaction('add rule inet filter forward udp dport 53 accept');
    e.transaction('add chain inet filter x');
    // As nft listed it after the same three commands.
    assert.deepEqual(handles(e.list({ handles: true })).slice(0, 9), [
      'table inet filter { # handle 1', 'counter c1 { # handle 3', 'set s { # handle 4', 'chain forward { # handle 1',
      'tcp dport { 80, 443 } accept # handle 7', 'ip saddr @s drop # handle 8', 'udp dport 53 accept # handle 10',
      'chain other { # handle 2', 'counter packets 0 bytes 0 # handle 9',
    ]);
    assert.match(e.list({ handles: true }), /chain x \{ # handle 11\n/);
    e.transaction('flush table inet filter');
    e.transaction('add rule inet filter forward accept');
    assert.match(e.list({ handles: true }), /chain forward \{ # handle 1\n.*\n\t\taccept # handle 12\n/);
    // flush ruleset: table handles go on (3), each new table's own counter starts again.
    e.transaction(`flush ruleset\n${LOAD}`);
    assert.deepEqual(handles(e.list({ handles: true })).slice(0, 5), [
      'table inet filter { # handle 3', 'counter c1 { # handle 3', 'set s { # handle 4', 'chain forward { # handle 1', 'tcp dport 22 accept # handle 5',
    ]);
  });

  it('add/insert position, replace and delete take the handles nft listed', () => {
    const e = new RulesetEngine();
    e.load(LOAD);
    e.transaction('insert rule inet filter forward position 7 tcp dport 8080 accept');
    e.transaction('add rule inet filter forward position 5 tcp dport 25 accept');
    // replace keeps the rule's handle; the new rule's anonymous set still takes one (12).
    e.transaction('replace rule inet filter forward handle 8 ip saddr { 10.0.0.2, 10.0.0.3 } drop');
    e.transaction('add rule inet filter forward tcp dport 9 accept');
    assert.deepEqual(handles(e.list({ handles: true })).slice(3, 10), [
      'chain forward { # handle 1', 'tcp dport 22 accept # handle 5', 'tcp dport 25 accept # handle 11',
      'tcp dport 8080 accept # handle 10', 'tcp dport { 80, 443 } accept # handle 7',
      'ip saddr { 10.0.0.2, 10.0.0.3 } drop # handle 8', 'tcp dport 9 accept # handle 13',
    ]);
  });

  it('one-element sets take no handle (nft compares directly); maps, concatenations and larger sets take one each', () => {
    const e = new RulesetEngine();
    e.load(`table inet t {
  chain c {
    tcp dport { 22 } accept
    ct state { established, related } accept
    tcp dport vmap { 22 : accept }
    ip saddr . tcp dport { 10.0.0.1 . 22 } accept
    ip saddr { 10.0.0.0/8 } tcp dport { 1-5 } accept
    meta mark set ip saddr map { 10.0.0.1 : 1, 10.0.0.2 : 2 }
  }
}`);
    // nft 1.0.6: 2, 4, 6, 8, 9, 11.
    assert.deepEqual(handles(e.list({ handles: true })).slice(2).map((l) => Number(l.split('# handle ')[1])), [2, 4, 6, 8, 9, 11]);
  });

  it('tables count apart: the same handle in two tables names two rules, each with its own counters', () => {
    const e = new RulesetEngine();
    e.load(`table ip a { chain f { type filter hook forward priority 0; counter accept; } }
table ip b { chain f { type filter hook forward priority 10; counter; tcp dport 22 drop; } }`);
    const ctx = new ClassifyContext();
    fillPacket(ctx.pkt, { src: '192.0.2.1', dst: '198.51.100.1', proto: 'tcp', sport: 1, dport: 22 });
    assert.equal(e.compiled.classify(ctx, Hook.Forward), Verdict.Drop);
    assert.equal(e.compiled.counters('ip', 'a', 2)?.[0]?.packets, 1);
    assert.equal(e.compiled.counters('ip', 'b', 2)?.[0]?.packets, 1);
    assert.match(e.list({ handles: true }), /table ip a \{ # handle 1\n\tchain f \{ # handle 1\n.*\n\t\tcounter packets 1 bytes \d+ accept # handle 2\n/);
    assert.match(e.list({ handles: true }), /table ip b \{ # handle 2\n\tchain f \{ # handle 1\n.*\n\t\tcounter packets 1 bytes \d+ # handle 2\n\t\ttcp dport 22 drop # handle 3\n/);
    e.transaction('delete rule ip b f handle 2');
    assert.match(e.list(), /table ip a \{\n.*\n.*\n\t\tcounter packets 1 bytes/);
  });

  it('is deterministic: the same load and transactions give the same handles on another engine (a cluster peer)', () => {
    const ops = ['delete rule inet filter forward handle 7', 'add rule inet filter other tcp dport { 1, 2 } drop', 'delete table ip nat', 'add table ip nat', 'add chain ip nat c'];
    const [a, b] = [new RulesetEngine(), new RulesetEngine()];
    for (const e of [a, b]) {
      e.load(LOAD);
      for (const op of ops) e.transaction(op);
    }
    assert.equal(a.list({ handles: true }), b.list({ handles: true }));
    assert.match(a.list({ handles: true }), /table ip nat \{ # handle 3\n\tchain c \{ # handle 1\n/);
  });
});
