import assert from 'node:assert/strict';
import { buildIcmpEcho, buildIcmpError, buildTcp, buildUdp, parseBuilt, parseQuoted } from '../packet/build.js';
import { verifyIpv4HeaderChecksum, verifyL4Checksum } from '../packet/checksum.js';
import { PacketInfo } from '../packet/packet-info.js';
import { NatBinding, NatKind } from './binding.js';
import { PortAllocator } from './port-allocator.js';
import { natRequest } from './request.js';
import { NatSetupStatus, setupNat } from './setup.js';
import { type NatDirection, NatResult, applyNat, translateIcmpError } from './translate.js';

interface Net {
  name: string;
  client: string;
  server: string;
  pub: string;
  inside: string;
  router: string;
  /** Destination / port unreachable and time exceeded for this family. */
  unreach: number;
  portCode: number;
  timeExceeded: number;
  /** IP header + 8 bytes: the minimum a router quotes (RFC 792). */
  minQuote: number;
  bracket: (a: string) => string;
}

const NETS: Net[] = [
  { name: 'IPv4', client: '192.0.2.100', server: '198.51.100.100', pub: '198.51.100.2', inside: '192.0.2.10', router: '198.51.100.254', unreach: 3, portCode: 3, timeExceeded: 11, minQuote: 28, bracket: (a) => a },
  { name: 'IPv6', client: '2001:db8::100', server: '2001:db8:1::100', pub: '2001:db8:1::2', inside: '2001:db8::10', router: '2001:db8:1::fe', unreach: 1, portCode: 4, timeExceeded: 3, minQuote: 48, bracket: (a) => `[${a}]` },
];

function binding(first: Uint8Array, req: ReturnType<typeof natRequest>): NatBinding {
  const b = new NatBinding();
  assert.equal(setupNat(b, req, parseBuilt(first), new PortAllocator({ key: [5, 5] })), NatSetupStatus.Ok);
  return b;
}

/** Translates a copy of the error and checks outer and quoted checksums. */
function translated(err: Uint8Array, b: NatBinding, dir: NatDirection, fullQuote: boolean): Uint8Array {
  const copy = err.slice();
  assert.equal(applyNat(parseBuilt(copy), b, dir), NatResult.Ok);
  const outer = parseBuilt(copy);
  assert.ok(verifyIpv4HeaderChecksum(outer), 'outer IPv4 header checksum');
  assert.ok(verifyL4Checksum(outer), 'outer ICMP checksum');
  const inner = parseQuoted(outer);
  assert.ok(verifyIpv4HeaderChecksum(inner), 'quoted IPv4 header checksum');
  if (fullQuote) assert.ok(verifyL4Checksum(inner), 'quoted L4 checksum');
  return copy;
}

describe('nat ICMP errors', () => {
  for (const n of NETS) {
    describe(n.name, () => {
      const tcp = (src: string, dst: string, sport: number, dport: number): Uint8Array =>
        buildTcp({ src, dst, sport, dport, flags: 'PA', seq: 99, payload: 200 });
      const snat = natRequest(NatKind.Snat, { to: `${n.bracket(n.pub)}:20000-20000` });

      it('an error from beyond the SNAT about a TCP segment reaches the client quoting its own segment', () => {
        const b = binding(tcp(n.client, n.server, 40000, 80), snat);
        const err = buildIcmpError({ src: n.router, dst: n.pub, type: n.timeExceeded, quote: tcp(n.pub, n.server, 20000, 80) });
        const want = buildIcmpError({ src: n.router, dst: n.client, type: n.timeExceeded, quote: tcp(n.client, n.server, 40000, 80) });
        assert.deepEqual(translated(err, b, 'reply', true), want);
      });

      it('a truncated quote (header + 8 bytes) is translated and the outer checksum stays right', () => {
        const b = binding(tcp(n.client, n.server, 40000, 80), snat);
        const err = buildIcmpError({ src: n.router, dst: n.pub, type: n.unreach, code: 1, quote: tcp(n.pub, n.server, 20000, 80), quoteLen: n.minQuote });
        const want = buildIcmpError({ src: n.router, dst: n.client, type: n.unreach, code: 1, quote: tcp(n.client, n.server, 40000, 80), quoteLen: n.minQuote });
        assert.deepEqual(translated(err, b, 'reply', false), want);
      });

      it('a port unreachable from the server about a UDP datagram is translated like its reply', () => {
        const udp = (src: string, dst: string, sport: number, dport: number): Uint8Array => buildUdp({ src, dst, sport, dport, payload: 'q' });
        const b = binding(udp(n.client, n.server, 5353, 53), snat);
        const err = buildIcmpError({ src: n.server, dst: n.pub, type: n.unreach, code: n.portCode, quote: udp(n.pub, n.server, 20000, 53) });
        const want = buildIcmpError({ src: n.server, dst: n.client, type: n.unreach, code: n.portCode, quote: udp(n.client, n.server, 5353, 53) });
        assert.deepEqual(translated(err, b, 'reply', true), want);
      });

      it('an error from the inside about a reply leaves with the public address and the untranslated reply quoted', () => {
        const udp = (src: string, dst: string, sport: number, dport: number): Uint8Array => buildUdp({ src, dst, sport, dport, payload: 'answer' });
        const b = binding(udp(n.client, n.server, 5353, 53), snat);
        const err = buildIcmpError({ src: n.client, dst: n.server, type: n.unreach, code: n.portCode, quote: udp(n.server, n.client, 53, 5353) });
        const want = buildIcmpError({ src: n.pub, dst: n.server, type: n.unreach, code: n.portCode, quote: udp(n.server, n.pub, 53, 20000) });
        assert.deepEqual(translated(err, b, 'original', true), want);
      });

      it('an error quoting a NATed echo request gets the original id back', () => {
        const echo = (src: string, dst: string, id: number): Uint8Array => buildIcmpEcho({ src, dst, id, seq: 3, payload: 24 });
        const b = binding(echo(n.client, n.server, 7), natRequest(NatKind.Snat, { to: `${n.bracket(n.pub)}:900-900` }));
        const err = buildIcmpError({ src: n.router, dst: n.pub, type: n.timeExceeded, quote: echo(n.pub, n.server, 900) });
        const want = buildIcmpError({ src: n.router, dst: n.client, type: n.timeExceeded, quote: echo(n.client, n.server, 7) });
        assert.deepEqual(translated(err, b, 'reply', true), want);
      });

      it('an error from a DNATed service appears to come from the public address', () => {
        const b = binding(tcp(n.server, n.pub, 5555, 80), natRequest(NatKind.Dnat, { to: `${n.bracket(n.inside)}:8080` }));
        // The service (or a router beside it) answers the forwarded segment with an error.
        const err = buildIcmpError({ src: n.inside, dst: n.server, type: n.unreach, code: n.portCode, quote: tcp(n.server, n.inside, 5555, 8080) });
        const want = buildIcmpError({ src: n.pub, dst: n.server, type: n.unreach, code: n.portCode, quote: tcp(n.server, n.pub, 5555, 80) });
        assert.deepEqual(translated(err, b, 'reply', true), want);
      });

      it('an error from the outside about a reply of a DNATed service reaches the service', () => {
        const b = binding(tcp(n.server, n.pub, 5555, 80), natRequest(NatKind.Dnat, { to: `${n.bracket(n.inside)}:8080` }));
        // The remote client got the translated reply (from the public address) and complains.
        const err = buildIcmpError({ src: n.server, dst: n.pub, type: n.unreach, code: n.portCode, quote: tcp(n.pub, n.server, 80, 5555) });
        const want = buildIcmpError({ src: n.server, dst: n.inside, type: n.unreach, code: n.portCode, quote: tcp(n.inside, n.server, 8080, 5555) });
        assert.deepEqual(translated(err, b, 'original', true), want);
      });

      it('translateIcmpError fills the caller\'s quote view and refuses a non-error', () => {
        const b = binding(tcp(n.client, n.server, 40000, 80), snat);
        const err = buildIcmpError({ src: n.router, dst: n.pub, type: n.timeExceeded, quote: tcp(n.pub, n.server, 20000, 80) });
        const view = new PacketInfo();
        assert.equal(translateIcmpError(parseBuilt(err), b, 'reply', view), NatResult.Ok);
        assert.equal(view.sport, 40000);
        assert.equal(translateIcmpError(parseBuilt(tcp(n.pub, n.server, 1, 2)), b, 'reply', view), NatResult.Unsupported);
      });
    });
  }

  it('leaves an error whose quote cannot be parsed unchanged', () => {
    const b = binding(buildTcp({ src: '192.0.2.100', dst: '198.51.100.100', sport: 1, dport: 2 }), natRequest(NatKind.Snat, { to: '198.51.100.2' }));
    const err = buildIcmpError({ src: '198.51.100.254', dst: '198.51.100.2', type: 11, quote: buildTcp({ src: '198.51.100.2', dst: '198.51.100.100', sport: 1, dport: 2 }), quoteLen: 22 });
    const copy = err.slice();
    assert.equal(applyNat(parseBuilt(copy), b, 'reply'), NatResult.Unsupported);
    assert.deepEqual(copy, err);
  });
});
