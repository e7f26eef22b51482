import assert from 'node:assert/strict';
import { RulesetEngine } from '../engine.js';

function textError(rule: string): string {
  try {
    new RulesetEngine().load(`table inet t { chain c { type filter hook output priority 0;\n${rule}\n} }`, 'x.nft');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

function jsonError(expr: unknown[]): string {
  try {
    new RulesetEngine().load({
      nftables: [
        { table: { family: 'inet', name: 't' } },
        { chain: { family: 'inet', table: 't', name: 'c', type: 'filter', hook: 'output', prio: 0 } },
        { rule: { family: 'inet', table: 't', chain: 'c', expr } },
      ],
    } as never);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

describe('log group and meta skuid/skgid: refused with the reason, never ignored', () => {
  it('log group / snaplen / queue-threshold: no nflog behind a user-space datapath', () => {
    assert.match(textError('log group 2 drop'), /^x\.nft:2:5: 'log group' sends packets to an nflog group .*no nflog to send to\. Use 'log prefix/);
    assert.match(textError('log prefix "in: " group 2 snaplen 64'), /^x\.nft:2:19: 'log group'/);
    assert.match(textError('log queue-threshold 5'), /^x\.nft:2:5: 'log queue-threshold' sends packets to an nflog group/);
    assert.match(jsonError([{ log: { group: 2 } }, { drop: null }]), /'log group' sends packets to an nflog group/);
    assert.equal(textError('log prefix "in: " level info drop'), 'accepted', 'level and prefix load as before');
  });

  it('meta skuid / skgid: no socket on a packet read from the TUN device', () => {
    assert.match(textError('meta skuid 1000 accept'), /^x\.nft:2:1: 'meta skuid' matches the user owning the sending socket; .*TUN device.*node's own nftables/);
    assert.match(textError('meta skgid { 0, 100 } accept'), /^x\.nft:2:1: 'meta skgid' matches the group owning the sending socket/);
    assert.match(jsonError([{ match: { op: '==', left: { meta: { key: 'skuid' } }, right: 0 } }, { accept: null }]), /'meta skuid' matches the user owning the sending socket/);
  });
});
