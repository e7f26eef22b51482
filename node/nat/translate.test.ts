import assert from 'node:assert/strict';
import { parseAddress } from '../packet/address.js';
import { buildIcmpEcho, buildTcp, buildUdp, fragmentPacket, parseBuilt, type TcpOptions, type UdpOptions } from '../packet/build.js';
import { verifyIpv4HeaderChecksum, verifyL4Checksum } from '../packet/checksum.js';
import { PacketInfo } from '../packet/packet-info.js';
import { NatBinding, NatKind, NatManip } from './binding.js';
import { NatFlags } from './nat-flags.js';
import { PortAllocator } from './port-allocator.js';
import { natRequest } from './request.js';
import { NatSetupStatus, setupNat } from './setup.js';
import { type NatDirection, NatResult, applyNat } from './translate.js';
import { rng } from '../../inet/index.js';

const VNET = 10;

/** Translates a copy of `bytes` and returns it, after checking that it parses with right checksums. */
function translate(bytes: Uint8Array, b: NatBinding, dir: NatDirection, vnet = 0, mask: number = NatManip.Both): Uint8Array {
  const copy = bytes.slice();
  const p = parseBuilt(copy, vnet);
  assert.equal(applyNat(p, b, dir, mask), NatResult.Ok);
  assertChecksums(copy, vnet);
  return copy;
}

function assertChecksums(bytes: Uint8Array, vnet = 0): PacketInfo {
  const q = parseBuilt(bytes, vnet);
  assert.ok(verifyIpv4HeaderChecksum(q), 'IPv4 header checksum');
  assert.ok(verifyL4Checksum(q), 'L4 checksum');
  return q;
}

function bindingFor(first: Uint8Array, req: ReturnType<typeof natRequest>, iface: string | null = null, vnet = 0, key = 1): NatBinding {
  const b = new NatBinding();
  const a = new PortAllocator({ key: [key, key] });
  const st = setupNat(b, req, parseBuilt(first, vnet), a, iface === null ? null : parseAddress(iface).bytes);
  assert.equal(st, NatSetupStatus.Ok);
  return b;
}

interface Net {
  name: string;
  client: string;
  server: string;
  pub: string;
  lan: string;
  inside: string;
  bracket: (a: string) => string;
}

const NETS: Net[] = [
  { name: 'IPv4', client: '192.0.2.100', server: '198.51.100.100', pub: '198.51.100.2', lan: '192.0.2.2', inside: '192.0.2.10', bracket: (a) => a },
  { name: 'IPv6', client: '2001:db8::100', server: '2001:db8:1::100', pub: '2001:db8:1::2', lan: '2001:db8::2', inside: '2001:db8::10', bracket: (a) => `[${a}]` },
];

describe('nat translation', () => {
  for (const n of NETS) {
    describe(n.name, () => {
      const seg = (o: Partial<TcpOptions> & { src: string; dst: string; sport: number; dport: number }): Uint8Array =>
        buildTcp({ flags: 'PA', seq: 1000, ack: 2000, payload: 37, timestamp: [1, 2], ...o });

      it('SNAT rewrites the source of original packets and the destination of replies', () => {
        const first = seg({ src: n.client, dst: n.server, sport: 40000, dport: 80, flags: 'S' });
        const b = bindingFor(first, natRequest(NatKind.Snat, { to: `${n.bracket(n.pub)}:20000-20000` }));
        assert.deepEqual(translate(first, b, 'original'), seg({ src: n.pub, dst: n.server, sport: 20000, dport: 80, flags: 'S' }));
        const reply = seg({ src: n.server, dst: n.pub, sport: 80, dport: 20000 });
        assert.deepEqual(translate(reply, b, 'reply'), seg({ src: n.server, dst: n.client, sport: 80, dport: 40000 }));
      });

      it('masquerade translates to the interface address and keeps a free port', () => {
        const first = seg({ src: n.client, dst: n.server, sport: 40001, dport: 443 });
        const b = bindingFor(first, natRequest(NatKind.Masquerade), n.pub);
        assert.deepEqual(translate(first, b, 'original'), seg({ src: n.pub, dst: n.server, sport: 40001, dport: 443 }));
        const reply = seg({ src: n.server, dst: n.pub, sport: 443, dport: 40001 });
        assert.deepEqual(translate(reply, b, 'reply'), seg({ src: n.server, dst: n.client, sport: 443, dport: 40001 }));
      });

      it('DNAT (port forward) rewrites the destination of original packets and the source of replies', () => {
        const first = seg({ src: n.server, dst: n.pub, sport: 5555, dport: 80, flags: 'S' });
        const b = bindingFor(first, natRequest(NatKind.Dnat, { to: `${n.bracket(n.inside)}:8080` }));
        assert.deepEqual(translate(first, b, 'original'), seg({ src: n.server, dst: n.inside, sport: 5555, dport: 8080, flags: 'S' }));
        const reply = seg({ src: n.inside, dst: n.server, sport: 8080, dport: 5555 });
        assert.deepEqual(translate(reply, b, 'reply'), seg({ src: n.pub, dst: n.server, sport: 80, dport: 5555 }));
      });

      it('redirect sends to the firewall itself and replies come from the original destination', () => {
        const first = seg({ src: n.client, dst: n.server, sport: 40002, dport: 80 });
        const b = bindingFor(first, natRequest(NatKind.Redirect, { to: ':3128' }), n.lan);
        assert.deepEqual(translate(first, b, 'original'), seg({ src: n.client, dst: n.lan, sport: 40002, dport: 3128 }));
        const reply = seg({ src: n.lan, dst: n.client, sport: 3128, dport: 40002 });
        assert.deepEqual(translate(reply, b, 'reply'), seg({ src: n.server, dst: n.client, sport: 80, dport: 40002 }));
      });

      it('DNAT and SNAT on one connection translate both ends, and mask splits them', () => {
        const first = seg({ src: n.server, dst: n.pub, sport: 5555, dport: 80 });
        const b = new NatBinding();
        const a = new PortAllocator({ key: [2, 2] });
        setupNat(b, natRequest(NatKind.Dnat, { to: `${n.bracket(n.inside)}:8080` }), parseBuilt(first), a);
        setupNat(b, natRequest(NatKind.Snat, { to: `${n.bracket(n.lan)}:30000-30000` }), parseBuilt(first), a);
        const dnatOnly = translate(first, b, 'original', 0, NatManip.Dst);
        assert.deepEqual(dnatOnly, seg({ src: n.server, dst: n.inside, sport: 5555, dport: 8080 }));
        const both = translate(dnatOnly, b, 'original', 0, NatManip.Src);
        assert.deepEqual(both, seg({ src: n.lan, dst: n.inside, sport: 30000, dport: 8080 }));
        assert.deepEqual(translate(first, b, 'original'), both, 'all at once gives the same bytes');
        const reply = seg({ src: n.inside, dst: n.lan, sport: 8080, dport: 30000 });
        assert.deepEqual(translate(reply, b, 'reply'), seg({ src: n.pub, dst: n.server, sport: 80, dport: 5555 }));
      });

      it('translates UDP both ways', () => {
        const u = (o: UdpOptions): Uint8Array => buildUdp({ payload: 'query', ...o });
        const first = u({ src: n.client, dst: n.server, sport: 5353, dport: 53 });
        const b = bindingFor(first, natRequest(NatKind.Snat, { to: `${n.bracket(n.pub)}:1024-1024` }));
        assert.deepEqual(translate(first, b, 'original'), u({ src: n.pub, dst: n.server, sport: 1024, dport: 53 }));
        const reply = u({ src: n.server, dst: n.pub, sport: 53, dport: 1024, payload: 'answer!' });
        assert.deepEqual(translate(reply, b, 'reply'), u({ src: n.server, dst: n.client, sport: 53, dport: 5353, payload: 'answer!' }));
      });

      it('translates the ICMP echo id under SNAT and restores it on the reply', () => {
        const first = buildIcmpEcho({ src: n.client, dst: n.server, id: 7, seq: 1, payload: 56 });
        const b = bindingFor(first, natRequest(NatKind.Snat, { to: `${n.bracket(n.pub)}:900-900` }));
        assert.deepEqual(translate(first, b, 'original'), buildIcmpEcho({ src: n.pub, dst: n.server, id: 900, seq: 1, payload: 56 }));
        const reply = buildIcmpEcho({ src: n.server, dst: n.pub, id: 900, seq: 1, payload: 56, reply: true });
        assert.deepEqual(translate(reply, b, 'reply'), buildIcmpEcho({ src: n.server, dst: n.client, id: 7, seq: 1, payload: 56, reply: true }));
      });

      it('keeps offloaded super-packets (GSO, NeedsCsum) right: partial sum follows the addresses only', () => {
        const big = (o: { src: string; dst: string; sport: number; dport: number }): Uint8Array =>
          buildTcp({ ...o, flags: 'A', seq: 5, payload: 4 * 1448 + 3, gso: 1448 });
        const first = buildTcp({ src: n.client, dst: n.server, sport: 40003, dport: 80, flags: 'S' });
        const b = bindingFor(first, natRequest(NatKind.Snat, { to: `${n.bracket(n.pub)}:20001-20001` }));
        const out = translate(big({ src: n.client, dst: n.server, sport: 40003, dport: 80 }), b, 'original', VNET);
        assert.deepEqual(out, big({ src: n.pub, dst: n.server, sport: 20001, dport: 80 }));
        const back = translate(big({ src: n.server, dst: n.pub, sport: 80, dport: 20001 }), b, 'reply', VNET);
        assert.deepEqual(back, big({ src: n.server, dst: n.client, sport: 80, dport: 40003 }));
        assert.equal(parseBuilt(back, VNET).segments, 5);
      });

      it('keeps a UDP partial checksum (NeedsCsum) right', () => {
        const u = (src: string, dst: string, sport: number, dport: number): Uint8Array =>
          buildUdp({ src, dst, sport, dport, payload: 1001, partialCsum: true });
        const first = u(n.client, n.server, 4000, 4433);
        const b = bindingFor(first, natRequest(NatKind.Snat, { to: `${n.bracket(n.pub)}:1025-1025` }), null, VNET);
        assert.deepEqual(translate(first, b, 'original', VNET), u(n.pub, n.server, 1025, 4433));
        assert.deepEqual(translate(u(n.server, n.pub, 4433, 1025), b, 'reply', VNET), u(n.server, n.client, 4433, 4000));
      });

      it('matches a full recomputation for random tuples and payloads (bounded)', () => {
        const r = rng(n.name === 'IPv4' ? 4 : 6);
        for (let i = 0; i < 150; i++) {
          const sport = 1 + Math.floor(r() * 65535);
          const dport = 1 + Math.floor(r() * 65535);
          const natPort = 1 + Math.floor(r() * 65535);
          const len = Math.floor(r() * 300);
          const udp = r() < 0.5;
          const mk = (src: string, dst: string, sp: number, dp: number): Uint8Array =>
            udp ? buildUdp({ src, dst, sport: sp, dport: dp, payload: len }) : buildTcp({ src, dst, sport: sp, dport: dp, seq: i * 7919, payload: len });
          const first = mk(n.client, n.server, sport, dport);
          const b = bindingFor(first, natRequest(NatKind.Snat, { to: `${n.bracket(n.pub)}:${natPort}-${natPort}` }), null, 0, i);
          assert.deepEqual(translate(first, b, 'original'), mk(n.pub, n.server, natPort, dport), `case ${i}`);
          assert.deepEqual(translate(mk(n.server, n.pub, dport, natPort), b, 'reply'), mk(n.server, n.client, dport, sport), `case ${i}`);
        }
      });
    });
  }

  it('leaves a UDP checksum of 0 (IPv4 "none") at 0', () => {
    const first = buildUdp({ src: '192.0.2.100', dst: '198.51.100.100', sport: 1000, dport: 53, payload: 9, noChecksum: true });
    const b = bindingFor(first, natRequest(NatKind.Snat, { to: '198.51.100.2:2000-2000' }));
    const out = translate(first, b, 'original');
    const q = parseBuilt(out);
    assert.equal((out[q.l4Off + 6] << 8) | out[q.l4Off + 7], 0);
    assert.equal(q.sport, 2000);
  });

  it('rewrites only the address of a non-first fragment, and ports in the first', () => {
    const whole = buildUdp({ src: '192.0.2.100', dst: '198.51.100.100', sport: 1000, dport: 53, payload: 100 });
    const b = bindingFor(whole, natRequest(NatKind.Snat, { to: '198.51.100.2:2000-2000' }));
    const frags = fragmentPacket(whole, 48);
    const expected = fragmentPacket(buildUdp({ src: '198.51.100.2', dst: '198.51.100.100', sport: 2000, dport: 53, payload: 100 }), 48);
    assert.ok(frags.length >= 3);
    for (let i = 0; i < frags.length; i++) {
      const copy = frags[i].slice();
      assert.equal(applyNat(parseBuilt(copy), b, 'original'), NatResult.Ok);
      assert.ok(verifyIpv4HeaderChecksum(parseBuilt(copy)));
      assert.deepEqual(copy, expected[i], `fragment ${i}`);
    }
  });

  it('reports a family mismatch and an empty binding without touching the packet', () => {
    const v4 = buildTcp({ src: '192.0.2.100', dst: '198.51.100.100', sport: 1, dport: 2 });
    const v6 = buildTcp({ src: '2001:db8::100', dst: '2001:db8:1::100', sport: 1, dport: 2 });
    const b = bindingFor(v4, natRequest(NatKind.Snat, { to: '198.51.100.2', flags: NatFlags.Random }));
    const copy = v6.slice();
    assert.equal(applyNat(parseBuilt(copy), b, 'original'), NatResult.Unsupported);
    assert.deepEqual(copy, v6);
    const empty = new NatBinding();
    const a = new PortAllocator({ key: [1, 2] });
    setupNat(empty, natRequest(NatKind.Dnat, { to: '192.0.2.10' }), parseBuilt(v4), a);
    assert.equal(applyNat(parseBuilt(v4.slice()), empty, 'original', NatManip.Src), NatResult.Nothing);
  });
});
