/**
 * `hafw ct import` in the datapath thread, which owns the table: connections read from
 * the kernel's conntrack dump become this node's own entries, with their NAT bindings,
 * and are announced like new connections, so state sync replicates them to the standby as
 * normal entries.
 *
 * TCP windows. The dump has no window data (td_end, td_maxwin, td_scale are in ctnetlink,
 * not in the printed forms), so an imported TCP entry is set up the way Linux sets up a
 * connection it picks up in mid-stream (nf_conntrack_proto_tcp.c, tcp_new with
 * nf_conntrack_tcp_loose): no window known (td_maxwin 0), and both directions
 * SACK_PERM | BE_LIBERAL. The first packet each way then fills in that side's window
 * (tcp_in_window's "first packet from this side" branch), and BE_LIBERAL keeps an
 * unknown window scale from making packets out of window. This applies to imported entries
 * only: the node's own setting for new connections (conntrack.tcpLoose) is not touched,
 * so a ruleset that refuses mid-stream pickup still refuses it for everything else.
 */
import { CtSnapshot, CtStatus, IMPORT_EXISTS, TcpDirFlag, type ConnTracker, type CtImportEntry, type CtImportResult } from '../../conntrack/index.js';
import { parseAddress } from '../../packet/address.js';
import { NatKind } from '../../nat/binding.js';
import { bindingFromTuplePair } from '../../nat/tuple-pair.js';
import type { NatState } from './nat-state.js';

/** Lines listed per outcome in the answer (the counts are complete). */
const MAX_LISTED = 100;

function setAddress(out: Uint8Array, text: string): void {
  out.fill(0);
  const a = parseAddress(text);
  out.set(a.bytes.subarray(0, a.family === 4 ? 4 : 16));
}

/** One imported entry as a snapshot (the shape the table is written from). */
export function importSnapshot(e: CtImportEntry, out: CtSnapshot): CtSnapshot {
  out.family = e.family;
  out.proto = e.proto;
  out.zone = e.zone;
  setAddress(out.origSrc, e.original.src);
  setAddress(out.origDst, e.original.dst);
  out.origSport = e.original.sport;
  out.origDport = e.original.dport;
  setAddress(out.replySrc, e.reply.src);
  setAddress(out.replyDst, e.reply.dst);
  out.replySport = e.reply.sport;
  out.replyDport = e.reply.dport;
  out.tcpState = e.tcpState ?? 0;
  for (let d = 0; d < 2; d++) {
    out.tdEnd[d] = 0;
    out.tdMaxEnd[d] = 0;
    out.tdMaxWin[d] = 0;
    out.tdMaxAck[d] = 0;
    out.tdScale[d] = 0;
    out.tdFlags[d] = e.proto === 6 ? TcpDirFlag.SackPerm | TcpDirFlag.BeLiberal : 0;
  }
  let status = 0;
  if (e.seenReply) status |= CtStatus.SeenReply;
  if (e.assured) status |= CtStatus.Assured;
  // The printed forms carry no NAT flags: the tuples say it (Linux stores NAT the same way,
  // the reply tuple being the inverted translated tuple).
  const n = e.family === 4 ? 4 : 16;
  const differs = (a: Uint8Array, b: Uint8Array): boolean => a.subarray(0, n).some((x, i) => x !== b[i]);
  const icmp = e.proto === 1 || e.proto === 58;
  if (differs(out.replyDst, out.origSrc) || (icmp ? out.replySport !== out.origSport : out.replyDport !== out.origSport)) status |= CtStatus.SrcNat;
  if (differs(out.replySrc, out.origDst) || (!icmp && out.replySport !== out.origDport)) status |= CtStatus.DstNat;
  out.status = status;
  out.mark = e.mark;
  out.timeoutMs = e.timeoutSeconds * 1000;
  out.replicated = false;
  return out;
}

export function emptyImportResult(): CtImportResult {
  return { imported: 0, existing: 0, refused: 0, nat: 0, existingLines: [], refusedLines: [] };
}

/** Inserts entries[from, to) (already checked by parseConntrackDump) into the table, adding to `r`. */
export function importConnections(ct: ConnTracker, nat: NatState | undefined, entries: readonly CtImportEntry[], nowMs: number, r: CtImportResult = emptyImportResult(), from = 0, to = entries.length): CtImportResult {
  const snap = new CtSnapshot();
  for (let i = from; i < to; i++) {
    const e = entries[i]!;
    importSnapshot(e, snap);
    const entry = ct.importEntry(snap, nowMs);
    if (entry === IMPORT_EXISTS) {
      r.existing++;
      if (r.existingLines.length < MAX_LISTED) r.existingLines.push(e.line);
      continue;
    }
    if (entry < 0) {
      r.refused++;
      if (r.refusedLines.length < MAX_LISTED) r.refusedLines.push(e.line);
      continue;
    }
    if (snap.status & (CtStatus.SrcNat | CtStatus.DstNat)) {
      // Holds the translated port in this node's allocator, so a connection it NATs later
      // cannot be given the same one (the imported binding keeps it until the entry goes).
      nat?.installReplica(entry, (b) => bindingFromTuplePair(snap, b, NatKind.Snat, NatKind.Dnat));
      r.nat++;
    }
    ct.announce(entry);
    r.imported++;
  }
  return r;
}

/** Entries inserted per turn of the datapath's event loop (a few ms): packets are forwarded in between. */
const SLICE = 256;

/**
 * importConnections in slices, yielding to the event loop after each, so a large import
 * does not stall forwarding (about 10-50 µs an entry, more while the table is cold).
 */
export function importInSlices(ct: ConnTracker, nat: NatState | undefined, entries: readonly CtImportEntry[], clock: () => number, done: (r: CtImportResult) => void): void {
  const r = emptyImportResult();
  let at = 0;
  const step = (): void => {
    const to = Math.min(at + SLICE, entries.length);
    importConnections(ct, nat, entries, clock(), r, at, to);
    at = to;
    if (at < entries.length) setImmediate(step);
    else done(r);
  };
  step();
}
