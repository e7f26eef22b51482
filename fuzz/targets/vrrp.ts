/**
 * The VRRPv3 decoder (failover/vrrp-packet.ts) and the receive checks of RFC 5798 §7.1
 * (vrrp-receive.ts), which never throw. An input is an IPv4 datagram as the raw socket
 * hands it up; it is received as it is, then with its total length and VRRP checksum made
 * right (the checks behind the checksum), and its VRRP part once more as an IPv6
 * advertisement. An accepted advertisement must encode back to itself and is handed to a
 * VRRP router (the state machine) as the shell would.
 */
import { computeChecksum, decode, encode, VRRP_TTL } from '../../failover/vrrp-packet.js';
import { receiveAdvertisement, receiveIpv4Datagram, type ReceiveExpectations, type VrrpReceiveResult } from '../../failover/vrrp-receive.js';
import { ip, VRRP_GROUP_V4, VRRP_GROUP_V6 } from '../../failover/ip-address.js';
import { VrrpRouter } from '../../failover/vrrp-state-machine.js';
import { FuzzInvariantError, type FuzzTarget } from '../target.js';

const PEER4 = ip('192.0.2.3');
const PEER6 = ip('fe80::3');
const VIPS4 = [ip('192.0.2.1'), ip('192.0.2.254')];
const VIPS6 = [ip('2001:db8::1')];

const exp4: ReceiveExpectations = {
  family: 4, vrid: 51, localIsOwner: false, addresses: VIPS4, checkAddresses: true,
  decode: { acceptChecksums: ['pseudoHeader', 'noPseudoHeader', 'multicastDestination'] },
};
const exp6: ReceiveExpectations = { family: 6, vrid: 51, localIsOwner: false, addresses: VIPS6, checkAddresses: false };

function ipv4Datagram(vrrp: Uint8Array, src: Uint8Array, dst: Uint8Array, options = 0): Uint8Array {
  const ihl = 20 + options;
  const b = new Uint8Array(ihl + vrrp.length);
  b[0] = 0x40 | (ihl / 4);
  b[2] = b.length >> 8;
  b[3] = b.length & 0xff;
  b[8] = VRRP_TTL;
  b[9] = 112;
  b.set(src, 12);
  b.set(dst, 16);
  b.set(vrrp, ihl);
  return b;
}

function seeds(): Uint8Array[] {
  const ctx = { src: PEER4, dst: VRRP_GROUP_V4 };
  const a = encode({ family: 4, vrid: 51, priority: 100, maxAdverIntervalCs: 100, addresses: VIPS4 }, ctx);
  const b = encode({ family: 4, vrid: 51, priority: 255, maxAdverIntervalCs: 4095, addresses: [VIPS4[0]!] }, ctx, undefined, 0, 'noPseudoHeader');
  const c = encode({ family: 4, vrid: 51, priority: 0, maxAdverIntervalCs: 1, addresses: VIPS4 }, ctx);
  // The VRRP part of this one is an IPv6 advertisement (received as such by the IPv6 pass).
  const d = encode({ family: 6, vrid: 51, priority: 150, maxAdverIntervalCs: 100, addresses: VIPS6 }, { src: PEER6, dst: VRRP_GROUP_V6 });
  return [ipv4Datagram(a, PEER4, VRRP_GROUP_V4), ipv4Datagram(b, PEER4, VRRP_GROUP_V4, 4), ipv4Datagram(c, PEER4, VRRP_GROUP_V4), ipv4Datagram(d, PEER4, VRRP_GROUP_V4)];
}

/** The datagram with a right total length and VRRP checksum (pseudo-header variant). */
function fixed(input: Uint8Array): Uint8Array | undefined {
  if (input.length < 28) return undefined;
  const b = input.slice();
  b[2] = b.length >> 8;
  b[3] = b.length & 0xff;
  const ihl = (b[0]! & 0x0f) * 4;
  if (ihl < 20 || ihl + 8 > b.length) return b;
  const ck = computeChecksum(b, ihl, b.length - ihl, { src: b.subarray(12, 16), dst: b.subarray(16, 20) }, 'pseudoHeader');
  b[ihl + 6] = ck >> 8;
  b[ihl + 7] = ck & 0xff;
  return b;
}

function accepted(r: VrrpReceiveResult, family: 4 | 6): string {
  if (!r.ok) return r.error.code;
  const p = r.packet;
  const ctx = family === 4 ? { src: PEER4, dst: VRRP_GROUP_V4 } : { src: PEER6, dst: VRRP_GROUP_V6 };
  const again = decode(encode(p, ctx), ctx);
  if (!again.ok || JSON.stringify(again.packet) !== JSON.stringify(p)) throw new FuzzInvariantError(`an accepted advertisement does not encode back to itself: ${JSON.stringify(again)}`);
  const router = new VrrpRouter({ vrid: 51, priority: 100, advertIntervalCs: 100, primaryAddress: family === 4 ? ip('192.0.2.2') : ip('fe80::2'), initiallyInSync: true });
  router.handle({ type: 'startup' }, 0);
  router.handle({ type: 'advert', priority: p.priority, maxAdverIntervalCs: p.maxAdverIntervalCs, src: r.src }, 10);
  const t = router.timerDeadline;
  if (t !== undefined) router.handle({ type: 'timer' }, t);
  return `ok ${r.checksumVariant} prio ${p.priority === 0 ? 0 : p.priority === 255 ? 255 : 'n'} ${router.state}`;
}

export const vrrp: FuzzTarget = {
  name: 'vrrp',
  about: 'VRRPv3 adverts: IPv4 envelope, decode (every checksum variant), RFC 5798 §7.1 checks, state machine',
  maxBytes: 2048,
  dictionary: ['\x31', '\x33', '\xff', '\x00', '\xe0\x00\x00\x12', '\x70'],
  setup() {
    return {
      seeds: seeds(),
      expected: () => false, // decode and receive never throw
      run(input) {
        const raw = receiveIpv4Datagram(input, exp4);
        const f = fixed(input);
        if (!f) return `raw ${raw.ok ? 'ok' : raw.error.code}`;
        const v4 = receiveIpv4Datagram(f, exp4);
        const ihl = Math.max(20, (f[0]! & 0x0f) * 4);
        const v6payload = f.slice(Math.min(ihl, f.length));
        if (v6payload.length >= 8) {
          const ck = computeChecksum(v6payload, 0, v6payload.length, { src: PEER6, dst: VRRP_GROUP_V6 }, 'pseudoHeader');
          v6payload[6] = ck >> 8;
          v6payload[7] = ck & 0xff;
        }
        const v6 = receiveAdvertisement(v6payload, { src: PEER6, dst: VRRP_GROUP_V6, ttl: 255 }, exp6);
        return `raw ${raw.ok ? 'ok' : raw.error.code} v4 ${v4.ok ? accepted(v4, 4) : v4.error.code} v6 ${v6.ok ? accepted(v6, 6) : v6.error.code}`;
      },
    };
  },
};
