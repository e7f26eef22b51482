import assert from 'node:assert/strict';
import { drops, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { buildIcmpEcho, buildTcp, buildUdp } from '../../packet/build.js';
import { refusal } from '../test-refusal.js';

const v4udp = buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', ttl: 64, sport: 1000, dport: 53, payload: 'GET /' });
const v6udp = buildUdp({ src: '2001:db8::1', dst: '2001:db8:1::1', ttl: 63, sport: 1000, dport: 53, payload: 'GET /' });
const v4tcp = buildTcp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1000, dport: 80, seq: 0x01020304, options: Uint8Array.of(2, 4, 5, 0xb4), payload: 'HEAD' });
const v6tcp = buildTcp({ src: '2001:db8::1', dst: '2001:db8:1::1', sport: 1000, dport: 80, seq: 7, payload: 'HEAD' });

describe('raw payload: @nh, @th, @ih', () => {
  it('@nh reads the network header, IPv4 and IPv6', () => {
    assert.equal(drops('@nh,64,8 64', v4udp), true, 'IPv4 TTL');
    assert.equal(drops('@nh,96,32 0xc0000201', v4udp), true, 'IPv4 source 192.0.2.1');
    assert.equal(drops('@nh,72,8 17', v4udp), true, 'IPv4 protocol');
    assert.equal(drops('@nh,56,8 63', v6udp), true, 'IPv6 hop limit');
    assert.equal(drops('@nh,64,32 0x20010db8', v6udp), true, 'first 32 bits of the IPv6 source');
    assert.equal(drops('@nh,0,8 & 0xf0 == 0x60', v6udp), true, 'version 6');
    assert.equal(drops('@nh,64,8 1-5', v4udp), false);
    assert.equal(drops('@nh,64,8 != 64', v4udp), false);
  });

  it('@th reads the transport header (after IPv6 extension headers), @th,0,16 and @th,16,16 are th sport / th dport', () => {
    assert.equal(drops('@th,32,32 0x01020304', v4tcp), true, 'TCP sequence number');
    assert.equal(drops('@th,32,32 7', v6tcp), true);
    assert.equal(drops('@th,104,8 & 0x02 == 0x02', v4tcp), false, 'not a SYN (ACK only)');
    assert.equal(drops('@th,16,16 53', v4udp), true);
    assert.equal(drops('@th,0,16 { 999, 1000 }', v6udp), true);
    assert.equal(drops('@th,32,16 13', v4udp), true, 'UDP length: 8 + 5');
    const echo = buildIcmpEcho({ src: '192.0.2.1', dst: '198.51.100.1', id: 0x1234, seq: 1 });
    assert.equal(drops('@th,32,16 0x1234', echo), true, 'the echo identifier of ICMP');
    // Beyond the packet: no value, not even !=.
    assert.equal(drops('@th,800,32 != 0', v4udp), false);
  });

  it('@ih reads the transport payload: after the TCP header with its options, after the UDP header', () => {
    assert.equal(drops('@ih,0,32 0x48454144', v4tcp), true, '"HEAD" after 24 bytes of TCP header');
    assert.equal(drops('@ih,0,32 0x48454144', v6tcp), true);
    assert.equal(drops('@ih,0,24 0x474554', v4udp), true, '"GET"');
    assert.equal(drops('@ih,0,24 0x474554', v6udp), true);
    const echo = buildIcmpEcho({ src: '192.0.2.1', dst: '198.51.100.1', id: 1, seq: 1, payload: 'GET' });
    assert.equal(drops('@ih,0,8 != 0', echo), false, 'ICMP has no inner offset');
  });

  it('lists (values in hex) and writes JSON as nft 1.0.6; both round trips', () => {
    const raw = (base: string, offset: number, len: number) => ({ payload: { base, offset, len } });
    assert.deepEqual(roundTrips('@nh,64,8 64 accept', '@nh,64,8 0x40 accept')[0], { match: { op: '==', left: raw('nh', 64, 8), right: 64 } });
    assert.deepEqual(roundTrips('@th,64,32 { 1, 2 } drop', '@th,64,32 { 0x1, 0x2 } drop')[0], { match: { op: '==', left: raw('th', 64, 32), right: { set: [1, 2] } } });
    assert.deepEqual(roundTrips('@ih,0,32 0x47455420 drop')[0], { match: { op: '==', left: raw('ih', 0, 32), right: 0x47455420 } });
    roundTrips('@nh,64,8 & 0xf0 == 0x40 accept');
    roundTrips('@nh,64,8 1-5 accept', '@nh,64,8 0x1-0x5 accept');
    assert.deepEqual(roundTrips('@th,16,16 22 accept', 'th dport 22 accept')[0], { match: { op: '==', left: { payload: { protocol: 'th', field: 'dport' } }, right: 22 } });
  });

  it('refuses loads of part of a byte, wider than 32 bits, and @ll, with the place and what to write', () => {
    const load = (rule: string) => () => new RulesetEngine().load(`table inet t {\n chain c {\n  ${rule}\n }\n}\n`, 'x.nft');
    assert.match(refusal(load('@th,0,1 1 accept')), /^x\.nft:3:3: '@th,0,1': hafw takes raw payloads of whole bytes .* write @th,0,8 & MASK == VALUE/);
    assert.match(refusal(load('@nh,4,12 5 accept')), /write @nh,0,16 & MASK == VALUE/);
    assert.match(refusal(load('@nh,64,128 1 accept')), /^x\.nft:3:3: '@nh,64,128': hafw takes raw payloads of at most 32 bits/);
    assert.match(refusal(load('@ll,0,8 1 accept')), /^x\.nft:3:3: '@ll' reads the link-layer header/);
    assert.match(refusal(load('@nh,64 1 accept')), /^x\.nft:3:10: expected ','/);
    const json = (left: unknown) => () => new RulesetEngine().load({ nftables: [{ table: { family: 'ip', name: 't' } }, { chain: { family: 'ip', table: 't', name: 'c' } },
      { rule: { family: 'ip', table: 't', chain: 'c', expr: [{ match: { op: '==', left, right: 1 } }] } }] });
    assert.match(refusal(json({ payload: { base: 'th', offset: 0, len: 1 } })), /hafw takes raw payloads of whole bytes/);
    assert.match(refusal(json({ payload: { base: 'nh', offset: 0, len: 64 } })), /at most 32 bits/);
    assert.match(refusal(json({ payload: { base: 'll', offset: 0, len: 8 } })), /'@ll' reads the link-layer header/);
  });
});
