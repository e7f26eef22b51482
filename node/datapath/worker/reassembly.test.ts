import assert from 'node:assert/strict';
import { buildUdp, fragmentPacket, parseBuilt } from '../../packet/build.js';
import { ipv4HeaderChecksum, verifyIpv4HeaderChecksum, verifyL4Checksum } from '../../packet/checksum.js';
import { parsePacket } from '../../packet/parse.js';
import { PacketInfo, ParseStatus } from '../../packet/packet-info.js';
import { FragAdd, Reassembler, type PendingDatagram } from './reassembly.js';

const V4 = { src: '192.0.2.1', dst: '198.51.100.7' };
const V6 = { src: '2001:db8::1', dst: '2001:db8:1::7' };
const datagram = (ends: { src: string; dst: string }, payload = 3000, sport = 4000) => buildUdp({ ...ends, sport, dport: 53, payload });

/** Feeds fragments in the given order; returns each add()'s result. */
function feed(r: Reassembler, frags: Uint8Array[], order: number[], now = 0): FragAdd[] {
  return order.map((i) => r.add(parseBuilt(frags[i]!), now));
}

/** Builds the completed datagram and parses it. */
function built(r: Reassembler, d: PendingDatagram, vnetLen = 0): PacketInfo {
  const out = new Uint8Array(vnetLen + 65535);
  const len = r.build(d, out, vnetLen);
  const p = new PacketInfo();
  assert.equal(parsePacket(p, out, 0, len, vnetLen), ParseStatus.Ok);
  return p;
}

/** The L4 bytes of a packet (header and data). */
const l4 = (p: PacketInfo) => p.buf.slice(p.l4Off, p.end);

describe('Reassembler', () => {
  for (const [family, ends] of [['IPv4', V4], ['IPv6', V6]] as const) {
    it(`puts an ${family} datagram together from fragments in any order, checksums intact`, () => {
      const whole = datagram(ends);
      const frags = fragmentPacket(whole, 1000);
      assert.equal(frags.length, 4);
      for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]]) {
        const r = new Reassembler();
        const results = feed(r, frags, order);
        assert.deepEqual(results, [FragAdd.Queued, FragAdd.Queued, FragAdd.Queued, FragAdd.Complete]);
        const d = r.completed!;
        const p = built(r, d);
        assert.equal(p.isFragment, false);
        assert.equal(p.sport, 4000);
        assert.equal(p.dport, 53);
        assert.deepEqual(l4(p), l4(parseBuilt(whole)));
        assert.ok(verifyL4Checksum(p), 'UDP checksum');
        if (family === 'IPv4') assert.ok(verifyIpv4HeaderChecksum(p), 'header checksum');
        // The fragments leave in the order they came.
        assert.deepEqual(d.pieces.map((f) => f.off), order.map((i) => i * 1000));
        r.done(d);
        assert.equal(r.size, 0);
        assert.equal(r.heldBytes, 0);
      }
    });
  }

  it('keeps datagrams apart by addresses, identification and (IPv4) protocol', () => {
    const r = new Reassembler();
    const a = fragmentPacket(datagram(V4), 1000, 7);
    const b = fragmentPacket(datagram(V4, 3000, 4001), 1000, 8);
    const c = fragmentPacket(datagram({ src: '192.0.2.2', dst: V4.dst }), 1000, 7);
    feed(r, a, [0, 1, 2]);
    feed(r, b, [0, 1, 2]);
    feed(r, c, [0, 1, 2]);
    assert.equal(r.size, 3);
    assert.deepEqual(feed(r, b, [3]), [FragAdd.Complete]);
    assert.equal(built(r, r.completed!).sport, 4001);
  });

  it('ignores an exact duplicate, and gives the datagram up on an overlap (RFC 5722)', () => {
    const frags = fragmentPacket(datagram(V6), 1000);
    const r = new Reassembler();
    assert.deepEqual(feed(r, frags, [0, 0, 1]), [FragAdd.Queued, FragAdd.Dropped, FragAdd.Queued]);
    assert.equal(r.stats.duplicates, 1);
    // A fragment covering 992..1992 overlaps the second one.
    const overlapping = fragmentPacket(datagram(V6), 992)[1]!;
    assert.equal(r.add(parseBuilt(overlapping), 0), FragAdd.Dropped);
    assert.equal(r.stats.overlaps, 1);
    assert.equal(r.size, 0, 'the datagram was given up');
    assert.equal(r.stats.discarded, 2);
    // Its other fragments alone cannot complete it.
    assert.deepEqual(feed(r, frags, [2, 3]), [FragAdd.Queued, FragAdd.Queued]);
  });

  it('refuses fragments that cannot be part of a datagram, and conflicting ends', () => {
    const r = new Reassembler();
    const frags = fragmentPacket(datagram(V4), 1000);
    // A middle fragment whose length is not a multiple of 8.
    const odd = frags[1]!.slice(0, frags[1]!.length - 3);
    odd[2] = odd.length >> 8;
    odd[3] = odd.length & 0xff;
    assert.equal(r.add(parseBuilt(odd), 0), FragAdd.Dropped);
    // Past 65,535 bytes: offset 65,528 with 16 bytes.
    const far = frags[1]!.slice(0, 20 + 16);
    far[2] = 0; far[3] = 36;
    far[6] = 0x20 | ((65528 >> 3) >> 8); far[7] = (65528 >> 3) & 0xff;
    assert.equal(r.add(parseBuilt(far), 0), FragAdd.Dropped);
    assert.equal(r.stats.malformed, 2);
    // Two last fragments with different ends.
    feed(r, frags, [3]);
    const shorterEnd = fragmentPacket(datagram(V4, 2000), 1000)[2]!;
    assert.equal(r.add(parseBuilt(shorterEnd), 0), FragAdd.Dropped);
    assert.equal(r.stats.malformed, 3);
    assert.equal(r.size, 0);
  });

  it('refuses a datagram whose first fragment\'s longer header would take it past 65,535 bytes', () => {
    // 65,500 bytes of UDP: each fragment fits with a 20-byte header, but the first carries
    // 40 bytes of options, and the whole would be 65,560 bytes.
    const frags = fragmentPacket(buildUdp({ ...V4, sport: 1, dport: 2, payload: 65492 }), 1480);
    const plain = frags[0]!;
    const first = new Uint8Array(plain.length + 40);
    first.set(plain.subarray(0, 20));
    first.fill(1, 20, 60); // NOP options
    first.set(plain.subarray(20), 60);
    first[0] = 0x4f;
    first[2] = first.length >> 8;
    first[3] = first.length & 0xff;
    const c = ipv4HeaderChecksum(first, 0, 60);
    first[10] = c >> 8;
    first[11] = c & 0xff;
    const r = new Reassembler();
    const results = [first, ...frags.slice(1)].map((f) => r.add(parseBuilt(f), 0));
    assert.equal(results.at(-1), FragAdd.Dropped);
    assert.ok(!results.includes(FragAdd.Complete));
    assert.equal(r.stats.malformed, 1);
    assert.equal(r.size, 0);
    // With the plain first fragment the same datagram completes.
    const ok = new Reassembler();
    assert.equal(frags.map((f) => ok.add(parseBuilt(f), 0)).at(-1), FragAdd.Complete);
  });

  it('gives up incomplete datagrams after 30 s (IPv4) and 60 s (IPv6)', () => {
    const r = new Reassembler();
    feed(r, fragmentPacket(datagram(V4), 1000), [0], 1000);
    feed(r, fragmentPacket(datagram(V6), 1000), [0], 1000);
    r.expire(30_999);
    assert.equal(r.size, 2);
    r.expire(31_000);
    assert.equal(r.size, 1);
    r.expire(61_000);
    assert.equal(r.size, 0);
    assert.equal(r.stats.timeouts, 2);
    assert.equal(r.heldBytes, 0);
    // An IPv6 datagram held before an IPv4 one does not keep the IPv4 one from timing out.
    const again = new Reassembler();
    feed(again, fragmentPacket(datagram(V6), 1000), [0], 1000);
    feed(again, fragmentPacket(datagram(V4), 1000), [0], 2000);
    again.expire(32_000);
    assert.equal(again.size, 1);
    assert.equal(again.stats.timeouts, 1);
  });

  it('holds no more than its memory budget, and no more fragments per datagram than allowed', () => {
    const r = new Reassembler({ maxBytes: 4000 });
    const frags = fragmentPacket(datagram(V4, 8000), 1000);
    let i = 0;
    while (r.add(parseBuilt(frags[i]!), 0) === FragAdd.Queued) {
      assert.ok(r.heldBytes <= 4000);
      i++;
    }
    assert.equal(i, 3, 'three 1 KB fragments fit the 4,000-byte budget, the fourth does not');
    assert.equal(r.stats.overLimit, 1);
    assert.equal(r.size, 0, 'a datagram that lost a fragment to the budget is given up at once');
    assert.equal(r.heldBytes, 0);

    const few = new Reassembler({ maxFragments: 3 });
    assert.deepEqual(feed(few, fragmentPacket(datagram(V6), 1000), [0, 1, 2, 3]), [FragAdd.Queued, FragAdd.Queued, FragAdd.Queued, FragAdd.Dropped]);
    assert.equal(few.size, 0);
  });

  it('writes what was changed in the whole datagram back into its fragments', () => {
    for (const ends of [V4, V6]) {
      const frags = fragmentPacket(datagram(ends), 1000);
      const r = new Reassembler();
      feed(r, frags, [1, 0, 3, 2]);
      const d = r.completed!;
      const p = built(r, d);
      // Change the source port and a byte deep in the data; fix the UDP checksum by hand.
      p.buf[p.l4Off] = 0x12; p.buf[p.l4Off + 1] = 0x34;
      p.buf[p.l4Off + 2500] ^= 0xff;
      p.buf[p.l4Off + 6] = 0; p.buf[p.l4Off + 7] = 0;
      const changed = parseBuilt(p.buf.slice(p.l3Off, p.end));
      r.writeBack(d, p);
      // The kept fragments, put together again, are the changed datagram.
      const again = new Reassembler();
      const out = d.pieces.map((f) => parseBuilt(f.bytes));
      out.forEach((f, i) => {
        if (f.family === 4) assert.ok(verifyIpv4HeaderChecksum(f), `fragment ${i} header checksum`);
        assert.equal(again.add(f, 0), i === 3 ? FragAdd.Complete : FragAdd.Queued);
      });
      assert.deepEqual(l4(built(again, again.completed!)), l4(changed));
      assert.equal(built(again, again.completed!).sport, 0x1234);
    }
  });

  it('builds with the virtio header length its caller asks for', () => {
    const r = new Reassembler();
    feed(r, fragmentPacket(datagram(V4), 1000), [0, 1, 2, 3]);
    const p = built(r, r.completed!, 10);
    assert.equal(p.vnetLen, 10);
    assert.equal(p.l3Off, 10);
    assert.ok(verifyL4Checksum(p));
  });
});
