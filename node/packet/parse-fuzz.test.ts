import assert from 'node:assert/strict';
import { buildIcmpEcho, buildIcmpError, buildIp, buildTcp, buildUdp, fragmentPacket } from './build.js';
import { IpProto, PacketInfo, ParseStatus } from './packet-info.js';
import { parseInner, parsePacket } from './parse.js';
import { rng } from '../../inet/index.js';

/** Every parsed field as numbers, into a reused array. */
function snapshot(i: PacketInfo, out: Float64Array): void {
  let k = 0;
  out[k++] = i.status;
  out[k++] = i.vnetFlags;
  out[k++] = i.gsoType;
  out[k++] = i.gsoHdrLen;
  out[k++] = i.gsoSize;
  out[k++] = i.csumStart;
  out[k++] = i.csumOffset;
  out[k++] = i.family;
  out[k++] = i.l3Off;
  out[k++] = i.l3HdrLen;
  out[k++] = i.end;
  out[k++] = i.srcOff;
  out[k++] = i.dstOff;
  out[k++] = i.addrLen;
  out[k++] = i.ttl;
  out[k++] = i.tos;
  out[k++] = i.ipId;
  out[k++] = i.isFragment ? 1 : 0;
  out[k++] = i.fragOffset;
  out[k++] = i.moreFragments ? 1 : 0;
  out[k++] = i.l4proto;
  out[k++] = i.l4Off;
  out[k++] = i.l4Valid ? 1 : 0;
  out[k++] = i.sport;
  out[k++] = i.dport;
  out[k++] = i.tcpFlags;
  out[k++] = i.seq;
  out[k++] = i.ack;
  out[k++] = i.window;
  out[k++] = i.tcpHdrLen;
  out[k++] = i.tcpOptOff;
  out[k++] = i.tcpOptLen;
  out[k++] = i.icmpType;
  out[k++] = i.icmpCode;
  out[k++] = i.icmpId;
  out[k++] = i.icmpInnerOff;
  out[k++] = i.payloadLen;
  out[k++] = i.segments;
}

function corpus(): Uint8Array[] {
  const V4 = { src: '192.0.2.100', dst: '198.51.100.100' };
  const V6 = { src: '2001:db8::100', dst: '2001:db8:1::100' };
  const tcp4 = buildTcp({ ...V4, sport: 1, dport: 2, flags: 'S', mss: 1460, wscale: 7, sackPerm: true, timestamp: [1, 0], payload: 20 });
  const tcp6 = buildTcp({ ...V6, ext: [{ type: 'hop' }, { type: 'routing', body: new Uint8Array(6) }, { type: 'dst' }], sport: 3, dport: 4, payload: 16 });
  return [
    tcp4,
    tcp6,
    buildUdp({ ...V4, ipOptions: new Uint8Array(8), sport: 5, dport: 6, payload: 12 }),
    buildUdp({ ...V6, ext: [{ type: 'ah' }], sport: 5, dport: 6, payload: 9 }),
    buildIcmpEcho({ ...V4, id: 7, payload: 8 }),
    buildIcmpEcho({ ...V6, id: 7, payload: 8 }),
    buildIcmpError({ src: '203.0.113.1', dst: V4.src, type: 3, code: 4, quote: tcp4, quoteLen: 40 }),
    buildIcmpError({ src: '2001:db8::1', dst: V6.src, type: 1, quote: tcp6, quoteLen: 90 }),
    ...fragmentPacket(buildUdp({ ...V4, sport: 1, dport: 2, payload: 40 }), 24),
    ...fragmentPacket(buildUdp({ ...V6, sport: 1, dport: 2, payload: 40 }), 24),
    buildTcp({ ...V4, sport: 1, dport: 2, payload: 3000, gso: 1000 }),
    buildTcp({ ...V6, sport: 1, dport: 2, payload: 3000, gso: 1000 }),
    buildIp({ ...V6, proto: IpProto.Esp, payload: new Uint8Array(16) }),
  ];
}

describe('parsePacket under fuzzing', function () {
  this.timeout(30000);

  it('never throws and never lets bytes outside [off, off+len) change the result (200,000 buffers)', () => {
    const r = rng(7);
    const seeds = corpus();
    const info = new PacketInfo();
    const inner = new PacketInfo();
    const a = new Float64Array(40);
    const b = new Float64Array(40);
    const ia = new Float64Array(40);
    const ib = new Float64Array(40);
    const PAD = 16;
    const bufA = new Uint8Array(70000);
    const bufB = new Uint8Array(70000);
    const statuses = [0, 0, 0, 0];
    const started = Date.now();
    const N = 200_000;
    for (let n = 0; n < N; n++) {
      // Half random bytes (with a plausible version nibble), half mutations of real packets.
      let len: number;
      const vnet = r() < 0.3 ? 10 : 0;
      if (n % 2 === 0) {
        len = vnet + ((r() * 120) | 0);
        for (let k = 0; k < len; k++) bufA[PAD + k] = (r() * 256) | 0;
        if (len > vnet && r() < 0.8) bufA[PAD + vnet] = (r() < 0.5 ? 0x40 : 0x60) | (bufA[PAD + vnet] & 0x0f);
      } else {
        const s = seeds[(r() * seeds.length) | 0];
        // Seeds built with gso carry a vnet header already; others get one only sometimes.
        const seedVnet = s[0] === 0x01 ? 10 : 0;
        const useVnet = seedVnet || vnet;
        len = s.length + (useVnet && !seedVnet ? 10 : 0);
        if (len > bufA.length - 2 * PAD) len = bufA.length - 2 * PAD;
        if (useVnet && !seedVnet) {
          for (let k = 0; k < 10; k++) bufA[PAD + k] = r() < 0.8 ? 0 : (r() * 256) | 0;
          bufA.set(s.subarray(0, len - 10), PAD + 10);
        } else {
          bufA.set(s.subarray(0, len), PAD);
        }
        const flips = 1 + ((r() * 4) | 0);
        for (let f = 0; f < flips; f++) bufA[PAD + ((r() * len) | 0)] = (r() * 256) | 0;
        if (r() < 0.3) len = (r() * len) | 0;
      }
      const vlen = n % 2 === 0 ? vnet : bufA[PAD] === 0x01 || vnet ? 10 : 0;
      // Same bytes inside, different bytes outside the packet's range.
      for (let k = 0; k < PAD; k++) {
        bufA[k] = 0x00;
        bufA[PAD + len + k] = 0x00;
        bufB[k] = 0xff;
        bufB[PAD + len + k] = 0xff;
      }
      bufB.set(bufA.subarray(PAD, PAD + len), PAD);

      const sa = parsePacket(info, bufA, PAD, len, vlen);
      snapshot(info, a);
      if (sa === ParseStatus.Ok && info.icmpInnerOff !== 0) {
        parseInner(inner, bufA, info.icmpInnerOff, info.end);
        snapshot(inner, ia);
      }
      const sb = parsePacket(info, bufB, PAD, len, vlen);
      snapshot(info, b);
      if (sb === ParseStatus.Ok && info.icmpInnerOff !== 0) {
        parseInner(inner, bufB, info.icmpInnerOff, info.end);
        snapshot(inner, ib);
        assert.deepEqual(ib, ia, `case ${n}: quoted packet parse depends on bytes outside the packet`);
      }
      assert.deepEqual(b, a, `case ${n}: parse depends on bytes outside the packet`);
      if (sa === ParseStatus.Ok) {
        assert.ok(info.end <= PAD + len && info.l4Off <= info.end, `case ${n}: offsets inside the packet`);
        assert.ok(info.payloadLen >= 0, `case ${n}: payloadLen >= 0`);
      }
      statuses[sa]++;
    }
    const ms = Date.now() - started;
    // Every class must actually have been exercised, or the fuzzer proves little.
    for (let s = 0; s < 4; s++) assert.ok(statuses[s] > 100, `status ${s} seen ${statuses[s]} times`);
    assert.ok(ms < 15000, `took ${ms} ms`);
  });

  it('reads only indexes inside [off, off+len) (checked through a recording proxy, 20,000 buffers)', () => {
    const r = rng(99);
    const seeds = corpus();
    const info = new PacketInfo();
    const inner = new PacketInfo();
    const raw = new Uint8Array(8192);
    let lo = Infinity;
    let hi = -Infinity;
    const spy = new Proxy(raw, {
      get(target, prop, receiver) {
        if (typeof prop === 'string') {
          const c = prop.charCodeAt(0);
          if (c >= 48 && c <= 57) {
            const idx = Number(prop);
            if (idx < lo) lo = idx;
            if (idx > hi) hi = idx;
            return target[idx];
          }
        }
        const v = Reflect.get(target, prop, target);
        void receiver;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as Uint8Array;
    const off = 100;
    let checked = 0;
    for (let n = 0; n < 20000; n++) {
      const s = seeds[n % seeds.length];
      const vlen = s[0] === 0x01 ? 10 : 0;
      let len = Math.min(s.length, raw.length - 2 * off);
      raw.fill(0xa5);
      raw.set(s.subarray(0, len), off);
      const flips = (r() * 4) | 0;
      for (let f = 0; f < flips; f++) raw[off + ((r() * len) | 0)] = (r() * 256) | 0;
      len = r() < 0.5 ? len : (r() * len) | 0;
      lo = Infinity;
      hi = -Infinity;
      const st = parsePacket(info, spy, off, len, vlen);
      if (lo !== Infinity) {
        checked++;
        assert.ok(lo >= off && hi < off + len, `case ${n}: read [${lo}, ${hi}] outside [${off}, ${off + len})`);
      }
      if (st === ParseStatus.Ok && info.icmpInnerOff !== 0) {
        lo = Infinity;
        hi = -Infinity;
        parseInner(inner, spy, info.icmpInnerOff, info.end);
        if (lo !== Infinity) assert.ok(lo >= info.icmpInnerOff && hi < info.end, `case ${n}: inner read outside the quote`);
      }
    }
    // The proxy must really have seen the reads (a parser reading through some other
    // path would make this test vacuous).
    assert.ok(checked > 15000, `reads recorded in ${checked} cases`);
  });
});
