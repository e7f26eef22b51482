/**
 * Reassembly (node/datapath/worker/reassembly.ts) through the defrag stage in front of the
 * filter stage: IPv4 and IPv6 fragments, overlapping, duplicated, out of order, of
 * datagrams that NAT then rewrites. Invariants besides "no exception": every fragment the
 * stage writes out still parses (what the filter changed was written into it correctly),
 * and once every held datagram has timed out the reassembler holds no bytes.
 */
import { buildIcmpEcho, buildTcp, buildUdp, fragmentPacket } from '../../node/packet/build.js';
import { PacketInfo, ParseStatus } from '../../node/packet/packet-info.js';
import { parsePacket } from '../../node/packet/parse.js';
import { RulesetEngine } from '../../node/ruleset/index.js';
import { DefragStage } from '../../node/datapath/worker/defrag-stage.js';
import { FuzzInvariantError, type FuzzTarget } from '../target.js';
import { filterRig, packetStream, runStream } from './packet-stream.js';
import { DATAPATH_RULES } from './packet.js';

function seeds(): Uint8Array[] {
  const udp = buildUdp({ src: '10.0.0.5', dst: '203.0.113.9', sport: 5000, dport: 53, payload: 600, df: false });
  const tcp = buildTcp({ src: '10.0.0.5', dst: '203.0.113.9', sport: 40000, dport: 25, flags: 'S', payload: 300, df: false });
  const udp6 = buildUdp({ src: '2001:db8:1::5', dst: '2001:db8:3::9', sport: 5000, dport: 53, payload: 500, ext: [{ type: 'hop' }] });
  const echo = buildIcmpEcho({ src: '10.0.0.5', dst: '203.0.113.9', id: 3, payload: 200, df: false });
  const f1 = fragmentPacket(udp, 256);
  const f2 = fragmentPacket(tcp, 64, 0x77);
  const f3 = fragmentPacket(udp6, 128, 0xabcdef);
  const f4 = fragmentPacket(echo, 96, 9);
  return [
    packetStream(0, f1),
    packetStream(0, [...f1].reverse()),
    packetStream(0, [f2[1]!, f2[0]!, f2[0]!, ...f2.slice(2)]),
    packetStream(0, [...f3, ...f4]),
    packetStream(0, [f1[0]!, f3[0]!, f2[0]!, f1[1]!, f3[1]!, ...f1.slice(2), ...f3.slice(2), ...f2.slice(1)]),
  ];
}

export const defrag: FuzzTarget = {
  name: 'defrag',
  about: 'IPv4/IPv6 reassembly in the defrag stage, before conntrack, rules and NAT; fragments written back',
  maxBytes: 16384,
  dictionary: ['\x20\x00', '\x00\x01', '\x2c', '\x3f\xff', '\x1f\xff', '\xff\xf8', '\x00\x08'],
  setup() {
    const engine = new RulesetEngine();
    engine.load(DATAPATH_RULES, 'fuzz-datapath.nft');
    const check = new PacketInfo();
    return {
      seeds: seeds(),
      expected: () => false,
      run(input) {
        const r = filterRig(engine);
        let written = 0;
        const stage = new DefragStage(r.stage, r.counters, (b, o, l) => {
          written++;
          const st = parsePacket(check, b, o, l, 0);
          if (st !== ParseStatus.Ok) throw new FuzzInvariantError(`a fragment written back does not parse (status ${st})`);
        }, { maxBytes: 256 * 1024, maxFragments: 64 });
        const label = runStream(input, stage, r.tick);
        const held = stage.reassembler.heldBytes;
        // Ten minutes later every datagram still held has timed out (IPv6's 60 s is the longest).
        stage.endBatch(r.tick() + 600_000);
        if (stage.reassembler.heldBytes !== 0) throw new FuzzInvariantError(`after every timeout the reassembler still holds ${stage.reassembler.heldBytes} bytes`);
        return `${label} held ${held > 0 ? 'some' : 'none'} out ${written > 0 ? 'some' : 'none'}`;
      },
    };
  },
};
