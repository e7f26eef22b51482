import assert from 'node:assert/strict';
import { buildTcp, buildUdp, parseBuilt } from './build.js';
import {
  TcpOptionKind,
  tcpFindOption,
  tcpMss,
  tcpSackBlocks,
  tcpSackPermitted,
  tcpTimestampEcho,
  tcpTimestampValue,
  tcpWindowScale,
} from './tcp-options.js';

const IP = { src: '192.0.2.100', dst: '198.51.100.100', sport: 40000, dport: 80 };

describe('TCP options', () => {
  it('reads MSS, window scale, SACK-permitted and timestamps of a SYN', () => {
    const i = parseBuilt(buildTcp({ ...IP, flags: 'S', mss: 1460, wscale: 7, sackPerm: true, timestamp: [0xdeadbeef, 17] }));
    assert.equal(tcpMss(i), 1460);
    assert.equal(tcpWindowScale(i), 7);
    assert.equal(tcpSackPermitted(i), true);
    assert.equal(tcpTimestampValue(i), 0xdeadbeef);
    assert.equal(tcpTimestampEcho(i), 17);
  });

  it('returns -1 / false for absent options', () => {
    const i = parseBuilt(buildTcp({ ...IP, flags: 'S' }));
    assert.equal(i.tcpOptLen, 0);
    assert.equal(tcpMss(i), -1);
    assert.equal(tcpWindowScale(i), -1);
    assert.equal(tcpSackPermitted(i), false);
    assert.equal(tcpTimestampValue(i), -1);
    assert.equal(tcpTimestampEcho(i), -1);
    assert.equal(tcpSackBlocks(i), 0);
  });

  it('is not fooled by a UDP packet', () => {
    assert.equal(tcpMss(parseBuilt(buildUdp({ ...IP, payload: Uint8Array.from([2, 4, 5, 0xb4]) }))), -1);
  });

  it('clamps a window scale above 14 to 14 (RFC 7323 §2.3)', () => {
    const i = parseBuilt(buildTcp({ ...IP, flags: 'S', wscale: 15 }));
    assert.equal(tcpWindowScale(i), 14);
  });

  it('stops at End of Option List', () => {
    const i = parseBuilt(buildTcp({ ...IP, options: Uint8Array.from([0, 0, 0, 0, 2, 4, 5, 0xb4]) }));
    assert.equal(tcpMss(i), -1);
  });

  it('treats an option with a bad length, and everything after it, as absent', () => {
    const zeroLen = parseBuilt(buildTcp({ ...IP, options: Uint8Array.from([8, 0, 2, 4, 5, 0xb4, 1, 1]) }));
    assert.equal(tcpMss(zeroLen), -1);
    const overrun = parseBuilt(buildTcp({ ...IP, options: Uint8Array.from([1, 1, 2, 4, 5, 0xb4, 3, 9]) }));
    assert.equal(tcpMss(overrun), 1460);
    assert.equal(tcpWindowScale(overrun), -1);
  });

  it('ignores an option of the right kind with the wrong length', () => {
    const i = parseBuilt(buildTcp({ ...IP, options: Uint8Array.from([2, 3, 5, 2, 4, 5, 0xb4, 1]) }));
    assert.equal(tcpMss(i), 1460);
  });

  it('counts SACK blocks and locates them', () => {
    const sack = Uint8Array.from([1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
    const i = parseBuilt(buildTcp({ ...IP, options: sack }));
    assert.equal(tcpSackBlocks(i), 2);
    const p = tcpFindOption(i, TcpOptionKind.Sack);
    assert.equal(p, i.tcpOptOff + 2);
    assert.equal(i.buf[p + 2 + 8 + 7], 4);
  });

  it('reads options only as far as an ICMP quote went', () => {
    const i = parseBuilt(buildTcp({ ...IP, flags: 'S', mss: 1460, wscale: 3 }));
    i.tcpOptLen = 4; // as parseInner would expose for a quote cut after the MSS option
    assert.equal(tcpMss(i), 1460);
    assert.equal(tcpWindowScale(i), -1);
  });
});
