import assert from 'node:assert/strict';
import { ip } from './ip-address.js';
import { computeChecksum, decode, encode, encodingLength, VrrpAdvertisement } from './vrrp-packet.js';

/** Naive reference: one's complement sum over an explicit pseudo-header + message. */
function referenceSum(pseudo: number[], msg: Uint8Array): number {
  const all = [...pseudo, ...msg];
  if (all.length % 2) all.push(0);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) s += (all[i]! << 8) | all[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
  return s;
}
function v4Pseudo(src: Uint8Array, dst: Uint8Array, len: number): number[] {
  return [...src, ...dst, 0, 112, len >> 8, len & 0xff];
}
function v6Pseudo(src: Uint8Array, dst: Uint8Array, len: number): number[] {
  // RFC 8200 §8.1: src, dst, 32-bit upper-layer length, 3 zero bytes, next header.
  return [...src, ...dst, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff, 0, 0, 0, 112];
}

const v4: VrrpAdvertisement = {
  family: 4, vrid: 2, priority: 150, maxAdverIntervalCs: 100,
  addresses: [ip('185.203.112.1'), ip('10.0.0.1'), ip('10.0.8.1')],
};
const v4ctx = { src: ip('10.0.0.3'), dst: ip('224.0.0.18') };

describe('vrrp-packet', () => {
  it('encodes the IPv4 advertisement a keepalived maintainer confirmed (checksum 0x082d)', () => {
    // keepalived issue #642/#1490: VRID 2, prio 150, 3 addrs, 100 cs, from 10.0.0.3.
    const b = encode(v4, v4ctx);
    assert.equal(Buffer.from(b).toString('hex'), '310296030064082db9cb70010a0000010a000801');
  });

  it('IPv4 checksum sums to 0xffff with the RFC 768-style pseudo-header', () => {
    const b = encode(v4, v4ctx);
    assert.equal(referenceSum(v4Pseudo(v4ctx.src, v4ctx.dst, b.length), b), 0xffff);
  });

  it('IPv6 checksum sums to 0xffff with the RFC 8200 pseudo-header', () => {
    const pkt: VrrpAdvertisement = { family: 6, vrid: 7, priority: 200, maxAdverIntervalCs: 10, addresses: [ip('2001:db8::1'), ip('fe80::1')] };
    const ctx = { src: ip('fe80::200:5eff:fe00:207'), dst: ip('ff02::12') };
    const b = encode(pkt, ctx);
    assert.equal(b.length, 8 + 32);
    assert.equal(referenceSum(v6Pseudo(ctx.src, ctx.dst, b.length), b), 0xffff);
    // and a different source changes it: the pseudo-header really is included
    assert.notEqual(computeChecksum(b, 0, b.length, { ...ctx, src: ip('fe80::2') }), (b[6]! << 8) | b[7]!);
  });

  it('the v2-compatible variant checksums the message alone', () => {
    const b = encode(v4, v4ctx, undefined, 0, 'noPseudoHeader');
    assert.equal(referenceSum([], b), 0xffff);
  });

  it('round-trips IPv4 and IPv6 advertisements, including the 12-bit interval bounds', () => {
    for (const iv of [1, 100, 4095]) {
      const b = encode({ ...v4, maxAdverIntervalCs: iv }, v4ctx);
      const d = decode(b, v4ctx);
      assert.ok(d.ok);
      assert.deepEqual(d.packet, { ...v4, maxAdverIntervalCs: iv });
      assert.equal(d.checksumVariant, 'pseudoHeader');
    }
    const p6: VrrpAdvertisement = { family: 6, vrid: 255, priority: 0, maxAdverIntervalCs: 1, addresses: [ip('2001:db8:1::1')] };
    const c6 = { src: ip('fe80::a'), dst: ip('ff02::12') };
    const d6 = decode(encode(p6, c6), c6);
    assert.ok(d6.ok);
    assert.deepEqual(d6.packet, p6);
  });

  it('encodes at an offset into a caller buffer, and encodingLength matches', () => {
    const buf = new Uint8Array(64).fill(0xaa);
    const view = encode(v4, v4ctx, buf, 10);
    assert.equal(view.length, encodingLength(v4));
    assert.equal(buf[9], 0xaa);
    assert.equal(buf[10 + view.length], 0xaa);
    const d = decode(buf, v4ctx, 10, view.length);
    assert.ok(d.ok);
    assert.equal(d.packet.priority, 150);
  });

  it('rejects a checksum computed for another variant unless that variant is accepted', () => {
    const b = encode(v4, v4ctx, undefined, 0, 'noPseudoHeader');
    const strict = decode(b, v4ctx);
    assert.ok(!strict.ok);
    assert.equal(strict.error.code, 'badChecksum');
    const lax = decode(b, v4ctx, 0, b.length, { acceptChecksums: ['pseudoHeader', 'noPseudoHeader'] });
    assert.ok(lax.ok);
    assert.equal(lax.checksumVariant, 'noPseudoHeader');
  });

  it('accepts old keepalived unicast checksums (multicast group in the pseudo-header) when asked', () => {
    const uni = { src: ip('10.0.0.3'), dst: ip('10.0.0.4') };
    const old = encode(v4, uni, undefined, 0, 'multicastDestination');
    assert.deepEqual(old, encode(v4, v4ctx)); // same bytes as the multicast advert
    assert.ok(!decode(old, uni).ok);
    const d = decode(old, uni, 0, old.length, { acceptChecksums: ['pseudoHeader', 'multicastDestination'] });
    assert.ok(d.ok);
    assert.equal(d.checksumVariant, 'multicastDestination');
  });

  it("accepts any checksum only when 'unverified' is explicitly allowed, and never sends it", () => {
    const b = encode(v4, v4ctx);
    b[6] ^= 0xff;
    assert.ok(!decode(b, v4ctx, 0, b.length, { acceptChecksums: ['pseudoHeader', 'noPseudoHeader'] }).ok);
    const d = decode(b, v4ctx, 0, b.length, { acceptChecksums: ['pseudoHeader', 'unverified'] });
    assert.ok(d.ok);
    assert.equal(d.checksumVariant, 'unverified');
    assert.throws(() => encode(v4, v4ctx, undefined, 0, 'unverified'), RangeError);
  });

  it('reports typed errors for malformed packets', () => {
    const good = encode(v4, v4ctx);
    const mut = (f: (b: Uint8Array) => void) => { const b = Uint8Array.from(good); f(b); return b; };
    const code = (b: Uint8Array, len = b.length) => { const d = decode(b, v4ctx, 0, len); return d.ok ? 'ok' : d.error.code; };
    assert.equal(code(good), 'ok');
    assert.equal(code(good.subarray(0, 5)), 'truncated');
    assert.equal(code(good, 15), 'truncated');
    assert.equal(code(mut((b) => { b[0] = 0x21; })), 'badVersion');
    assert.equal(code(mut((b) => { b[0] = 0x32; })), 'badType');
    assert.equal(code(mut((b) => { b[3] = 0; })), 'badAddressCount');
    assert.equal(code(mut((b) => { b[3] = 2; })), 'badLength');
    assert.equal(code(mut((b) => { b[4] = 0; b[5] = 0; })), 'badInterval');
    assert.equal(code(mut((b) => { b[19] ^= 1; })), 'badChecksum');
    assert.equal(code(Uint8Array.of(...good, 0, 0, 0, 0)), 'badLength');
    const fam = decode(good, { src: ip('10.0.0.3'), dst: ip('ff02::12') });
    assert.ok(!fam.ok && fam.error.code === 'badFamily');
    const range = decode(good, v4ctx, 4, 100);
    assert.ok(!range.ok && range.error.code === 'truncated');
  });

  it('never throws on random input (bounded fuzz)', () => {
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
    const good = encode(v4, v4ctx);
    for (let i = 0; i < 3000; i++) {
      const len = rnd() % 48;
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = j < good.length && rnd() % 3 ? good[j]! : rnd() & 0xff;
      const d = decode(b, rnd() % 2 ? v4ctx : { src: ip('fe80::1'), dst: ip('ff02::12') }, 0, len, { acceptChecksums: ['pseudoHeader', 'noPseudoHeader'] });
      assert.equal(typeof d.ok, 'boolean');
    }
  });

  it('refuses to encode out-of-range fields', () => {
    assert.throws(() => encode({ ...v4, maxAdverIntervalCs: 4096 }, v4ctx), RangeError);
    assert.throws(() => encode({ ...v4, vrid: 0 }, v4ctx), RangeError);
    assert.throws(() => encode({ ...v4, addresses: [] }, v4ctx), RangeError);
    assert.throws(() => encode(v4, { src: ip('fe80::1'), dst: ip('ff02::12') }), RangeError);
  });
});
