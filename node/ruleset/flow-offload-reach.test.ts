/**
 * `flow add` only in the forward hook's reach: the kernel validates a rule in a regular
 * chain against every base chain that reaches it (nft_flow_offload_validate: forward only),
 * so a flow add jumped to from input, output, prerouting or postrouting is refused, not
 * accepted and never run.
 */
import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';

const table = (base: string, extra = '') => `table inet t {
 flowtable f {
  hook ingress priority filter; devices = { lan, wan };
 }
 chain sub {
  meta l4proto tcp flow add @f
 }
${base}${extra}}
`;

function loadError(text: string, e = new RulesetEngine()): string {
  try {
    e.load(text, 'x.nft');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

describe('flow add only where the forward hook reaches it', () => {
  it('refuses a flow add in a chain jumped to from an input chain, at the statement, with the reason', () => {
    assert.equal(
      loadError(table(' chain in {\n  type filter hook input priority 0;\n  jump sub\n }\n')),
      "x.nft:6:20: flow add in chain 'sub' is reached from base chain 'in' (hook input): flow offload works in the forward hook only (the kernel refuses it there: Operation not supported); jump to 'sub' from forward chains only",
    );
  });

  it('goto, verdict maps and longer paths count; output, prerouting and postrouting are refused too', () => {
    assert.match(loadError(table(' chain out {\n  type filter hook output priority 0;\n  goto mid\n }\n chain mid {\n  jump sub\n }\n')), /^x\.nft:6:20: flow add in chain 'sub' is reached from base chain 'out' \(hook output\)/);
    assert.match(loadError(table(' chain pre {\n  type filter hook prerouting priority 0;\n  tcp dport vmap { 22 : jump sub }\n }\n')), /reached from base chain 'pre' \(hook prerouting\)/);
    assert.match(loadError(table(' chain post {\n  type filter hook postrouting priority 0;\n  jump sub\n }\n')), /hook postrouting/);
  });

  it('accepts it from forward chains, and in a chain no base chain reaches (as the kernel)', () => {
    assert.equal(loadError(table(' chain fw {\n  type filter hook forward priority 0;\n  jump sub\n }\n')), 'accepted');
    assert.equal(loadError(table('')), 'accepted');
    assert.equal(loadError(table(' chain in {\n  type filter hook input priority 0;\n  accept\n }\n')), 'accepted');
  });

  it('a transaction that makes the chain reachable from input, or adds the flow add to a chain input reaches, is refused and changes nothing', () => {
    const e = new RulesetEngine();
    e.load(table(' chain in {\n  type filter hook input priority 0;\n }\n chain other {\n }\n'), 'x.nft');
    const before = e.list();
    assert.match(loadError('add rule inet t in jump sub', { load: (t: string) => e.transaction(t) } as unknown as RulesetEngine), /flow add in chain 'sub' is reached from base chain 'in'/);
    e.transaction('add rule inet t in jump other');
    const mid = e.list();
    assert.match(loadError('add rule inet t other meta l4proto udp flow add @f', { load: (t: string) => e.transaction(t) } as unknown as RulesetEngine), /flow add in chain 'other' is reached from base chain 'in'/);
    assert.equal(e.list(), mid);
    assert.notEqual(before, mid);
  });

  it('JSON alike', () => {
    const json = {
      nftables: [
        { table: { family: 'inet', name: 't' } },
        { flowtable: { family: 'inet', table: 't', name: 'f', hook: 'ingress', prio: 0, dev: ['lan', 'wan'] } },
        { chain: { family: 'inet', table: 't', name: 'sub' } },
        { chain: { family: 'inet', table: 't', name: 'in', type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
        { rule: { family: 'inet', table: 't', chain: 'sub', expr: [{ flow: { op: 'add', flowtable: '@f' } }] } },
        { rule: { family: 'inet', table: 't', chain: 'in', expr: [{ jump: { target: 'sub' } }] } },
      ],
    };
    assert.match(loadError(JSON.stringify(json)), /flow add in chain 'sub' is reached from base chain 'in' \(hook input\)/);
  });
});
