/**
 * pcapng reader (draft-ietf-opsawg-pcapng): Section Header, Interface Description,
 * Enhanced Packet, Simple Packet and (obsolete) Packet blocks, in either byte order, with
 * per-interface timestamp resolution and offset; every other block type is skipped.
 * A file may hold several sections; each starts afresh (byte order, interfaces).
 */
import { CaptureFormatError, type CaptureRecord } from './capture-record.js';
import { l3OffsetFor } from './link-type.js';

const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 0x00000001;
const BT_PB = 0x00000002;
const BT_SPB = 0x00000003;
const BT_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_END = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

interface Iface {
  linkType: number;
  snaplen: number;
  /** if_tsresol: power of 10 (base10) or of 2 (!base10); default 10^-6. */
  resolExp: number;
  base10: boolean;
  offsetSec: bigint;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Timestamp units of `iface` to nanoseconds since the epoch. */
function toNs(units: bigint, iface: Iface): bigint {
  let ns: bigint;
  if (iface.base10) {
    const e = iface.resolExp;
    ns = e <= 9 ? units * 10n ** BigInt(9 - e) : units / 10n ** BigInt(e - 9);
  } else {
    ns = (units * 1_000_000_000n) >> BigInt(iface.resolExp);
  }
  return ns + iface.offsetSec * 1_000_000_000n;
}

export function* readPcapng(bytes: Uint8Array): Generator<CaptureRecord> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little = true;
  let ifaces: Iface[] = [];
  let inSection = false;
  let index = 0;
  let off = 0;
  while (off < bytes.length) {
    if (off + 12 > bytes.length) {
      throw new CaptureFormatError(off, `block header cut short (${bytes.length - off} of at least 12 bytes)`);
    }
    // The SHB type reads the same in both byte orders; its byte-order magic decides the rest.
    const typeLE = dv.getUint32(off, true);
    if (typeLE === BT_SHB) {
      const bom = dv.getUint32(off + 8, true);
      if (bom === BYTE_ORDER_MAGIC) little = true;
      else if (dv.getUint32(off + 8, false) === BYTE_ORDER_MAGIC) little = false;
      else throw new CaptureFormatError(off + 8, `section header byte-order magic 0x${bom.toString(16)} is not 0x1a2b3c4d`);
      ifaces = [];
      inSection = true;
    } else if (!inSection) {
      throw new CaptureFormatError(off, 'file does not start with a section header block');
    }
    const type = dv.getUint32(off, little);
    const len = dv.getUint32(off + 4, little);
    if (len < 12 || len % 4 !== 0) {
      throw new CaptureFormatError(off + 4, `block total length ${len} is not a multiple of 4 of at least 12`);
    }
    if (off + len > bytes.length) {
      throw new CaptureFormatError(off + 4, `block of ${len} bytes runs past the end of the file (${bytes.length - off} left)`);
    }
    const trailer = dv.getUint32(off + len - 4, little);
    if (trailer !== len) {
      throw new CaptureFormatError(off + len - 4, `block trailing length ${trailer} differs from leading length ${len}`);
    }
    const body = off + 8;
    const bodyEnd = off + len - 4;
    switch (type) {
      case BT_SHB: {
        if (bodyEnd - body < 16) throw new CaptureFormatError(body, 'section header block too short');
        const major = dv.getUint16(body + 4, little);
        if (major !== 1) throw new CaptureFormatError(body + 4, `unsupported pcapng major version ${major}`);
        break;
      }
      case BT_IDB: {
        if (bodyEnd - body < 8) throw new CaptureFormatError(body, 'interface description block too short');
        const iface: Iface = {
          linkType: dv.getUint16(body, little),
          snaplen: dv.getUint32(body + 4, little),
          resolExp: 6,
          base10: true,
          offsetSec: 0n,
        };
        let o = body + 8;
        while (o + 4 <= bodyEnd) {
          const code = dv.getUint16(o, little);
          const olen = dv.getUint16(o + 2, little);
          if (code === OPT_END) break;
          if (o + 4 + olen > bodyEnd) {
            throw new CaptureFormatError(o + 2, `interface option ${code} of ${olen} bytes runs past its block`);
          }
          if (code === OPT_IF_TSRESOL && olen >= 1) {
            const r = bytes[o + 4];
            iface.base10 = (r & 0x80) === 0;
            iface.resolExp = r & 0x7f;
            if (iface.base10 ? iface.resolExp > 18 : iface.resolExp > 63) {
              throw new CaptureFormatError(o + 4, `if_tsresol ${r} out of range`);
            }
          } else if (code === OPT_IF_TSOFFSET && olen >= 8) {
            iface.offsetSec = dv.getBigInt64(o + 4, little);
          }
          o += 4 + pad4(olen);
        }
        ifaces.push(iface);
        break;
      }
      case BT_EPB:
      case BT_PB: {
        if (bodyEnd - body < 20) throw new CaptureFormatError(body, 'packet block too short');
        const ifId = type === BT_EPB ? dv.getUint32(body, little) : dv.getUint16(body, little);
        const iface = ifaces[ifId];
        if (iface === undefined) {
          throw new CaptureFormatError(body, `packet refers to interface ${ifId}, but only ${ifaces.length} are described`);
        }
        const units = (BigInt(dv.getUint32(body + 4, little)) << 32n) | BigInt(dv.getUint32(body + 8, little));
        const cap = dv.getUint32(body + 12, little);
        const orig = dv.getUint32(body + 16, little);
        if (body + 20 + pad4(cap) > bodyEnd) {
          throw new CaptureFormatError(body + 12, `captured length ${cap} runs past its block`);
        }
        const data = bytes.subarray(body + 20, body + 20 + cap);
        yield {
          index: index++,
          tsNs: toNs(units, iface),
          data,
          origLen: orig,
          linkType: iface.linkType,
          l3Off: l3OffsetFor(iface.linkType, data),
          interfaceId: ifId,
        };
        break;
      }
      case BT_SPB: {
        if (bodyEnd - body < 4) throw new CaptureFormatError(body, 'simple packet block too short');
        const iface = ifaces[0];
        if (iface === undefined) throw new CaptureFormatError(off, 'simple packet block before any interface description');
        const orig = dv.getUint32(body, little);
        // The captured length is implied: the original length cut to the snap length and
        // to the block (draft-ietf-opsawg-pcapng §4.4).
        let cap = bodyEnd - body - 4;
        if (orig < cap) cap = orig;
        if (iface.snaplen !== 0 && iface.snaplen < cap) cap = iface.snaplen;
        const data = bytes.subarray(body + 4, body + 4 + cap);
        yield {
          index: index++,
          tsNs: 0n,
          data,
          origLen: orig,
          linkType: iface.linkType,
          l3Off: l3OffsetFor(iface.linkType, data),
          interfaceId: 0,
        };
        break;
      }
      default:
        // Name resolution, statistics, custom, decryption secrets...: not ours to read.
        break;
    }
    off += len;
  }
}
