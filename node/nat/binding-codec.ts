/**
 * The binding as bytes, for state-sync records: the sync worker carries these bytes next
 * to the conntrack entry it replicates, and the standby decodes them and installs them
 * with the entry (replicate.ts). A pure codec over buffers (no I/O, no shared state
 * between messages, so a lost message cannot corrupt later ones).
 *
 * Layout (network byte order):
 *   0  family (4 or 6)      1  protocol     2  NatManip bits
 *   3  srcKind << 4 | dstKind
 *   4  original source, original destination, translated source, translated
 *      destination: 4 addresses of 4 (IPv4) or 16 (IPv6) bytes
 *   then original sport, original dport, translated sport, translated dport (u16 each)
 */
import { NatBinding, NatKind, NatManip, clearBinding } from './binding.js';

/** Encoded length of a binding of this family. */
export function bindingWireLength(family: 4 | 6): number {
  return 4 + 4 * (family === 4 ? 4 : 16) + 8;
}

/** Largest encoded binding (IPv6). */
export const MAX_BINDING_WIRE_LEN = 4 + 64 + 8;

/** Writes `b` at buf[off...]; returns the bytes written, or 0 when `b` is empty or it does not fit. */
export function encodeBinding(b: NatBinding, buf: Uint8Array, off: number): number {
  if (b.family !== 4 && b.family !== 6) return 0;
  const n = b.addrLen;
  const len = bindingWireLength(b.family);
  if (off < 0 || off + len > buf.length) return 0;
  buf[off] = b.family;
  buf[off + 1] = b.proto;
  buf[off + 2] = b.manip;
  buf[off + 3] = (b.srcKind << 4) | b.dstKind;
  let p = off + 4;
  for (let a = 0; a < 4; a++) {
    for (let i = 0; i < n; i++) buf[p + i] = b.addrs[a * 16 + i];
    p += n;
  }
  w16(buf, p, b.origSport);
  w16(buf, p + 2, b.origDport);
  w16(buf, p + 4, b.natSport);
  w16(buf, p + 6, b.natDport);
  return len;
}

function w16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = (v >> 8) & 0xff;
  buf[at + 1] = v & 0xff;
}

/** Why bytes are not a binding, or null. */
function check(buf: Uint8Array, off: number, len: number): string | null {
  if (off < 0 || off >= buf.length || len < 4) return 'truncated';
  const fam = buf[off];
  if (fam !== 4 && fam !== 6) return `bad family ${fam}`;
  if (len < bindingWireLength(fam) || off + bindingWireLength(fam) > buf.length) return 'truncated';
  const manip = buf[off + 2];
  if ((manip & ~NatManip.Both) !== 0) return `bad manip bits ${manip}`;
  const sk = buf[off + 3] >> 4;
  const dk = buf[off + 3] & 15;
  const srcOk = (manip & NatManip.Src) ? sk === NatKind.Snat || sk === NatKind.Masquerade : sk === NatKind.None;
  const dstOk = (manip & NatManip.Dst) ? dk === NatKind.Dnat || dk === NatKind.Redirect : dk === NatKind.None;
  if (!srcOk || !dstOk) return `kinds ${sk}/${dk} do not match manip bits ${manip}`;
  return null;
}

/**
 * Reads a binding from buf[off, off+len) into `out` (its pool is set to null: the
 * receiver reserves the port itself). Returns the bytes read, or throws an Error saying
 * what is wrong (bad records come from the network: the caller counts and drops them).
 */
export function decodeBinding(buf: Uint8Array, off: number, len: number, out: NatBinding): number {
  const err = check(buf, off, len);
  if (err !== null) throw new Error(`NAT binding record: ${err}`);
  clearBinding(out);
  const fam = buf[off] as 4 | 6;
  const n = fam === 4 ? 4 : 16;
  out.family = fam;
  out.proto = buf[off + 1];
  out.manip = buf[off + 2];
  out.srcKind = buf[off + 3] >> 4;
  out.dstKind = buf[off + 3] & 15;
  let p = off + 4;
  for (let a = 0; a < 4; a++) {
    for (let i = 0; i < n; i++) out.addrs[a * 16 + i] = buf[p + i];
    p += n;
  }
  out.origSport = (buf[p] << 8) | buf[p + 1];
  out.origDport = (buf[p + 2] << 8) | buf[p + 3];
  out.natSport = (buf[p + 4] << 8) | buf[p + 5];
  out.natDport = (buf[p + 6] << 8) | buf[p + 7];
  return bindingWireLength(fam);
}
