import assert from 'node:assert/strict';
import { formatAddress, parseAddress } from '../packet/address.js';
import { buildIcmpEcho, buildIp, buildTcp, buildUdp, parseBuilt } from '../packet/build.js';
import { IpProto, PacketInfo } from '../packet/packet-info.js';
import { NAT_DST, NAT_SRC, NatBinding, NatKind, NatManip } from './binding.js';
import { NatFlags } from './nat-flags.js';
import { PortAllocator } from './port-allocator.js';
import { natRequest } from './request.js';
import { MAX_ADDRESS_TRIES, NatSetupStatus, setupNat } from './setup.js';

const C4 = '192.0.2.100';
const S4 = '198.51.100.100';

function tcp(src: string, dst: string, sport: number, dport: number): PacketInfo {
  return parseBuilt(buildTcp({ src, dst, sport, dport, flags: 'S' }));
}

function natSrc(b: NatBinding): string {
  return `${formatAddress(b.addrs, NAT_SRC, b.addrLen)}:${b.natSport}`;
}

function natDst(b: NatBinding): string {
  return `${formatAddress(b.addrs, NAT_DST, b.addrLen)}:${b.natDport}`;
}

describe('nat setup on the first packet', () => {
  it('SNAT to an address keeps the source port when free', () => {
    const a = new PortAllocator({ key: [1, 1] });
    const b = new NatBinding();
    assert.equal(setupNat(b, natRequest(NatKind.Snat, { to: '198.51.100.2' }), tcp(C4, S4, 40000, 80), a), NatSetupStatus.Ok);
    assert.equal(natSrc(b), '198.51.100.2:40000');
    assert.equal(b.manip, NatManip.Src);
    assert.equal(b.srcKind, NatKind.Snat);
    assert.ok(b.pool !== null && b.pool.isTaken(40000));
    // A second client with the same source port gets another port on the same address.
    const b2 = new NatBinding();
    setupNat(b2, natRequest(NatKind.Snat, { to: '198.51.100.2' }), tcp('192.0.2.101', S4, 40000, 80), a);
    assert.notEqual(b2.natSport, 40000);
    assert.equal(formatAddress(b2.addrs, NAT_SRC, 4), '198.51.100.2');
  });

  it('SNAT to address:port-range allocates inside the range', () => {
    const a = new PortAllocator({ key: [2, 2] });
    const req = natRequest(NatKind.Snat, { to: '198.51.100.2:20000-20099' });
    for (let i = 0; i < 100; i++) {
      const b = new NatBinding();
      assert.equal(setupNat(b, req, tcp(C4, S4, 40000 + i, 80), a), NatSetupStatus.Ok);
      assert.ok(b.natSport >= 20000 && b.natSport <= 20099);
    }
    assert.equal(setupNat(new NatBinding(), req, tcp(C4, S4, 50000, 80), a), NatSetupStatus.PortsExhausted);
    assert.equal(a.stats.exhausted, 1);
  });

  it('masquerade uses the egress interface address and needs one', () => {
    const a = new PortAllocator({ key: [3, 3] });
    const b = new NatBinding();
    const wan = parseAddress('198.51.100.2').bytes;
    assert.equal(setupNat(b, natRequest(NatKind.Masquerade), tcp(C4, S4, 40000, 80), a, null), NatSetupStatus.NoAddress);
    assert.equal(setupNat(b, natRequest(NatKind.Masquerade), tcp(C4, S4, 40000, 80), a, wan), NatSetupStatus.Ok);
    assert.equal(natSrc(b), '198.51.100.2:40000');
    assert.equal(b.srcKind, NatKind.Masquerade);
    // An IPv4 interface address cannot masquerade an IPv6 packet.
    const b6 = new NatBinding();
    assert.equal(setupNat(b6, natRequest(NatKind.Masquerade), tcp('2001:db8::100', '2001:db8:1::100', 1, 2), a, wan), NatSetupStatus.NoAddress);
  });

  it('DNAT to address, and to address:port', () => {
    const a = new PortAllocator({ key: [4, 4] });
    const b = new NatBinding();
    setupNat(b, natRequest(NatKind.Dnat, { to: '192.0.2.10' }), tcp(S4, '198.51.100.1', 5555, 80), a);
    assert.equal(natDst(b), '192.0.2.10:80');
    assert.equal(b.manip, NatManip.Dst);
    const b2 = new NatBinding();
    setupNat(b2, natRequest(NatKind.Dnat, { to: '192.0.2.10:8080' }), tcp(S4, '198.51.100.1', 5555, 80), a);
    assert.equal(natDst(b2), '192.0.2.10:8080');
    assert.equal(b2.pool, null, 'DNAT holds no port');
  });

  it('DNAT to a port range keeps a port inside it and spreads others over it', () => {
    const a = new PortAllocator({ key: [5, 5] });
    const req = natRequest(NatKind.Dnat, { to: '192.0.2.10:8000-8009' });
    const b = new NatBinding();
    setupNat(b, req, tcp(S4, '198.51.100.1', 5555, 8005), a);
    assert.equal(b.natDport, 8005);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const bi = new NatBinding();
      setupNat(bi, req, tcp(S4, '198.51.100.1', 10000 + i, 80), a);
      assert.ok(bi.natDport >= 8000 && bi.natDport <= 8009);
      seen.add(bi.natDport);
    }
    assert.equal(seen.size, 10);
  });

  it('redirect goes to the ingress interface address, with or without a port', () => {
    const a = new PortAllocator({ key: [6, 6] });
    const lan = parseAddress('192.0.2.2').bytes;
    const b = new NatBinding();
    assert.equal(setupNat(b, natRequest(NatKind.Redirect, { to: ':3128' }), tcp(C4, S4, 40000, 80), a, lan), NatSetupStatus.Ok);
    assert.equal(natDst(b), '192.0.2.2:3128');
    assert.equal(b.dstKind, NatKind.Redirect);
    const b2 = new NatBinding();
    setupNat(b2, natRequest(NatKind.Redirect), tcp(C4, S4, 40000, 53), a, lan);
    assert.equal(natDst(b2), '192.0.2.2:53');
    assert.equal(setupNat(new NatBinding(), natRequest(NatKind.Redirect), tcp(C4, S4, 1, 2), a, null), NatSetupStatus.NoAddress);
  });

  it('does IPv6 through the same code', () => {
    const a = new PortAllocator({ key: [7, 7] });
    const b = new NatBinding();
    const p = tcp('2001:db8::100', '2001:db8:1::100', 40000, 443);
    assert.equal(setupNat(b, natRequest(NatKind.Snat, { to: '[2001:db8:1::2]:30000-30010' }), p, a), NatSetupStatus.Ok);
    assert.equal(formatAddress(b.addrs, NAT_SRC, 16), '2001:db8:1::2');
    assert.ok(b.natSport >= 30000 && b.natSport <= 30010);
    const d = new NatBinding();
    setupNat(d, natRequest(NatKind.Dnat, { to: '[2001:db8::10]:8443' }), tcp('2001:db8:1::100', '2001:db8:1::1', 5, 443), a);
    assert.equal(formatAddress(d.addrs, NAT_DST, 16), '2001:db8::10');
    assert.equal(d.natDport, 8443);
    assert.equal(setupNat(new NatBinding(), natRequest(NatKind.Snat, { to: '198.51.100.2' }), p, a), NatSetupStatus.FamilyMismatch);
  });

  it('lets the first manip of a side win and combines DNAT with SNAT', () => {
    const a = new PortAllocator({ key: [8, 8] });
    const b = new NatBinding();
    const pkt = tcp(S4, '198.51.100.1', 5555, 80);
    setupNat(b, natRequest(NatKind.Dnat, { to: '192.0.2.10:8080' }), pkt, a);
    setupNat(b, natRequest(NatKind.Dnat, { to: '192.0.2.11:9090' }), pkt, a);
    assert.equal(natDst(b), '192.0.2.10:8080');
    setupNat(b, natRequest(NatKind.Snat, { to: '192.0.2.2' }), pkt, a);
    assert.equal(b.manip, NatManip.Both);
    assert.equal(natSrc(b), '192.0.2.2:5555');
    assert.equal(formatAddress(b.addrs, 0, 4), S4, 'the original source is kept');
  });

  it('spreads connections over an address range, and keeps a client on one address with persistent', () => {
    const a = new PortAllocator({ key: [9, 9] });
    const spread = new Set<string>();
    const sticky = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const dst = `198.51.100.${(i % 50) + 10}`;
      const b = new NatBinding();
      setupNat(b, natRequest(NatKind.Snat, { to: '198.51.100.20-198.51.100.23' }), tcp(C4, dst, 40000 + i, 80), a);
      spread.add(formatAddress(b.addrs, NAT_SRC, 4));
      const p = new NatBinding();
      setupNat(p, natRequest(NatKind.Snat, { to: '198.51.100.30-198.51.100.33', flags: NatFlags.Persistent }), tcp(C4, dst, 40000 + i, 80), a);
      sticky.add(formatAddress(p.addrs, NAT_SRC, 4));
    }
    assert.equal(spread.size, 4);
    assert.equal(sticky.size, 1);
  });

  it('moves on to the next address of a range when one is exhausted, up to a bound', () => {
    const a = new PortAllocator({ key: [10, 10] });
    const req = natRequest(NatKind.Snat, { to: '198.51.100.20-198.51.100.21:6000-6001' });
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const b = new NatBinding();
      assert.equal(setupNat(b, req, tcp(C4, S4, 40000 + i, 80), a), NatSetupStatus.Ok);
      got.push(natSrc(b));
    }
    assert.deepEqual(got.sort(), ['198.51.100.20:6000', '198.51.100.20:6001', '198.51.100.21:6000', '198.51.100.21:6001']);
    assert.equal(setupNat(new NatBinding(), req, tcp(C4, S4, 50000, 80), a), NatSetupStatus.PortsExhausted);
    assert.ok(MAX_ADDRESS_TRIES >= 2);
  });

  it('allocates ICMP echo ids and translates only the address of protocols without ports', () => {
    const a = new PortAllocator({ key: [11, 11] });
    const req = natRequest(NatKind.Snat, { to: '198.51.100.2' });
    const e1 = new NatBinding();
    const e2 = new NatBinding();
    setupNat(e1, req, parseBuilt(buildIcmpEcho({ src: C4, dst: S4, id: 7 })), a);
    setupNat(e2, req, parseBuilt(buildIcmpEcho({ src: '192.0.2.101', dst: S4, id: 7 })), a);
    assert.equal(e1.natSport, 7);
    assert.notEqual(e2.natSport, 7);
    assert.ok(e1.pool !== null && e1.pool.proto === IpProto.Icmp);
    const gre = new NatBinding();
    const pkt = parseBuilt(buildIp({ src: C4, dst: S4, proto: 47, payload: new Uint8Array(8) }));
    assert.equal(setupNat(gre, req, pkt, a), NatSetupStatus.Ok);
    assert.equal(gre.pool, null);
    assert.equal(formatAddress(gre.addrs, NAT_SRC, 4), '198.51.100.2');
    // UDP and TCP on the same address do not share ports.
    const u = new NatBinding();
    setupNat(u, req, parseBuilt(buildUdp({ src: C4, dst: S4, sport: 7, dport: 53 })), a);
    assert.equal(u.natSport, 7);
  });
});
