import assert from 'node:assert/strict';
import { buildTcp, buildUdp } from './build.js';
import { CaptureFormatError } from './capture-record.js';
import { l3OffsetFor, LinkType } from './link-type.js';
import { readCaptureAll, writePcap } from './pcap.js';

/** Assembles bytes from 8/16/32-bit fields in a chosen byte order, for hand-made files. */
class Bytes {
  private out: number[] = [];
  constructor(private little: boolean) {}
  u8(...v: number[]): this {
    this.out.push(...v);
    return this;
  }
  u16(v: number): this {
    return this.little ? this.u8(v & 0xff, v >> 8) : this.u8(v >> 8, v & 0xff);
  }
  u32(v: number): this {
    const b = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    return this.u8(...(this.little ? b.reverse() : b));
  }
  bytes(b: Uint8Array): this {
    return this.u8(...b);
  }
  pad4(): this {
    while (this.out.length % 4) this.out.push(0);
    return this;
  }
  get length(): number {
    return this.out.length;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** A pcapng block: type, total length, body, total length. */
function block(little: boolean, type: number, body: Uint8Array): Uint8Array {
  const len = 12 + body.length;
  return new Bytes(little).u32(type).u32(len).bytes(body).u32(len).done();
}

function shb(little: boolean): Uint8Array {
  const body = new Bytes(little).u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff).done();
  return block(little, 0x0a0d0d0a, body);
}

function idb(little: boolean, linkType: number, tsresol?: number, tsoffset?: number): Uint8Array {
  const b = new Bytes(little).u16(linkType).u16(0).u32(0);
  if (tsresol !== undefined) b.u16(9).u16(1).u8(tsresol).pad4();
  if (tsoffset !== undefined) {
    b.u16(14).u16(8);
    // i64 seconds: low word first when little-endian
    if (little) b.u32(tsoffset).u32(0);
    else b.u32(0).u32(tsoffset);
  }
  b.u16(0).u16(0);
  return block(little, 1, b.done());
}

function epb(little: boolean, iface: number, ts: bigint, data: Uint8Array, origLen = data.length): Uint8Array {
  const b = new Bytes(little)
    .u32(iface)
    .u32(Number(ts >> 32n))
    .u32(Number(ts & 0xffffffffn))
    .u32(data.length)
    .u32(origLen)
    .bytes(data)
    .pad4()
    .done();
  return block(little, 6, b);
}

function spb(little: boolean, data: Uint8Array): Uint8Array {
  return block(little, 3, new Bytes(little).u32(data.length).bytes(data).pad4().done());
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const ip4 = buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 2, payload: 3 });
const ip6 = buildTcp({ src: '2001:db8::1', dst: '2001:db8::2', sport: 1, dport: 2 });

function ether(type: number, payload: Uint8Array, vlan?: number): Uint8Array {
  const b = new Bytes(false).bytes(new Uint8Array(12));
  if (vlan !== undefined) b.u16(0x8100).u16(vlan);
  return b.u16(type).bytes(payload).done();
}

describe('pcap', () => {
  it('reads a hand-made little-endian microsecond pcap with LINKTYPE_RAW', () => {
    const f = new Bytes(true)
      .u32(0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(65535).u32(101)
      .u32(1700000000).u32(123456).u32(ip4.length).u32(ip4.length).bytes(ip4)
      .u32(1700000001).u32(0).u32(ip6.length).u32(1500).bytes(ip6)
      .done();
    const recs = readCaptureAll(f);
    assert.equal(recs.length, 2);
    assert.equal(recs[0].index, 0);
    assert.equal(recs[0].tsNs, 1700000000_123456000n);
    assert.deepEqual(recs[0].data, ip4);
    assert.equal(recs[0].data.buffer, f.buffer, 'data is a view, not a copy');
    assert.equal(recs[0].l3Off, 0);
    assert.equal(recs[0].linkType, LinkType.Raw);
    assert.equal(recs[1].index, 1);
    assert.equal(recs[1].origLen, 1500);
    assert.deepEqual(recs[1].data, ip6);
  });

  it('reads a big-endian nanosecond pcap with Ethernet and one 802.1Q tag', () => {
    const frame = ether(0x0800, ip4, 0x0064);
    const f = new Bytes(false)
      .u32(0xa1b23c4d).u16(2).u16(4).u32(0).u32(0).u32(65535).u32(1)
      .u32(5).u32(999999999).u32(frame.length).u32(frame.length).bytes(frame)
      .done();
    const [r] = readCaptureAll(f);
    assert.equal(r.tsNs, 5_999999999n);
    assert.equal(r.linkType, LinkType.Ethernet);
    assert.equal(r.l3Off, 18);
    assert.deepEqual(r.data.subarray(r.l3Off), ip4);
  });

  it('finds the IP header in Ethernet, SLL and SLL2 frames and flags non-IP ones', () => {
    assert.equal(l3OffsetFor(LinkType.Ethernet, ether(0x86dd, ip6)), 14);
    assert.equal(l3OffsetFor(LinkType.Ethernet, ether(0x0806, new Uint8Array(28))), -1);
    assert.equal(l3OffsetFor(LinkType.Ethernet, new Uint8Array(13)), -1);
    const sll = new Bytes(false).u16(0).u16(1).u16(6).bytes(new Uint8Array(8)).u16(0x0800).bytes(ip4).done();
    assert.equal(l3OffsetFor(LinkType.LinuxSll, sll), 16);
    const sll2 = new Bytes(false).u16(0x86dd).u16(0).u32(3).u16(1).u8(0, 6).bytes(new Uint8Array(8)).bytes(ip6).done();
    assert.equal(l3OffsetFor(LinkType.LinuxSll2, sll2), 20);
    assert.equal(l3OffsetFor(LinkType.Ipv4, ip4), 0);
    assert.equal(l3OffsetFor(LinkType.Ipv6, ip6), 0);
    assert.equal(l3OffsetFor(147, ip4), -1);
  });

  it('round-trips packets through the classic pcap writer (ns and µs)', () => {
    const recs = [
      { data: ip4, tsNs: 1_700_000_000_123_456_789n },
      { data: ip6, tsNs: 42 },
    ];
    const ns = readCaptureAll(writePcap(recs));
    assert.equal(ns.length, 2);
    assert.equal(ns[0].tsNs, 1_700_000_000_123_456_789n);
    assert.equal(ns[1].tsNs, 42n);
    assert.deepEqual(ns[0].data, ip4);
    assert.deepEqual(ns[1].data, ip6);
    assert.equal(ns[0].linkType, LinkType.Raw);
    const us = readCaptureAll(writePcap(recs, { nanos: false }));
    assert.equal(us[0].tsNs, 1_700_000_000_123_456_000n);
    assert.equal(us[1].tsNs, 0n);
  });

  it('names the byte offset of a malformed classic pcap', () => {
    const good = writePcap([{ data: ip4 }, { data: ip6 }]);
    assert.throws(() => readCaptureAll(good.subarray(0, 20)), (e: unknown) => e instanceof CaptureFormatError && e.offset === 0 && /pcap header/.test(e.message));
    const cut = good.subarray(0, good.length - 1);
    const second = 24 + 16 + ip4.length;
    assert.throws(() => readCaptureAll(cut), (e: unknown) => e instanceof CaptureFormatError && e.offset === second + 8 && /record 1 claims/.test(e.message));
    const hdrCut = good.subarray(0, second + 5);
    assert.throws(() => readCaptureAll(hdrCut), new RegExp(`at byte ${second}: record header cut short`));
    const badMagic = good.slice();
    badMagic[0] = 0;
    assert.throws(() => readCaptureAll(badMagic), /at byte 0: unknown magic number/);
    const badUsec = writePcap([{ data: ip4 }], { nanos: false });
    badUsec[28] = 0x40; // 0x000f4240 = 1,000,000 µs
    badUsec[29] = 0x42;
    badUsec[30] = 0x0f;
    assert.throws(() => readCaptureAll(badUsec), /at byte 28: sub-second timestamp 1000000 out of range/);
  });
});

describe('pcapng', () => {
  it('reads SHB, IDB, EPB and SPB in little-endian and skips unknown blocks', () => {
    const isb = block(true, 5, new Uint8Array(16)); // interface statistics: skipped
    const custom = block(true, 0x40000bad, new Uint8Array(4));
    const f = cat(
      shb(true),
      idb(true, LinkType.Raw, 9),
      epb(true, 0, 1_700_000_000_000_000_123n, ip4),
      isb,
      custom,
      spb(true, ip6),
    );
    const recs = readCaptureAll(f);
    assert.equal(recs.length, 2);
    assert.equal(recs[0].tsNs, 1_700_000_000_000_000_123n);
    assert.deepEqual(recs[0].data, ip4);
    assert.equal(recs[0].l3Off, 0);
    assert.equal(recs[1].index, 1);
    assert.equal(recs[1].tsNs, 0n);
    assert.deepEqual(recs[1].data, ip6);
  });

  it('reads a big-endian section with default microseconds, a binary resolution and an offset', () => {
    const f = cat(
      shb(false),
      idb(false, LinkType.Ipv4),
      idb(false, LinkType.Ethernet, 0x80 | 10, 100), // 2^-10 s units, +100 s
      epb(false, 0, 1_500_000n, ip4),
      epb(false, 1, 1024n * 3n + 512n, ether(0x0800, ip4), 200),
    );
    const recs = readCaptureAll(f);
    assert.equal(recs.length, 2);
    assert.equal(recs[0].tsNs, 1_500_000_000n);
    assert.equal(recs[0].linkType, LinkType.Ipv4);
    assert.equal(recs[1].interfaceId, 1);
    assert.equal(recs[1].linkType, LinkType.Ethernet);
    assert.equal(recs[1].tsNs, 103_500_000_000n);
    assert.equal(recs[1].origLen, 200);
    assert.equal(recs[1].l3Off, 14);
  });

  it('starts afresh at each section header, even with another byte order', () => {
    const f = cat(shb(true), idb(true, LinkType.Raw), epb(true, 0, 1n, ip4), shb(false), idb(false, LinkType.Ipv6), epb(false, 0, 2n, ip6));
    const recs = readCaptureAll(f);
    assert.deepEqual(recs.map((r) => [r.index, r.linkType, r.tsNs]), [
      [0, LinkType.Raw, 1000n],
      [1, LinkType.Ipv6, 2000n],
    ]);
    // Interfaces do not carry over into the next section.
    const noIface = cat(shb(true), idb(true, LinkType.Raw), shb(true), epb(true, 0, 1n, ip4));
    assert.throws(() => readCaptureAll(noIface), /refers to interface 0, but only 0 are described/);
  });

  it('names the byte offset of malformed blocks', () => {
    const head = cat(shb(true), idb(true, LinkType.Raw));
    const good = epb(true, 0, 1n, ip4);
    const badTrailer = good.slice();
    badTrailer[badTrailer.length - 4] ^= 4;
    assert.throws(
      () => readCaptureAll(cat(head, badTrailer)),
      (e: unknown) => e instanceof CaptureFormatError && e.offset === head.length + good.length - 4 && /trailing length/.test(e.message),
    );
    assert.throws(() => readCaptureAll(cat(head, good.subarray(0, 20))), new RegExp(`at byte ${head.length + 4}: block of ${good.length} bytes runs past`));
    const oddLen = good.slice();
    oddLen[4] = 13;
    assert.throws(() => readCaptureAll(cat(head, oddLen)), new RegExp(`at byte ${head.length + 4}: block total length`));
    const capTooBig = good.slice();
    capTooBig[20] = 0xff;
    assert.throws(() => readCaptureAll(cat(head, capTooBig)), new RegExp(`at byte ${head.length + 20}: captured length 255 runs past`));
    const badBom = shb(true);
    badBom[8] = 0;
    assert.throws(() => readCaptureAll(badBom), /at byte 8: section header byte-order magic/);
    assert.throws(() => readCaptureAll(cat(shb(true), good.subarray(0, 8))), new RegExp(`at byte ${shb(true).length}: block header cut short`));
  });
});
