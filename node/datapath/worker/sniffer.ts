/**
 * Poor man's failover: while this node is the standby, it watches the LAN and WAN
 * segments in promiscuous mode (AF_PACKET) and feeds every IP packet it sees into its own
 * conntrack, forwarding nothing, so that when it takes over it already knows the
 * connections. Needs a shared medium (a hub, a bridge with ageing 0, or a mirror port)
 * and cannot learn NAT bindings (it sees only the translated side of each hop). The
 * packet path is the TUN loop's: the same native batch reader, the same parser.
 */
import { native, openPacketSocket, closeFd, NativeStat, type NativeReader } from '../../native/index.js';
import { PacketInfo, ParseStatus } from '../../packet/packet-info.js';
import { parsePacket } from '../../packet/parse.js';
import type { ConnTracker } from '../../conntrack/index.js';
import { C } from '../shared/counters.js';
import { datapathClock } from '../shared/clock.js';

const SLOT = 65536 + 64;
const BATCH = 64;

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;

class InterfaceSniffer {
  private readonly fd: number;
  private readonly reader: NativeReader;
  private readonly arena = new Uint8Array(SLOT * BATCH);
  private readonly lengths = new Int32Array(BATCH);
  private readonly verdicts = new Uint8Array(BATCH);
  private readonly pkt = new PacketInfo();
  private running = false;

  constructor(
    readonly ifname: string,
    private readonly ct: ConnTracker,
    private readonly counters: Float64Array,
  ) {
    this.fd = openPacketSocket(ifname, true);
    this.reader = native().readerCreate(this.fd, this.arena, SLOT, BATCH, this.lengths, this.verdicts, new Float64Array(NativeStat.Count), (n) => this.onBatch(n), 4);
  }

  private onBatch(n: number): void {
    const now = datapathClock();
    const a = this.arena;
    const c = this.counters;
    for (let i = 0; i < n; i++) {
      // Verdict bytes stay Drop: the sniffer never writes anything back.
      const off = i * SLOT;
      const len = this.lengths[i];
      if (len < 14) continue;
      let l2 = 14;
      let type = (a[off + 12] << 8) | a[off + 13];
      if ((type === ETH_P_8021Q || type === ETH_P_8021AD) && len >= 18) {
        type = (a[off + 16] << 8) | a[off + 17];
        l2 = 18;
      }
      if (type !== ETH_P_IP && type !== ETH_P_IPV6) continue;
      if (parsePacket(this.pkt, a, off + l2, len - l2, 0) !== ParseStatus.Ok) continue;
      c[C.sniffed_packets] += 1;
      this.ct.track(this.pkt, now);
      if (this.ct.result.pending) {
        // What crossed the wire was accepted by the active node: confirm it here too.
        this.ct.commit(true);
        c[C.sniffed_new] += 1;
      }
    }
  }

  setActive(on: boolean): void {
    if (on === this.running) return;
    this.running = on;
    if (on) this.reader.start();
    else this.reader.stop();
  }

  close(): void {
    this.reader.close();
    closeFd(this.fd);
  }
}

export class Sniffer {
  private readonly parts: InterfaceSniffer[];

  constructor(ifnames: string[], ct: ConnTracker, counters: Float64Array) {
    this.parts = ifnames.map((i) => new InterfaceSniffer(i, ct, counters));
  }

  setActive(on: boolean): void {
    for (const p of this.parts) p.setActive(on);
  }

  close(): void {
    for (const p of this.parts) p.close();
  }
}
