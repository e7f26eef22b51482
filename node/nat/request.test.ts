import assert from 'node:assert/strict';
import { formatAddress } from '../packet/address.js';
import { NatKind } from './binding.js';
import { NatFlags } from './nat-flags.js';
import { natRequest, parseNatTarget } from './request.js';

function show(text: string): string {
  const t = parseNatTarget(text);
  const a = t.addrMin ? formatAddress(t.addrMin) + (t.addrMax && formatAddress(t.addrMax) !== formatAddress(t.addrMin) ? '-' + formatAddress(t.addrMax) : '') : '';
  return `${t.family} ${a} ${t.portMin}-${t.portMax}`;
}

describe('nat request targets', () => {
  it('reads addresses, ports, port ranges and address ranges', () => {
    assert.equal(show('198.51.100.2'), '4 198.51.100.2 0-0');
    assert.equal(show('198.51.100.2:80'), '4 198.51.100.2 80-80');
    assert.equal(show('198.51.100.2:20000-29999'), '4 198.51.100.2 20000-29999');
    assert.equal(show('198.51.100.2-198.51.100.9:1024-2047'), '4 198.51.100.2-198.51.100.9 1024-2047');
    assert.equal(show('[2001:db8::1]:8080'), '6 2001:db8::1 8080-8080');
    assert.equal(show('2001:db8::1'), '6 2001:db8::1 0-0');
    assert.equal(show('2001:db8::1-2001:db8::ff'), '6 2001:db8::1-2001:db8::ff 0-0');
    assert.equal(show(':8080'), '0  8080-8080');
  });

  it('refuses bad targets with a reason', () => {
    assert.throws(() => parseNatTarget('198.51.100.2:70000'), /out of range/);
    assert.throws(() => parseNatTarget('198.51.100.2:2000-1000'), /reversed/);
    assert.throws(() => parseNatTarget('198.51.100.9-198.51.100.2'), /reversed/);
    assert.throws(() => parseNatTarget('198.51.100.2-2001:db8::1'), /mixes/);
    assert.throws(() => parseNatTarget('2001:db8::1-2001:db9::1'), /2\^32/);
    assert.throws(() => parseNatTarget('[2001:db8::1:80'), /\]/);
    assert.throws(() => parseNatTarget('198.51.100.2:0'), /port 0/);
    assert.throws(() => parseNatTarget(''), /empty/);
    assert.throws(() => parseNatTarget('300.1.1.1'), /invalid IPv4/);
  });

  it('builds requests for each statement and refuses combinations that make no sense', () => {
    const s = natRequest(NatKind.Snat, { to: '198.51.100.2:1024-65535', flags: NatFlags.Random });
    assert.equal(s.family, 4);
    assert.equal(s.portMin, 1024);
    assert.equal(s.flags, NatFlags.Random);
    assert.equal(natRequest(NatKind.Masquerade).addrMin, null);
    assert.equal(natRequest(NatKind.Redirect, { to: ':8080' }).portMin, 8080);
    assert.throws(() => natRequest(NatKind.Snat), /needs an address/);
    assert.throws(() => natRequest(NatKind.Dnat, { to: ':80' }), /needs an address/);
    assert.throws(() => natRequest(NatKind.Masquerade, { to: '198.51.100.2' }), /takes no address/);
    assert.throws(() => natRequest(NatKind.Redirect, { to: '192.0.2.1:80' }), /takes no address/);
  });
});
