import assert from 'node:assert/strict';
import { formatAddress, parseAddress } from '../packet/address.js';
import { buildIcmpEcho, buildTcp, parseBuilt } from '../packet/build.js';
import { IpProto } from '../packet/packet-info.js';
import {
  NatBinding,
  bindingUsesSourceAddress,
  NatKind,
  NatManip,
  copyBinding,
  describeBinding,
  initBindingFromPacket,
  originalTuple,
  replyTuple,
  setDestNat,
  setSourceNat,
  translatedTuple,
} from './binding.js';
import { NatTuple, invertTuple, tupleEqual, tupleFromPacket } from './tuple.js';

function addr(text: string): Uint8Array {
  return parseAddress(text).bytes;
}

function show(t: NatTuple): string {
  const n = t.addrLen;
  return `${t.proto} ${formatAddress(t.src, 0, n)}:${t.sport} > ${formatAddress(t.dst, 0, n)}:${t.dport}`;
}

describe('nat binding and tuples', () => {
  const syn = parseBuilt(buildTcp({ src: '192.0.2.100', dst: '198.51.100.100', sport: 40000, dport: 80, flags: 'S' }));

  it('reads the tuple of a packet and inverts it', () => {
    const t = tupleFromPacket(syn, new NatTuple());
    assert.equal(show(t), '6 192.0.2.100:40000 > 198.51.100.100:80');
    assert.equal(show(invertTuple(t, new NatTuple())), '6 198.51.100.100:80 > 192.0.2.100:40000');
  });

  it('keeps the ICMP echo id in place when inverting (a reply carries the same id)', () => {
    const echo = parseBuilt(buildIcmpEcho({ src: '192.0.2.100', dst: '198.51.100.100', id: 777 }));
    const t = tupleFromPacket(echo, new NatTuple());
    assert.equal(t.proto, IpProto.Icmp);
    assert.equal(t.sport, 777);
    assert.equal(t.dport, 0);
    const r = invertTuple(t, new NatTuple());
    assert.equal(r.sport, 777);
    assert.equal(formatAddress(r.src, 0, 4), '198.51.100.100');
  });

  it('gives a binding without translation a reply tuple equal to the inverted original', () => {
    const b = new NatBinding();
    initBindingFromPacket(b, syn);
    assert.equal(b.manip, NatManip.None);
    const r = replyTuple(b, new NatTuple());
    assert.ok(tupleEqual(r, invertTuple(originalTuple(b, new NatTuple()), new NatTuple())));
  });

  it('makes the SNAT reply tuple come back to the translated source', () => {
    const b = new NatBinding();
    initBindingFromPacket(b, syn);
    setSourceNat(b, NatKind.Snat, addr('198.51.100.2'), 0, 61000);
    assert.equal(show(translatedTuple(b, new NatTuple())), '6 198.51.100.2:61000 > 198.51.100.100:80');
    assert.equal(show(replyTuple(b, new NatTuple())), '6 198.51.100.100:80 > 198.51.100.2:61000');
    assert.equal(show(originalTuple(b, new NatTuple())), '6 192.0.2.100:40000 > 198.51.100.100:80');
  });

  it('makes the DNAT reply tuple come from the translated destination', () => {
    const b = new NatBinding();
    initBindingFromPacket(b, syn);
    setDestNat(b, NatKind.Dnat, addr('192.0.2.10'), 0, 8080);
    assert.equal(show(replyTuple(b, new NatTuple())), '6 192.0.2.10:8080 > 192.0.2.100:40000');
  });

  it('combines DNAT and SNAT in one reply tuple', () => {
    const b = new NatBinding();
    initBindingFromPacket(b, syn);
    setDestNat(b, NatKind.Dnat, addr('192.0.2.10'), 0, 8080);
    setSourceNat(b, NatKind.Masquerade, addr('192.0.2.2'), 0, 1234);
    assert.equal(b.manip, NatManip.Both);
    assert.equal(show(replyTuple(b, new NatTuple())), '6 192.0.2.10:8080 > 192.0.2.2:1234');
    assert.match(describeBinding(b), /masquerade src 192\.0\.2\.2:1234 dnat dst 192\.0\.2\.10:8080/);
  });

  it('handles IPv6 through the same fields', () => {
    const p = parseBuilt(buildTcp({ src: '2001:db8::100', dst: '2001:db8:1::100', sport: 5000, dport: 443 }));
    const b = new NatBinding();
    initBindingFromPacket(b, p);
    setSourceNat(b, NatKind.Snat, addr('2001:db8:1::2'), 0, 5001);
    assert.equal(show(replyTuple(b, new NatTuple())), '6 2001:db8:1::100:443 > 2001:db8:1::2:5001');
    assert.match(describeBinding(b), /snat src \[2001:db8:1::2\]:5001/);
  });

  it('keeps an ICMP destination "port" at 0 under DNAT', () => {
    const echo = parseBuilt(buildIcmpEcho({ src: '192.0.2.100', dst: '198.51.100.100', id: 9 }));
    const b = new NatBinding();
    initBindingFromPacket(b, echo);
    setDestNat(b, NatKind.Dnat, addr('192.0.2.10'), 0, 8080);
    assert.equal(b.natDport, 0);
    assert.equal(replyTuple(b, new NatTuple()).sport, 9);
  });

  it('copies every field', () => {
    const b = new NatBinding();
    initBindingFromPacket(b, syn);
    setSourceNat(b, NatKind.Snat, addr('198.51.100.2'), 0, 61000);
    const c = copyBinding(b, new NatBinding());
    assert.equal(describeBinding(c), describeBinding(b));
    assert.deepEqual(c.addrs, b.addrs);
  });
});

describe('nat binding address checks', () => {
  it('tells which bindings translate to a given source address (masquerade address loss)', () => {
    const syn = parseBuilt(buildTcp({ src: '192.0.2.100', dst: '198.51.100.100', sport: 1, dport: 2 }));
    const b = new NatBinding();
    initBindingFromPacket(b, syn);
    assert.equal(bindingUsesSourceAddress(b, addr('198.51.100.2'), 0), false, 'no source manip');
    setSourceNat(b, NatKind.Masquerade, addr('198.51.100.2'), 0, 1);
    assert.equal(bindingUsesSourceAddress(b, addr('198.51.100.2'), 0), true);
    assert.equal(bindingUsesSourceAddress(b, addr('198.51.100.3'), 0), false);
  });
});
