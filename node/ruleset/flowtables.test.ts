import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { formatChange } from './monitor.js';
import { builtinRegistry } from './modules/index.js';
import { refusal } from './test-refusal.js';

/**
 * nft 1.0.6's listing of a flowtable and the rules that use it (src/rule.c
 * flowtable_print_declaration: `hook ingress priority filter`, netdev's named priority,
 * then `devices = { ... }`; flowtables after sets, before chains; `flow offload @f` lists
 * as `flow add @f`). The kernel on this build host has no nf_flow_table, so the listing
 * could not be taken from a namespace: it is nft's format as its source prints it.
 */
const LISTING = `table inet filter {
	flowtable f {
		hook ingress priority filter
		devices = { lan, wan }
	}

	chain forward {
		type filter hook forward priority filter; policy accept;
		ip protocol tcp flow add @f
		ip6 nexthdr udp flow add @f
		ct state established,related accept
	}
}
table ip6 t6 {
	flowtable g {
		hook ingress priority filter + 5
		devices = { lan }
	}
}
`;

/** nft -j list ruleset (src/json.c flowtable_print_json: one device as a string, several as an array). */
const JSON_OBJECTS = [
  { flowtable: { family: 'inet', name: 'f', table: 'filter', handle: 2, hook: 'ingress', prio: 0, dev: ['lan', 'wan'] } },
  { flowtable: { family: 'ip6', name: 'g', table: 't6', handle: 1, hook: 'ingress', prio: 5, dev: 'lan' } },
];

function load(text: string): RulesetEngine {
  const e = new RulesetEngine();
  e.load(text, 'x.nft');
  return e;
}

describe('flowtables: the language', () => {
  it('the text as written (one line, numeric priority, flow offload) lists as nft lists it', () => {
    const e = load(`table inet filter {
  flowtable f { hook ingress priority 0; devices = { lan, wan }; }
  chain forward { type filter hook forward priority 0; policy accept;
    ip protocol tcp flow offload @f
    ip6 nexthdr udp flow add @f
    ct state established,related accept
  }
}
table ip6 t6 { flowtable g { hook ingress priority filter + 5; devices = { "lan" }; } }
`);
    assert.equal(e.list(), LISTING);
    assert.equal(load(LISTING).list(), LISTING, 'the listing loads back unchanged');
  });

  it('JSON as nft -j writes it: flowtable objects and {"flow": {"op": "add", "flowtable": "@f"}}; loads back to the same listing', () => {
    const e = load(LISTING);
    const json = e.toJSON();
    assert.deepEqual(json.nftables.filter((x) => 'flowtable' in x), JSON_OBJECTS);
    const rule = json.nftables.find((x) => 'rule' in x) as { rule: { expr: unknown[] } };
    assert.deepEqual(rule.rule.expr[1], { flow: { op: 'add', flowtable: '@f' } });
    const again = new RulesetEngine();
    again.load(JSON.stringify(json));
    assert.equal(again.list(), LISTING);
    // The same objects; handles aside: a JSON load numbers them in its own order (flowtables
    // are listed before chains), as nft -j -f does, while a table block is expanded chains first.
    const noHandles = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'handle' ? undefined : x)));
    assert.deepEqual(noHandles(again.toJSON()), noHandles(json));
  });

  it('handles: the flowtable takes one of the table\'s handles; nft -a lists it', () => {
    const e = load(LISTING);
    assert.match(e.list({ handles: true }), /\tflowtable f \{ # handle 2\n\t\thook ingress priority filter\n/);
    // nft expands a table block as chains, objects, sets, flowtables, then rules (per-table handles).
    const h = load('table ip t {\n  flowtable ft { hook ingress priority filter; devices = { lan }; }\n  set s { type ipv4_addr; }\n  counter c { }\n  chain fw { type filter hook forward priority filter; policy accept; meta l4proto tcp flow add @ft; }\n}\n').list({ handles: true });
    assert.deepEqual([...h.matchAll(/(\w+ \w+) \{ # handle (\d+)|(flow add @ft) # handle (\d+)/g)].map((m) => `${m[1] ?? m[3]} ${m[2] ?? m[4]}`), ['ip t 1', 'counter c 2', 'set s 3', 'flowtable ft 4', 'chain fw 1', 'flow add @ft 5']);
  });

  it('add / delete flowtable commands; delete is refused while a rule uses it (nft: EBUSY); monitor lines', () => {
    const e = load('table ip t {\n  chain fw {\n    type filter hook forward priority filter; policy accept;\n  }\n}\n');
    const r = e.transaction('add flowtable ip t ft { hook ingress priority filter; devices = { lan, wan }; }\nadd rule ip t fw meta l4proto tcp flow add @ft');
    assert.deepEqual(r.changes.map((c) => formatChange(c, builtinRegistry())), [
      'add flowtable ip t ft { hook ingress priority filter; devices = { lan, wan }; }',
      'add rule ip t fw meta l4proto tcp flow add @ft # handle 3',
    ]);
    assert.match(refusal(() => e.transaction('delete flowtable ip t ft')), /flowtable 'ft' is still used by 1 rule\(s\)/);
    e.transaction('delete rule ip t fw handle 3\ndelete flowtable ip t ft');
    assert.doesNotMatch(e.list(), /flowtable/);
  });

  it('add flowtable on an existing one adds its new devices (as the kernel updates a flowtable); a new priority is refused', () => {
    const e = load('table ip t {\n  flowtable ft {\n    hook ingress priority filter; devices = { lan };\n  }\n}\n');
    e.transaction('add flowtable ip t ft { hook ingress priority filter; devices = { lan, wan }; }');
    assert.match(e.list(), /\t\tdevices = \{ lan, wan \}\n/);
    assert.match(refusal(() => e.transaction('add flowtable ip t ft { hook ingress priority 10; devices = { dmz }; }')), /its priority cannot change/);
    assert.match(refusal(() => e.transaction('create flowtable ip t ft { hook ingress priority filter; }')), /flowtable 'ft' already exists/);
  });

  it('refuses what hafw cannot honour, with the place and the reason', () => {
    assert.match(
      refusal(() => load('table ip t {\n  flowtable f {\n    hook ingress priority 0; devices = { lan }; flags offload;\n  }\n}\n')),
      /^x\.nft:3:55: flowtable 'flags offload' \(hardware offload to the NIC\) is not supported: .*TUN/,
    );
    assert.match(refusal(() => load('table ip t {\n  flowtable f {\n    hook ingress priority 0; devices = { lan }; counter;\n  }\n}\n')), /^x\.nft:3:49: flowtable 'counter' .* is not supported/);
    assert.equal(
      refusal(() => load('table ip t {\n  flowtable f { hook ingress priority 0; }\n  chain c {\n    type filter hook input priority 0;\n    flow add @f\n  }\n}\n')),
      "x.nft:5:5: flow add is only valid in a forward chain (the kernel's rule), not in chain 'c' (hook input)",
    );
    assert.equal(
      refusal(() => load('table ip t {\n  chain c {\n    type filter hook forward priority 0;\n    flow add @nope\n  }\n}\n')),
      "x.nft:4:5: unknown flowtable 'nope' (declare it in the table: flowtable nope { hook ingress priority filter; devices = { ... }; })",
    );
    assert.match(refusal(() => load('table ip t {\n  flowtable f { hook egress priority 0; }\n}\n')), /^x\.nft:2:22: a flowtable's hook is 'ingress'/);
    assert.match(refusal(() => load('table ip t {\n  flowtable f { hook ingress priority 0; devices = { "eth*" }; }\n}\n')), /not wildcards/);
    assert.match(refusal(() => load('table ip t {\n  flowtable f { hook ingress priority raw; }\n}\n')), /'raw' is not a flowtable priority/);
    assert.match(
      refusal(() => new RulesetEngine().load({ nftables: [{ table: { family: 'ip', name: 't' } }, { flowtable: { family: 'ip', table: 't', name: 'f', hook: 'ingress', prio: 0, dev: 'lan', flags: ['offload'] } }] })),
      /flowtable 'f': flowtable 'flags offload'/,
    );
    assert.match(
      refusal(() => new RulesetEngine().load({ nftables: [{ table: { family: 'ip', name: 't' } }, { chain: { family: 'ip', table: 't', name: 'c' } }, { rule: { family: 'ip', table: 't', chain: 'c', expr: [{ flow: { op: 'add', flowtable: 'f' } }] } }] })),
      /flow "flowtable" must be "@NAME"/,
    );
  });

  it('beside a ct helper object in one table: both list in nft\'s order (objects, flowtables, chains), load back from text and JSON, and have monitor lines', () => {
    const text = `table inet filter {
	ct helper ftp-std {
		type "ftp" protocol tcp
		l3proto inet
	}

	flowtable f {
		hook ingress priority filter
		devices = { lan, wan }
	}

	chain forward {
		type filter hook forward priority filter; policy accept;
		tcp dport 21 ct helper set "ftp-std"
		meta l4proto tcp flow add @f
	}
}
`;
    const e = load(text);
    assert.equal(e.list(), text);
    const again = new RulesetEngine();
    again.load(JSON.stringify(e.toJSON()));
    assert.equal(again.list(), text);
    const t = load('table ip t {\n}\n');
    const r = t.transaction('add ct helper ip t h { type "ftp" protocol tcp; }\nadd flowtable ip t ft { hook ingress priority filter; devices = { lan }; }');
    assert.deepEqual(r.changes.map((c) => formatChange(c, builtinRegistry())), [
      'add ct helper ip t h { type "ftp" protocol tcp; l3proto ip; }',
      'add flowtable ip t ft { hook ingress priority filter; devices = { lan }; }',
    ]);
  });
});
