/**
 * Test support (not used by the datapath): a tiny driver that builds packets with the
 * packet builders, parses them and runs them through a tracker with a fake clock.
 */
import { buildTcp, type Ipv6ExtHeader, parseBuilt, type TcpOptions } from '../packet/build.js';
import type { PacketInfo } from '../packet/packet-info.js';
import { CtEventKind } from './ct-types.js';
import type { CtState } from './ct-types.js';
import { ConnTracker } from './tracker.js';
import type { ConntrackOptions } from './ct-types.js';

export const FIXED_KEY = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);

interface Ev {
  kind: CtEventKind;
  entry: number;
}

/** A tracker with a fake clock and an event log. */
export class Harness {
  now = 1_000_000;
  readonly ct: ConnTracker;
  readonly events: Ev[] = [];

  constructor(opts: Partial<ConntrackOptions> = {}) {
    this.ct = new ConnTracker({ hashKey: FIXED_KEY, now: () => this.now, sweepPerPacket: 0, ...opts });
    this.ct.onEvent = (kind, entry) => this.events.push({ kind, entry });
  }

  /** Tracks a built packet and commits (accepts) it, like a ruleset that accepts all. */
  send(bytes: Uint8Array, zone = 0, accept = true): CtState {
    const pkt = parseBuilt(bytes);
    return this.sendParsed(pkt, zone, accept);
  }

  sendParsed(pkt: PacketInfo, zone = 0, accept = true): CtState {
    const st = this.ct.track(pkt, this.now, zone);
    this.ct.commit(accept);
    return st;
  }

  advance(ms: number): void {
    this.now += ms;
  }

  kinds(): CtEventKind[] {
    return this.events.map((e) => e.kind);
  }
}

export interface TcpEnds {
  client: string;
  server: string;
  cport: number;
  sport: number;
  ext?: Ipv6ExtHeader[];
}

export const V4: TcpEnds = { client: '192.0.2.100', server: '198.51.100.100', cport: 40000, sport: 80 };
export const V6: TcpEnds = { client: '2001:db8:1::100', server: '2001:db8:2::100', cport: 40000, sport: 443 };

type Extra = Omit<TcpOptions, 'src' | 'dst' | 'sport' | 'dport' | 'flags' | 'seq' | 'ack'>;

/** Builds a TCP segment of the flow from the client ('c') or the server ('s'). */
export function seg(ends: TcpEnds, from: 'c' | 's', flags: string, seq: number, ack: number, extra: Extra = {}): Uint8Array {
  const c = from === 'c';
  return buildTcp({
    src: c ? ends.client : ends.server,
    dst: c ? ends.server : ends.client,
    sport: c ? ends.cport : ends.sport,
    dport: c ? ends.sport : ends.cport,
    flags,
    seq: seq >>> 0,
    ack: ack >>> 0,
    window: 65535,
    ext: ends.ext,
    ...extra,
  });
}
