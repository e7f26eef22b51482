/**
 * The packet parser (node/packet/parse.ts) and the filter stage behind it (conntrack, the
 * compiled ruleset, NAT): packets as the TUN device hands them over, virtio header
 * included. The parser refuses with a status, never an exception; the stage must give a
 * verdict for every packet that parses (the batch loop counts a stage exception as
 * stage_errors and drops the packet: a bug, so a crash here).
 */
import { buildIcmpEcho, buildIcmpError, buildTcp, buildUdp } from '../../node/packet/build.js';
import { RulesetEngine } from '../../node/ruleset/index.js';
import type { FuzzTarget } from '../target.js';
import { filterRig, packetStream, runStream } from './packet-stream.js';

/** Filter, NAT of every kind and the statements that rewrite packets. */
export const DATAPATH_RULES = `
table inet filter {
  set blocked { type ipv4_addr; flags interval, timeout; elements = { 10.0.0.64/26, 192.0.2.99 timeout 30s } }
  set svc { type ipv4_addr . inet_service; elements = { 203.0.113.9 . 22 } }
  map ports { type inet_service : verdict; elements = { 23 : drop, 25 : jump mail } }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct state invalid counter drop
    ip saddr @blocked drop
    tcp flags syn tcp option maxseg size set 1360
    tcp dport vmap @ports
    ip daddr . tcp dport @svc accept
    tcp flags syn / syn,ack limit rate 100/second burst 5 packets log prefix "syn: "
    icmp type echo-request accept
    icmpv6 type { echo-request, echo-reply, packet-too-big } accept
    iifname "lan" meta l4proto { tcp, udp } ip dscp set af21 meta mark set 0x10 ct mark set 5 accept
    iifname "lan" meta nfproto ipv6 accept
    udp dport 7 reject with icmp port-unreachable
    tcp dport 113 reject with tcp reset
    quota over 1 mbytes drop
  }
  chain mail { ip saddr 10.0.0.0/24 accept; return }
}
table ip nat {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan" tcp dport 8080 dnat to 10.0.0.5:80
    iifname "wan" udp dport 5353 redirect to :53
  }
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ip saddr 10.0.0.128/25 meta l4proto { tcp, udp } snat to 198.51.100.2:20000-20100
    oifname "wan" masquerade
  }
}
table ip6 nat6 {
  chain post { type nat hook postrouting priority srcnat; policy accept; oifname "wan" masquerade }
}
`;

const C4 = '10.0.0.5';
const R4 = '203.0.113.9';
const C6 = '2001:db8:1::5';
const R6 = '2001:db8:3::9';

function seeds(): Uint8Array[] {
  const syn = buildTcp({ src: C4, dst: R4, sport: 40000, dport: 80, flags: 'S', mss: 1460, wscale: 7, sackPerm: true, timestamp: [1, 0] });
  const synAck = buildTcp({ src: R4, dst: '198.51.100.2', sport: 80, dport: 40000, flags: 'SA', seq: 5000, ack: 1, mss: 1400 });
  const ack = buildTcp({ src: C4, dst: R4, sport: 40000, dport: 80, flags: 'PA', seq: 1, ack: 5001, payload: 'GET / HTTP/1.0\r\n\r\n' });
  const udp = buildUdp({ src: C4, dst: R4, sport: 5000, dport: 53, payload: 20 });
  const udp6 = buildUdp({ src: C6, dst: R6, sport: 5000, dport: 53, payload: 12, ext: [{ type: 'hop' }, { type: 'dst' }] });
  const tcp6 = buildTcp({ src: C6, dst: R6, sport: 1, dport: 22, flags: 'S', mss: 1440 });
  const echo = buildIcmpEcho({ src: C4, dst: R4, id: 7, payload: 8 });
  const err = buildIcmpError({ src: '192.0.2.77', dst: '198.51.100.2', type: 3, code: 4, rest: 1200, quote: buildUdp({ src: '198.51.100.2', dst: R4, sport: 20001, dport: 53, payload: 8 }) });
  const gso = buildTcp({ src: C4, dst: R4, sport: 40001, dport: 443, flags: 'A', gso: 1448, payload: 4000 });
  const dnat = buildTcp({ src: R4, dst: '198.51.100.2', sport: 5555, dport: 8080, flags: 'S' });
  return [
    packetStream(0, [syn, synAck, ack]),
    packetStream(0, [udp, echo, err]),
    packetStream(0, [udp6, tcp6]),
    packetStream(1, [gso]),
    packetStream(0, [dnat, buildUdp({ src: R4, dst: '198.51.100.2', sport: 1, dport: 5353 }), buildUdp({ src: C4, dst: R4, sport: 9, dport: 7 })]),
  ];
}

export const packet: FuzzTarget = {
  name: 'packet',
  about: 'packet parser (virtio header, IPv4/IPv6, extension headers, L4, ICMP quotes) and the filter stage (conntrack, rules, NAT)',
  maxBytes: 8192,
  dictionary: ['\x45\x00', '\x60\x00\x00\x00', '\x06', '\x11', '\x01', '\x3a', '\x2c', '\x00\x00', '\xff\xff', '\x02\x04\x05\xb4'],
  setup() {
    const engine = new RulesetEngine();
    engine.load(DATAPATH_RULES, 'fuzz-datapath.nft');
    return {
      seeds: seeds(),
      expected: () => false,
      run(input) {
        // Fresh conntrack and NAT per input (a corpus file replays alone); the ruleset's
        // own state (quota, limit, timeouts of set elements) carries over, as on a node.
        const r = filterRig(engine);
        return runStream(input, r.stage, r.tick);
      },
    };
  },
};
