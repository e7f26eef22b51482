import assert from 'node:assert/strict';
import { buildIcmpEcho, buildTcp, buildUdp, fragmentPacket, parseBuilt } from './build.js';
import { describePacket, tcpFlagLetters } from './describe.js';
import { PacketInfo, ParseStatus } from './packet-info.js';
import { parsePacket } from './parse.js';

describe('describePacket', () => {
  it('prints TCP over IPv4 with ports, flags and sequence numbers', () => {
    const i = parseBuilt(buildTcp({ src: '192.0.2.100', dst: '198.51.100.100', sport: 40000, dport: 443, flags: 'SA', seq: 1000, ack: 7, window: 100, payload: 5 }));
    assert.equal(describePacket(i), 'ipv4 192.0.2.100:40000 > 198.51.100.100:443 tcp [SA] seq 1000 ack 7 win 100 len 5');
  });

  it('prints IPv6 endpoints in brackets, ICMP ids, fragments and super-packets', () => {
    const u = parseBuilt(buildUdp({ src: '2001:db8::1', dst: '2001:db8::2', sport: 53, dport: 5353, payload: 2 }));
    assert.equal(describePacket(u), 'ipv6 [2001:db8::1]:53 > [2001:db8::2]:5353 udp len 2');
    const e = parseBuilt(buildIcmpEcho({ src: '192.0.2.1', dst: '192.0.2.2', id: 9 }));
    assert.equal(describePacket(e), 'ipv4 192.0.2.1 > 192.0.2.2 icmp type 8 code 0 id 9 len 0');
    const f = parseBuilt(fragmentPacket(buildUdp({ src: '192.0.2.1', dst: '192.0.2.2', sport: 1, dport: 2, payload: 64 }), 32, 5)[1]);
    assert.equal(describePacket(f), 'ipv4 192.0.2.1 > 192.0.2.2 udp frag off 32+ id 5 len 32');
    const g = parseBuilt(buildTcp({ src: '192.0.2.1', dst: '192.0.2.2', sport: 1, dport: 2, flags: 'A', payload: 3000, gso: 1000 }), 10);
    assert.match(describePacket(g), /len 3000 gso 3x1000$/);
  });

  it('says how far a bad packet got', () => {
    const i = new PacketInfo();
    parsePacket(i, Uint8Array.from([0x10, 0, 0]), 0, 3, 0);
    assert.equal(i.status, ParseStatus.Unsupported);
    assert.equal(describePacket(i), 'non-ip (unsupported)');
    const p = buildTcp({ src: '192.0.2.1', dst: '192.0.2.2', sport: 1, dport: 2 });
    p[32] = 0x10;
    assert.match(describePacket(parseBuilt(p)), /^ipv4 192\.0\.2\.1 > 192\.0\.2\.2 tcp len 0 \(malformed\)$/);
  });

  it('spells flag letters in bit order', () => {
    assert.equal(tcpFlagLetters(0x11), 'FA');
    assert.equal(tcpFlagLetters(0), '');
  });
});
