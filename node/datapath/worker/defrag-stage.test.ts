import assert from 'node:assert/strict';
import { formatAddress } from '../../packet/address.js';
import { buildTcp, buildUdp, fragmentPacket, parseBuilt } from '../../packet/build.js';
import { verifyIpv4HeaderChecksum, verifyL4Checksum } from '../../packet/checksum.js';
import { parsePacket } from '../../packet/parse.js';
import { PacketInfo, ParseStatus } from '../../packet/packet-info.js';
import { C } from '../shared/counters.js';
import { DefragStage } from './defrag-stage.js';
import { FragAdd, Reassembler } from './reassembly.js';
import { Verdict } from './stage.js';
import { CLIENT, REMOTE, WAN_ADDR, rig } from './testing.js';
import { rng } from '../../../inet/index.js';

/** Masquerade out of "wan"; forward: established, new UDP to port 53 from lan, nothing else (invalid included). */
const RULES = `table ip nat {
  chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade }
}
table ip filter {
  chain fw { type filter hook forward priority 0; policy drop;
    ct state invalid counter drop
    ct state established accept
    iifname "lan" udp dport 53 accept
  }
}`;

function defragRig(rules = RULES) {
  const r = rig(rules);
  const written: Uint8Array[] = [];
  const stage = new DefragStage(r.stage, r.counters, (b, o, l) => written.push(b.slice(o, o + l)));
  /** Sends fragments through the stage; returns what it wrote, put together and parsed. */
  const sendAll = (frags: Uint8Array[]) => {
    written.length = 0;
    for (const f of frags) assert.equal(stage.process(parseBuilt(f), r.tick()), Verdict.Stolen);
    stage.endBatch(r.tick());
    const out = written.map((w) => parseBuilt(w));
    return { out, whole: out.length > 0 ? reassemble(out) : null };
  };
  return { ...r, defrag: stage, sendAll };
}

/** Puts written fragments together with a separate reassembler, as the receiving host would. */
function reassemble(frags: PacketInfo[]): PacketInfo {
  const r = new Reassembler();
  let last = FragAdd.Dropped;
  for (const f of frags) {
    assert.ok(f.isFragment);
    if (f.family === 4) assert.ok(verifyIpv4HeaderChecksum(f), 'every fragment has a right header checksum');
    last = r.add(f, 0);
  }
  assert.equal(last, FragAdd.Complete);
  const buf = new Uint8Array(65535);
  const len = r.build(r.completed!, buf, 0);
  const p = new PacketInfo();
  assert.equal(parsePacket(p, buf, 0, len, 0), ParseStatus.Ok);
  return p;
}

const ends = (p: PacketInfo) => `${formatAddress(p.buf, p.srcOff, p.addrLen)}:${p.sport} > ${formatAddress(p.buf, p.dstOff, p.addrLen)}:${p.dport}`;

describe('DefragStage: fragments through the filter, conntrack and NAT', () => {
  it('tracks and masquerades a fragmented datagram and its fragmented answer, fragment sizes kept', () => {
    const r = defragRig();
    const query = fragmentPacket(buildUdp({ src: CLIENT, dst: REMOTE, sport: 5353, dport: 53, payload: 3000 }), 1000, 77);
    const sent = r.sendAll([query[2]!, query[0]!, query[3]!, query[1]!]);
    assert.equal(sent.out.length, 4, 'the four fragments leave');
    assert.deepEqual(sent.out.map((f) => f.end - f.l3Off), [query[2]!, query[0]!, query[3]!, query[1]!].map((f) => f.length), 'each the size it came with, in the order it came');
    assert.equal(ends(sent.whole!), `${WAN_ADDR}:5353 > ${REMOTE}:53`);
    assert.ok(verifyL4Checksum(sent.whole!), 'the translated UDP checksum is right over the whole datagram');
    assert.equal(r.ct.count(), 1, 'one connection, made from the whole datagram');
    assert.equal(r.counters[C.nat_new], 1);

    const answer = fragmentPacket(buildUdp({ src: REMOTE, dst: WAN_ADDR, sport: 53, dport: 5353, payload: 2000 }), 1200, 99);
    const back = r.sendAll(answer);
    assert.equal(back.out.length, 2);
    assert.equal(ends(back.whole!), `${REMOTE}:53 > ${CLIENT}:5353`);
    assert.ok(verifyL4Checksum(back.whole!));
    assert.equal(r.counters[C.verdict_accept], 2, 'one verdict per datagram');
    assert.equal(r.counters[C.frag_forwarded], 6);
    assert.equal(r.counters[C.frag_reassembled], 2);
    assert.equal(r.counters[C.frag_queued], 6);
    assert.equal(r.counters[C.frag_held_bytes], 0);
    assert.equal(r.counters[C.ct_invalid], 0, 'no fragment was judged on its own');
  });

  it('drops every fragment of a datagram the rules drop, and counts one drop', () => {
    const r = defragRig();
    const frags = fragmentPacket(buildUdp({ src: CLIENT, dst: REMOTE, sport: 5353, dport: 54, payload: 3000 }), 1000);
    const sent = r.sendAll(frags);
    assert.equal(sent.out.length, 0);
    assert.equal(r.counters[C.verdict_drop], 1);
    assert.equal(r.counters[C.frag_discarded], 4);
    assert.equal(r.ct.count(), 0);
  });

  it('holds an incomplete datagram back, sends nothing of it, and gives it up after its time', () => {
    const r = defragRig();
    const frags = fragmentPacket(buildUdp({ src: CLIENT, dst: REMOTE, sport: 5353, dport: 53, payload: 3000 }), 1000);
    assert.equal(r.sendAll(frags.slice(0, 3)).out.length, 0);
    assert.ok(r.counters[C.frag_held_bytes] > 3000);
    r.defrag.endBatch(r.tick() + 30_000);
    assert.equal(r.counters[C.frag_timeouts], 1);
    assert.equal(r.counters[C.frag_held_bytes], 0);
    // The last fragment alone starts a new datagram: still nothing leaves.
    assert.equal(r.sendAll(frags.slice(3)).out.length, 0);
  });

  it('drops a datagram that is malformed once whole, counted as malformed and given no verdict', () => {
    const r = defragRig();
    const frags = fragmentPacket(buildUdp({ src: CLIENT, dst: REMOTE, sport: 5353, dport: 53, payload: 3000 }), 1000);
    // The UDP header (in the first fragment) claims more bytes than the datagram holds.
    frags[0]![24] = 0x1f;
    frags[0]![25] = 0xff;
    const sent = r.sendAll(frags);
    assert.equal(sent.out.length, 0);
    assert.equal(r.counters[C.malformed], 1);
    assert.equal(r.counters[C.verdict_drop] + r.counters[C.verdict_accept], 0);
    assert.equal(r.counters[C.frag_discarded], 4);
    assert.equal(r.ct.count(), 0);
  });

  it('passes packets that are not fragments straight to the filter', () => {
    const r = defragRig();
    const p = parseBuilt(buildTcp({ src: CLIENT, dst: REMOTE, sport: 40000, dport: 80, flags: 'S', seq: 1 }));
    assert.equal(r.defrag.process(p, r.tick()), Verdict.Drop, 'new TCP is not allowed by these rules');
    const q = parseBuilt(buildUdp({ src: CLIENT, dst: REMOTE, sport: 5000, dport: 53 }));
    assert.equal(r.defrag.process(q, r.tick()), Verdict.Accept);
    assert.equal(ends(q), `${WAN_ADDR}:5000 > ${REMOTE}:53`);
    assert.equal(r.counters[C.frag_queued], 0);
  });

  it('never throws and never holds more than its budget on damaged, shuffled, duplicated fragments (bounded fuzz)', () => {
    const budget = 64 * 1024;
    const r = rig('table inet filter { chain fw { type filter hook forward priority 0; policy accept; } }');
    let written = 0;
    const stage = new DefragStage(r.stage, r.counters, (b, o, l) => {
      written++;
      assert.equal(parsePacket(new PacketInfo(), b, o, o + l, 0), ParseStatus.Ok, 'what leaves parses');
    }, { maxBytes: budget });
    const rand = rng(5722);
    const int = (n: number) => Math.floor(rand() * n);
    let seen = 0;
    for (let round = 0; round < 300; round++) {
      const v6 = rand() < 0.5;
      const whole = buildUdp(v6 ? { src: '2001:db8::5', dst: '2001:db8:1::9', sport: 1, dport: 2, payload: 100 + int(4000) } : { src: CLIENT, dst: REMOTE, sport: 1, dport: 2, payload: 100 + int(4000) });
      const frags = fragmentPacket(whole, 256 + int(1200), int(4)).map((f) => f.slice());
      const sent: Uint8Array[] = [];
      for (const f of frags) {
        const roll = rand();
        if (roll < 0.03) continue; // lost
        if (roll < 0.1) sent.push(f); // duplicated
        if (roll < 0.15) {
          // A damaged offset / more-fragments field, or a cut length.
          const at = v6 ? 42 : 6;
          f[at + int(2)] ^= 1 << int(8);
        } else if (roll < 0.18) {
          sent.push(f.subarray(0, Math.max(1, f.length - int(f.length))));
          continue;
        }
        sent.push(f);
      }
      for (let i = sent.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [sent[i], sent[j]] = [sent[j]!, sent[i]!];
      }
      for (const f of sent) {
        const p = new PacketInfo();
        if (parsePacket(p, f, 0, f.length, 0) !== ParseStatus.Ok) continue;
        seen++;
        stage.process(p, r.tick());
        assert.ok(stage.reassembler.heldBytes <= budget, `round ${round}: ${stage.reassembler.heldBytes} bytes held`);
      }
      stage.endBatch(r.tick());
    }
    const st = stage.reassembler.stats;
    assert.ok(seen > 1000 && st.reassembled > 50 && written > 20 && st.overlaps > 10 && st.malformed > 10 && st.duplicates > 10, `fragments seen ${seen}, written ${written}, ${JSON.stringify(st)}`);
    stage.endBatch(r.tick() + 60_000);
    assert.equal(stage.reassembler.size, 0);
    assert.equal(stage.reassembler.heldBytes, 0);
  });
});
