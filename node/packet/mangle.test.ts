import assert from 'node:assert/strict';
import { buildTcp } from './build.js';
import { csumFold, l4PseudoSum, verifyIpv4HeaderChecksum, verifyL4Checksum } from './checksum.js';
import { MangleResult, manglePayload } from './mangle.js';
import { PacketInfo } from './packet-info.js';
import { parsePacket } from './parse.js';

const enc = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

/** Parses a built packet copied to the front of a larger buffer: `room` bytes to grow into (0: none). */
function roomy(bytes: Uint8Array, room: number, vnet = 0): PacketInfo {
  const buf = new Uint8Array(bytes.length + room + 7);
  buf.fill(0xee);
  buf.set(bytes);
  const p = new PacketInfo();
  parsePacket(p, buf, 0, bytes.length, vnet);
  if (room > 0) p.maxEnd = bytes.length + room;
  return p;
}

const payload = (p: PacketInfo): string => Buffer.from(p.buf.subarray(p.l4Off + p.tcpHdrLen, p.end)).toString('latin1');

/** Parses the packet's bytes afresh (as the next hop would) and checks lengths and checksums. */
function reparsed(p: PacketInfo, vnet = 0): PacketInfo {
  const q = new PacketInfo();
  const len = p.end - p.vnetOff;
  parsePacket(q, p.buf.slice(0, len), 0, len, vnet);
  assert.ok(verifyIpv4HeaderChecksum(q), 'IPv4 header checksum');
  assert.ok(verifyL4Checksum(q), 'TCP checksum');
  assert.equal(q.payloadLen, p.payloadLen);
  return q;
}

describe('manglePayload (a payload rewrite that may change the length)', () => {
  const cases: [string, string, string, string, string][] = [
    ['IPv4, growing', '10.0.0.5', '203.0.113.9', 'PORT 10,0,0,5,195,80\r\nNOOP\r\n', '198,51,100,2,195,80'],
    ['IPv4, shrinking', '192.168.100.200', '203.0.113.9', 'PORT 192,168,100,200,195,80\r\nNOOP\r\n', '10,0,0,1,195,80'],
    ['IPv6, growing', '2001:db8:1::5', '2001:db8:2::9', 'EPRT |2|2001:db8:1::5|50010|\r\nNOOP\r\n', '|2|2001:db8:ffff:1234::77|50010|'],
    ['IPv6, shrinking', '2001:db8:1::5', '2001:db8:2::9', 'EPRT |2|2001:db8:1:0:0:0:0:5|50010|\r\nNOOP\r\n', '|2|2001:db8:ff::1|50010|'],
  ];
  for (const [name, src, dst, text, repl] of cases) {
    it(`${name}: bytes after it move, IP length and checksums follow`, () => {
      const p = roomy(buildTcp({ src, dst, sport: 40000, dport: 21, flags: 'PA', seq: 1, ack: 1, payload: text }), 64);
      const off = p.l4Off + p.tcpHdrLen + 5;
      const oldLen = text.indexOf('\r\n') - 5;
      const before = p.end;
      assert.equal(manglePayload(p, off, oldLen, enc(repl), repl.length), MangleResult.Ok);
      const want = `${text.slice(0, 5)}${repl}${text.slice(5 + oldLen)}`;
      assert.equal(payload(p), want);
      assert.equal(p.lenDelta, repl.length - oldLen);
      assert.equal(p.end, before + repl.length - oldLen);
      const q = reparsed(p);
      assert.equal(payload(q), want);
    });
  }

  it('no room (maxEnd 0, a reassembled datagram or padding): refused, nothing changed; the same length needs none', () => {
    const bytes = buildTcp({ src: '10.0.0.5', dst: '203.0.113.9', sport: 40000, dport: 21, flags: 'PA', payload: 'PORT 10,0,0,5,195,80\r\n' });
    const p = roomy(bytes, 0);
    const off = p.l4Off + p.tcpHdrLen + 5;
    assert.equal(manglePayload(p, off, 15, enc('198,51,100,2,195,80'), 19), MangleResult.NoRoom);
    assert.deepEqual(p.buf.subarray(0, bytes.length), bytes);
    assert.equal(p.lenDelta, 0);
    // Too little room: refused too.
    const q = roomy(bytes, 3);
    assert.equal(manglePayload(q, off, 15, enc('198,51,100,2,195,80'), 19), MangleResult.NoRoom);
    // Same length: allowed without room.
    assert.equal(manglePayload(p, off, 15, enc('10,0,0,9,195,81'), 15), MangleResult.Ok);
    assert.equal(payload(reparsed(p)), 'PORT 10,0,0,9,195,81\r\n');
  });

  it('a segment that came with a wrong checksum keeps it wrong (updated, not computed afresh), by the same amount', () => {
    for (const [odd, repl] of [[false, '198,51,100,2,195,80'], [true, '10,0,0,77,195,80']] as const) {
      const bytes = buildTcp({ src: '10.0.0.5', dst: '203.0.113.9', sport: 40000, dport: 21, flags: 'PA', payload: `${odd ? 'X' : ''}PORT 10,0,0,5,195,80\r\nNOOP\r\n` });
      const good = roomy(bytes, 64);
      const bad = roomy(bytes, 64);
      const c = bad.l4Off + 16;
      bad.buf[c + 1] = bad.buf[c + 1]! ^ 0x10; // damaged on the way
      const field = (p: PacketInfo): number => (p.buf[c]! << 8) | p.buf[c + 1]!;
      // The error as a one's complement difference between the two fields.
      const error = (): number => csumFold(field(bad) + (~field(good) & 0xffff));
      const before = error();
      const off = good.l4Off + good.tcpHdrLen + (odd ? 6 : 5);
      assert.equal(manglePayload(good, off, 15, enc(repl), repl.length), MangleResult.Ok);
      assert.equal(manglePayload(bad, off, 15, enc(repl), repl.length), MangleResult.Ok);
      reparsed(good);
      assert.equal(verifyL4Checksum(bad), false, 'still wrong');
      assert.equal(error(), before, 'wrong by what it was');
      assert.ok(verifyIpv4HeaderChecksum(bad));
    }
  });

  it('a range outside the payload, or a packet that is not TCP, is refused', () => {
    const p = roomy(buildTcp({ src: '10.0.0.5', dst: '203.0.113.9', sport: 40000, dport: 21, flags: 'PA', payload: 'PORT 1\r\n' }), 64);
    assert.equal(manglePayload(p, p.l4Off + 2, 4, enc('abcd'), 4), MangleResult.NotTcp, 'inside the TCP header');
    assert.equal(manglePayload(p, p.end - 2, 4, enc('abcd'), 4), MangleResult.NotTcp, 'past the end');
  });

  it('under virtio NeedsCsum the checksum field holds the pseudo-header sum of the new length', () => {
    const bytes = buildTcp({ src: '10.0.0.5', dst: '203.0.113.9', sport: 40000, dport: 21, flags: 'PA', payload: 'PORT 10,0,0,5,195,80\r\n', partialCsum: true });
    const p = roomy(bytes, 64, 10);
    const off = p.l4Off + p.tcpHdrLen + 5;
    assert.equal(manglePayload(p, off, 15, enc('198,51,100,2,195,80'), 19), MangleResult.Ok);
    const q = new PacketInfo();
    parsePacket(q, p.buf.slice(0, p.end), 0, p.end, 10);
    const at = q.l4Off + 16;
    assert.equal((q.buf[at]! << 8) | q.buf[at + 1]!, l4PseudoSum(q));
    assert.ok(verifyIpv4HeaderChecksum(q));
  });
});
