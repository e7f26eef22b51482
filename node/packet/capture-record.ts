/** The record type and error shared by the capture readers (pcap.ts, pcapng.ts). */

export interface CaptureRecord {
  /** 0-based position among the packets of the file. */
  index: number;
  /** Capture time in nanoseconds since the epoch (0 when the format has none, e.g. SPB). */
  tsNs: bigint;
  /** The captured bytes (a view into the input). */
  data: Uint8Array;
  /** Length of the packet on the wire (>= data.length when the capture was cut). */
  origLen: number;
  linkType: number;
  /** Offset of the IP header in `data`, or -1 when the frame is not IPv4/IPv6. */
  l3Off: number;
  /** pcapng interface id (0 for classic pcap). */
  interfaceId: number;
}

/** An error in a capture file, naming the byte offset where it was found. */
export class CaptureFormatError extends Error {
  constructor(
    readonly offset: number,
    what: string,
  ) {
    super(`capture file malformed at byte ${offset}: ${what}`);
    this.name = 'CaptureFormatError';
  }
}
