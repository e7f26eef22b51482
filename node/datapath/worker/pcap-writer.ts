/**
 * log.pcapFile: the packets ruleset `log` statements wrote a line for, appended to a pcap
 * file (the classic format, LINKTYPE_RAW: each record an IPv4 or IPv6 packet, as the TUN
 * device hands them; no link-layer header exists here). Bounded: once the file would pass
 * maxBytes it stops taking packets (each refused one counted) rather than fill the disk;
 * the file a previous start left is kept as FILE.1 (one generation), so a restart never
 * appends to a file whose end may be torn.
 *
 * Packets are copied when logged (the batch's buffer is reused) and written with the lines
 * once per packet-loop wake-up; the node-wide log limit bounds how many there are.
 */
import { closeSync, existsSync, openSync, renameSync, writeSync } from 'node:fs';

/** pcap header: magic, version 2.4, thiszone 0, sigfigs 0, snaplen, LINKTYPE_RAW (101). */
const LINKTYPE_RAW = 101;
const PCAP_SNAPLEN = 65535;
/** log.pcapMaxBytes by default: 64 MiB. */
export const DEFAULT_PCAP_MAX_BYTES = 64 * 1024 * 1024;
const HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;

export class PcapWriter {
  private fd: number | undefined;
  private written = 0;
  private pending: Buffer[] = [];
  /** Packets written, and refused at the cap. */
  packets = 0;
  refused = 0;

  constructor(
    readonly file: string,
    private readonly maxBytes: number,
    private readonly wallClockMs: () => number = Date.now,
  ) {
    try {
      if (existsSync(file)) renameSync(file, `${file}.1`);
      this.fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      throw new Error(`log.pcapFile ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as Error).message}`);
    }
    const h = Buffer.alloc(HEADER_BYTES);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(PCAP_SNAPLEN, 16);
    h.writeUInt32LE(LINKTYPE_RAW, 20);
    writeSync(this.fd, h);
    this.written = HEADER_BYTES;
  }

  /** Copies one IP packet (buf[off, off + len)) for the next flush; false at the cap. */
  add(buf: Uint8Array, off: number, len: number): boolean {
    const incl = Math.min(len, PCAP_SNAPLEN);
    if (this.fd === undefined || this.written + RECORD_HEADER_BYTES + incl > this.maxBytes) {
      this.refused += 1;
      return false;
    }
    const r = Buffer.alloc(RECORD_HEADER_BYTES + incl);
    const ms = this.wallClockMs();
    r.writeUInt32LE(Math.floor(ms / 1000), 0);
    r.writeUInt32LE(Math.floor(ms % 1000) * 1000, 4);
    r.writeUInt32LE(incl, 8);
    r.writeUInt32LE(len, 12);
    r.set(buf.subarray(off, off + incl), RECORD_HEADER_BYTES);
    this.pending.push(r);
    this.written += r.length;
    this.packets += 1;
    return true;
  }

  /**
   * Writes what add() copied (one write). A write error (disk full) stops the capture
   * (what follows is refused and counted) rather than end the datapath thread.
   */
  flush(): void {
    if (this.fd === undefined || this.pending.length === 0) return;
    const b = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    try {
      for (let done = 0; done < b.length; ) done += writeSync(this.fd, b, done);
    } catch {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
