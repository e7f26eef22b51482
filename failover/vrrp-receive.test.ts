import assert from 'node:assert/strict';
import { ip } from './ip-address.js';
import { encode, VrrpAdvertisement } from './vrrp-packet.js';
import { parseIpv4Envelope, receiveAdvertisement, ReceiveExpectations, receiveIpv4Datagram } from './vrrp-receive.js';

const vip = ip('192.0.2.1');
const adv: VrrpAdvertisement = { family: 4, vrid: 51, priority: 100, maxAdverIntervalCs: 10, addresses: [vip] };
const src = ip('192.0.2.3');
const group = ip('224.0.0.18');
const exp: ReceiveExpectations = { family: 4, vrid: 51, localIsOwner: false, addresses: [vip], checkAddresses: true, ownAddresses: [ip('192.0.2.2')] };

function datagram(payload: Uint8Array, ttl = 255, s = src, d = group): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  b[0] = 0x45; b[2] = b.length >> 8; b[3] = b.length & 0xff; b[8] = ttl; b[9] = 112;
  b.set(s, 12); b.set(d, 16); b.set(payload, 20);
  return b;
}
function code(r: { ok: boolean; error?: { code: string } }): string { return r.ok ? 'ok' : r.error!.code; }

describe('vrrp-receive (RFC 5798 §7.1)', () => {
  const payload = encode(adv, { src, dst: group });

  it('accepts a valid advertisement from a raw IPv4 datagram', () => {
    const r = receiveIpv4Datagram(datagram(payload), exp);
    assert.ok(r.ok);
    assert.equal(r.packet.priority, 100);
    assert.deepEqual([...r.src], [...src]);
  });

  it('drops a TTL other than 255', () => {
    assert.equal(code(receiveIpv4Datagram(datagram(payload, 254), exp)), 'badTtl');
  });

  it('drops another VRID, a mismatched address list, and anything when we own the addresses', () => {
    const other = encode({ ...adv, vrid: 52 }, { src, dst: group });
    assert.equal(code(receiveIpv4Datagram(datagram(other), exp)), 'wrongVrid');
    const wrongVips = encode({ ...adv, addresses: [ip('192.0.2.9')] }, { src, dst: group });
    assert.equal(code(receiveIpv4Datagram(datagram(wrongVips), exp)), 'addressMismatch');
    assert.equal(code(receiveIpv4Datagram(datagram(wrongVips), { ...exp, checkAddresses: false })), 'ok');
    // an owner's (priority 255) list is authoritative and not compared
    const owner = encode({ ...adv, priority: 255, addresses: [ip('192.0.2.9')] }, { src, dst: group });
    assert.equal(code(receiveIpv4Datagram(datagram(owner), exp)), 'ok');
    assert.equal(code(receiveIpv4Datagram(datagram(payload), { ...exp, localIsOwner: true })), 'ownerConflict');
  });

  it('drops our own looped-back packet and multicast-less packets to other destinations', () => {
    const mine = ip('192.0.2.2');
    const own = encode(adv, { src: mine, dst: group });
    assert.equal(code(receiveIpv4Datagram(datagram(own, 255, mine), exp)), 'ownPacket');
    const uni = encode(adv, { src, dst: ip('192.0.2.2') });
    assert.equal(code(receiveIpv4Datagram(datagram(uni, 255, src, ip('192.0.2.2')), exp)), 'badDestination');
  });

  it('with unicast peers accepts only those peers, sent to our address', () => {
    const me = ip('192.0.2.2');
    const uni = encode(adv, { src, dst: me });
    const withPeers = { ...exp, unicastPeers: [src] };
    assert.equal(code(receiveIpv4Datagram(datagram(uni, 255, src, me), withPeers)), 'ok');
    const stranger = ip('192.0.2.77');
    const s = encode(adv, { src: stranger, dst: me });
    assert.equal(code(receiveIpv4Datagram(datagram(s, 255, stranger, me), withPeers)), 'unknownPeer');
  });

  it('IPv6: requires a link-local source and hop limit 255', () => {
    const v6adv: VrrpAdvertisement = { family: 6, vrid: 51, priority: 100, maxAdverIntervalCs: 10, addresses: [ip('2001:db8::1')] };
    const e6: ReceiveExpectations = { family: 6, vrid: 51, localIsOwner: false, addresses: v6adv.addresses, checkAddresses: true };
    const ll = ip('fe80::3');
    const dst = ip('ff02::12');
    const p = encode(v6adv, { src: ll, dst });
    assert.equal(code(receiveAdvertisement(p, { src: ll, dst, ttl: 255 }, e6)), 'ok');
    assert.equal(code(receiveAdvertisement(p, { src: ll, dst, ttl: 1 }, e6)), 'badTtl');
    const global = ip('2001:db8::3');
    const pg = encode(v6adv, { src: global, dst });
    assert.equal(code(receiveAdvertisement(pg, { src: global, dst, ttl: 255 }, e6)), 'sourceNotLinkLocal');
    assert.equal(code(receiveAdvertisement(p, { src: ip('10.0.0.1'), dst: ip('224.0.0.18'), ttl: 255 }, e6)), 'wrongFamily');
  });

  it('rejects broken IPv4 envelopes without throwing', () => {
    const d = datagram(payload);
    assert.equal(code(parseIpv4Envelope(d.subarray(0, 10))), 'truncated');
    const v6 = Uint8Array.from(d); v6[0] = 0x65;
    assert.equal(code(parseIpv4Envelope(v6)), 'notIpv4');
    const ihl = Uint8Array.from(d); ihl[0] = 0x44;
    assert.equal(code(parseIpv4Envelope(ihl)), 'badHeaderLength');
    const tl = Uint8Array.from(d); tl[3] = 0xff;
    assert.equal(code(parseIpv4Envelope(tl)), 'badTotalLength');
    const frag = Uint8Array.from(d); frag[6] = 0x20;
    assert.equal(code(parseIpv4Envelope(frag)), 'fragment');
    const udp = Uint8Array.from(d); udp[9] = 17;
    assert.equal(code(receiveIpv4Datagram(udp, exp)), 'notVrrp');
  });
});
