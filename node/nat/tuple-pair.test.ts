import assert from 'node:assert/strict';
import { buildIcmpEcho, buildTcp, parseBuilt } from '../packet/build.js';
import { NatBinding, NatKind, NatManip, describeBinding, initBindingFromPacket } from './binding.js';
import { PortAllocator } from './port-allocator.js';
import { natRequest } from './request.js';
import { setupNat } from './setup.js';
import { NatTuplePair, bindingFromTuplePair, writeReplyTuple } from './tuple-pair.js';

/** A conntrack-like pair whose original tuple is the binding's and whose reply is not yet set. */
function pairFor(b: NatBinding, icmpTypes = 0): NatTuplePair {
  const n = b.addrLen;
  return {
    family: b.family,
    proto: b.proto,
    origSrc: b.addrs.slice(0, n),
    origDst: b.addrs.slice(16, 16 + n),
    origSport: b.origSport,
    origDport: icmpTypes ? icmpTypes >> 16 : b.origDport,
    replySrc: new Uint8Array(16),
    replyDst: new Uint8Array(16),
    replySport: 0,
    replyDport: icmpTypes ? icmpTypes & 0xffff : 0,
  };
}

describe('nat binding as a conntrack tuple pair', () => {
  const cases: Array<[string, () => NatBinding]> = [
    ['SNAT IPv4', () => {
      const b = new NatBinding();
      setupNat(b, natRequest(NatKind.Snat, { to: '198.51.100.2:20000-20000' }), parseBuilt(buildTcp({ src: '192.0.2.100', dst: '198.51.100.100', sport: 40000, dport: 80 })), new PortAllocator({ key: [1, 1] }));
      return b;
    }],
    ['DNAT IPv6', () => {
      const b = new NatBinding();
      setupNat(b, natRequest(NatKind.Dnat, { to: '[2001:db8::10]:8080' }), parseBuilt(buildTcp({ src: '2001:db8:1::100', dst: '2001:db8:1::2', sport: 5555, dport: 80 })), new PortAllocator({ key: [1, 1] }));
      return b;
    }],
    ['DNAT + SNAT', () => {
      const b = new NatBinding();
      const a = new PortAllocator({ key: [2, 2] });
      const p = parseBuilt(buildTcp({ src: '198.51.100.100', dst: '198.51.100.1', sport: 5555, dport: 80 }));
      setupNat(b, natRequest(NatKind.Dnat, { to: '192.0.2.10:8080' }), p, a);
      setupNat(b, natRequest(NatKind.Snat, { to: '192.0.2.2:30000-30000' }), p, a);
      return b;
    }],
    ['DNAT keeping the port', () => {
      const b = new NatBinding();
      setupNat(b, natRequest(NatKind.Dnat, { to: '192.0.2.10' }), parseBuilt(buildTcp({ src: '198.51.100.100', dst: '198.51.100.1', sport: 5555, dport: 80 })), new PortAllocator({ key: [1, 1] }));
      return b;
    }],
  ];
  for (const [name, make] of cases) {
    it(`rebuilds the same binding from its tuples: ${name}`, () => {
      const b = make();
      const pair = pairFor(b);
      writeReplyTuple(b, pair);
      assert.equal(describeBinding(bindingFromTuplePair(pair, new NatBinding())), describeBinding(b));
    });
  }

  it('finds no translation in an untranslated pair', () => {
    const b = new NatBinding();
    initBindingFromPacket(b, parseBuilt(buildTcp({ src: '192.0.2.100', dst: '198.51.100.100', sport: 1, dport: 2 })));
    const pair = pairFor(b);
    writeReplyTuple(b, pair);
    assert.equal(bindingFromTuplePair(pair, new NatBinding()).manip, NatManip.None);
  });

  it('writes only the id of an ICMP reply tuple and keeps the inverted type', () => {
    const b = new NatBinding();
    setupNat(b, natRequest(NatKind.Snat, { to: '198.51.100.2:900-900' }), parseBuilt(buildIcmpEcho({ src: '192.0.2.100', dst: '198.51.100.100', id: 7 })), new PortAllocator({ key: [1, 1] }));
    // conntrack: echo request type 8 code 0 -> reply type 0.
    const pair = pairFor(b, (0x0800 << 16) | 0x0000);
    writeReplyTuple(b, pair);
    assert.equal(pair.replySport, 900);
    assert.equal(pair.replyDport, 0);
    const back = bindingFromTuplePair(pair, new NatBinding(), NatKind.Masquerade);
    assert.equal(back.manip, NatManip.Src);
    assert.equal(back.srcKind, NatKind.Masquerade);
    assert.equal(back.natSport, 900);
    assert.equal(back.origSport, 7);
  });
});
