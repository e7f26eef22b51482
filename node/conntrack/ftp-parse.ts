/**
 * The FTP control channel's grammar, as far as conntrack needs it: the commands and
 * replies that announce a data connection's address (RFC 959 PORT and 227, RFC 2428 EPRT
 * and 229). A pure function over bytes: no state, no allocation, never throws. Also the
 * text NAT writes in an announcement's place (formatAnnouncement).
 *
 * Hostile input: each line is looked at only up to FTP_LINE_MAX bytes and the scan of one
 * payload is linear in its length (each byte read a bounded number of times), whatever the
 * bytes are. Numbers are read with a digit cap, so no long digit run grows a value.
 *
 * As Linux's nf_conntrack_ftp: commands are matched case-insensitively at a line's start;
 * PORT and EPRT are looked for in the client's direction, 227 and 229 in the server's.
 */
import { formatAddress } from '../packet/address.js';

/** What a line announces. */
export const enum FtpKind {
  None = 0,
  /** `PORT h1,h2,h3,h4,p1,p2` (client: connect to me there). */
  Port = 1,
  /** `EPRT |af|addr|port|` (client, IPv4 or IPv6). */
  Eprt = 2,
  /** `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` (server). */
  Pasv = 3,
  /** `229 Entering Extended Passive Mode (|||port|)` (server; the address is the control connection's). */
  Epsv = 4,
}

/** Lines longer than this are skipped unread (commands are far shorter; RFC 959's replies too). */
export const FTP_LINE_MAX = 256;

/** One announcement, filled in place. */
export class FtpAnnounce {
  kind: FtpKind = FtpKind.None;
  /** 4 or 6; 0 for 229 (the control connection's family and address). */
  family: 0 | 4 | 6 = 0;
  /** The address (4 or 16 bytes used). */
  readonly addr = new Uint8Array(16);
  port = 0;
  /** Where the address-and-port text is in the buffer (what NAT would rewrite) and its length. */
  textOff = 0;
  textLen = 0;
  /** Where the line starts and its length without the line end. */
  lineOff = 0;
  lineLen = 0;
}

const LF = 10;
const CR = 13;

function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** Does buf[off..end) start with the lower-case ASCII word `w`? */
function startsWith(buf: Uint8Array, off: number, end: number, w: string): boolean {
  if (end - off < w.length) return false;
  for (let i = 0; i < w.length; i++) if (lower(buf[off + i]!) !== w.charCodeAt(i)) return false;
  return true;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** Reads a decimal of at most maxDigits digits at buf[p]; sets numEnd. -1 when none or too long. */
let numEnd = 0;
function readNum(buf: Uint8Array, p: number, end: number, maxDigits: number): number {
  let v = 0;
  let n = 0;
  while (p < end && isDigit(buf[p]!)) {
    if (++n > maxDigits) return -1;
    v = v * 10 + (buf[p]! - 48);
    p++;
  }
  numEnd = p;
  return n === 0 ? -1 : v;
}

/** `h1,h2,h3,h4,p1,p2` at buf[p] (RFC 959 4.1.2): fills addr/port; returns the end or -1. */
function readHostPort(buf: Uint8Array, p: number, end: number, out: FtpAnnounce): number {
  let port = 0;
  for (let i = 0; i < 6; i++) {
    if (i > 0) {
      if (p >= end || buf[p] !== 44 /* , */) return -1;
      p++;
    }
    const v = readNum(buf, p, end, 3);
    if (v < 0 || v > 255) return -1;
    p = numEnd;
    if (i < 4) out.addr[i] = v;
    else port = (port << 8) | v;
  }
  out.port = port;
  out.family = 4;
  return p;
}

/** A dotted IPv4 address ending at `stop`; true when well formed. */
function readV4(buf: Uint8Array, p: number, stop: number, out: Uint8Array): boolean {
  for (let i = 0; i < 4; i++) {
    if (i > 0) {
      if (p >= stop || buf[p] !== 46 /* . */) return false;
      p++;
    }
    const v = readNum(buf, p, stop, 3);
    if (v < 0 || v > 255) return false;
    out[i] = v;
    p = numEnd;
  }
  return p === stop;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = lower(c);
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** An IPv6 address in text (RFC 4291 2.2, with `::` and an IPv4 tail) ending at `stop`. */
function readV6(buf: Uint8Array, p: number, stop: number, out: Uint8Array): boolean {
  // Groups before and after `::`, as 16-bit words; at most 8 in all.
  const words = WORDS;
  let n = 0;
  let gap = -1;
  if (stop - p >= 2 && buf[p] === 58 && buf[p + 1] === 58) {
    gap = 0;
    p += 2;
  } else if (p < stop && buf[p] === 58) return false;
  while (p < stop) {
    if (n >= 8) return false;
    // An IPv4 tail takes the last two words.
    let q = p;
    while (q < stop && buf[q] !== 58 && buf[q] !== 46) q++;
    if (q < stop && buf[q] === 46) {
      if (n > 6) return false;
      if (!readV4(buf, p, stop, V4)) return false;
      words[n++] = (V4[0]! << 8) | V4[1]!;
      words[n++] = (V4[2]! << 8) | V4[3]!;
      p = stop;
      break;
    }
    let v = 0;
    let digits = 0;
    while (p < stop && buf[p] !== 58) {
      const h = hexVal(buf[p]!);
      if (h < 0 || ++digits > 4) return false;
      v = (v << 4) | h;
      p++;
    }
    if (digits === 0) return false;
    words[n++] = v;
    if (p < stop) {
      p++; // ':'
      if (p < stop && buf[p] === 58) {
        if (gap >= 0) return false;
        gap = n;
        p++;
      } else if (p >= stop) return false; // a trailing single ':'
    }
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  out.fill(0);
  const tail = gap < 0 ? 0 : n - gap;
  const head = gap < 0 ? n : gap;
  for (let i = 0; i < head; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  for (let i = 0; i < tail; i++) {
    const w = words[gap + i]!;
    const at = 8 - tail + i;
    out[2 * at] = w >> 8;
    out[2 * at + 1] = w & 0xff;
  }
  return true;
}
const WORDS = new Uint16Array(8);
const V4 = new Uint8Array(4);

/** `<d>af<d>addr<d>port<d>` (RFC 2428 2): d is any printable ASCII but digits. Returns the end or -1. */
function readEprt(buf: Uint8Array, p: number, end: number, out: FtpAnnounce): number {
  if (p >= end) return -1;
  const d = buf[p]!;
  if (d < 33 || d > 126 || isDigit(d)) return -1;
  p++;
  const af = readNum(buf, p, end, 1);
  if ((af !== 1 && af !== 2) || numEnd >= end || buf[numEnd] !== d) return -1;
  p = numEnd + 1;
  let stop = p;
  while (stop < end && buf[stop] !== d) stop++;
  if (stop >= end) return -1;
  if (af === 1 ? !readV4(buf, p, stop, out.addr) : !readV6(buf, p, stop, out.addr)) return -1;
  p = stop + 1;
  const port = readNum(buf, p, end, 5);
  if (port < 0 || port > 65535 || numEnd >= end || buf[numEnd] !== d) return -1;
  out.family = af === 1 ? 4 : 6;
  out.port = port;
  return numEnd + 1;
}

/** `(<d><d><d>port<d>)` after 229 (RFC 2428 3): the port only. Returns the end or -1. */
function readEpsv(buf: Uint8Array, p: number, end: number, out: FtpAnnounce): number {
  if (end - p < 4) return -1;
  const d = buf[p]!;
  if (d < 33 || d > 126 || isDigit(d) || buf[p + 1] !== d || buf[p + 2] !== d) return -1;
  const port = readNum(buf, p + 3, end, 5);
  if (port < 0 || port > 65535 || numEnd >= end || buf[numEnd] !== d) return -1;
  out.family = 0;
  out.port = port;
  return numEnd + 1;
}

/**
 * Parses one line buf[off..end) (without its line end) of the client's (fromClient) or the
 * server's text; fills `out` and returns true for an announcement.
 */
export function parseFtpLine(buf: Uint8Array, off: number, end: number, fromClient: boolean, out: FtpAnnounce): boolean {
  out.kind = FtpKind.None;
  if (end - off > FTP_LINE_MAX) return false;
  out.lineOff = off;
  out.lineLen = end - off;
  if (fromClient) {
    if (startsWith(buf, off, end, 'port ')) {
      let p = off + 5;
      while (p < end && buf[p] === 32) p++;
      const e = readHostPort(buf, p, end, out);
      if (e < 0) return false;
      return done(out, FtpKind.Port, p, e);
    }
    if (startsWith(buf, off, end, 'eprt ')) {
      let p = off + 5;
      while (p < end && buf[p] === 32) p++;
      const e = readEprt(buf, p, end, out);
      if (e < 0) return false;
      return done(out, FtpKind.Eprt, p, e);
    }
    return false;
  }
  if (startsWith(buf, off, end, '227 ') || startsWith(buf, off, end, '229 ')) {
    const pasv = buf[off + 2] === 55; // '7'
    // The numbers are in parentheses (both RFCs' examples; Linux looks for '(' too).
    let p = off + 4;
    while (p < end && buf[p] !== 40 /* ( */) p++;
    if (p >= end) return false;
    p++;
    const e = pasv ? readHostPort(buf, p, end, out) : readEpsv(buf, p, end, out);
    if (e < 0) return false;
    return done(out, pasv ? FtpKind.Pasv : FtpKind.Epsv, p, e);
  }
  return false;
}

function done(out: FtpAnnounce, kind: FtpKind, textOff: number, textEnd: number): true {
  out.kind = kind;
  out.textOff = textOff;
  out.textLen = textEnd - textOff;
  return true;
}

/**
 * Scans a segment's payload buf[off..end) that starts at a line's beginning: calls `found`
 * for each complete line (ended by LF) that announces a data connection. Returns the
 * number of bytes up to and including the last LF (0: no complete line), so the caller
 * knows where the next line starts. Linear in the payload's length.
 */
export function scanFtpPayload(
  buf: Uint8Array,
  off: number,
  end: number,
  fromClient: boolean,
  out: FtpAnnounce,
  found: (a: FtpAnnounce) => void,
): number {
  let line = off;
  let consumed = 0;
  for (let p = off; p < end; p++) {
    if (buf[p] !== LF) continue;
    let le = p;
    if (le > line && buf[le - 1] === CR) le--;
    if (parseFtpLine(buf, line, le, fromClient, out)) found(out);
    line = p + 1;
    consumed = line - off;
  }
  return consumed;
}

const KEYWORDS_CLIENT = ['port ', 'eprt '];
const KEYWORDS_SERVER = ['227 ', '229 '];

/**
 * Whether buf[off..end), the unfinished last line of a segment (no line end yet), is an
 * announcement cut by the segment's end: it starts with PORT/EPRT (client) or 227/229
 * (server). When it is all the segment holds (`whole`), a beginning of one of those words
 * counts too (Linux's nf_conntrack_ftp drops such a short "partial match"); a shorter tail
 * after complete lines does not (a reply cut after its first digit is no announcement yet,
 * and the sender may cut there again). A NATed control connection cannot rewrite it.
 */
export function partialAnnouncement(buf: Uint8Array, off: number, end: number, fromClient: boolean, whole: boolean): boolean {
  if (end <= off || end - off > FTP_LINE_MAX) return false;
  for (const w of fromClient ? KEYWORDS_CLIENT : KEYWORDS_SERVER) {
    if (end - off < w.length && !whole) continue;
    const n = end - off < w.length ? end - off : w.length;
    let k = 0;
    while (k < n && lower(buf[off + k]!) === w.charCodeAt(k)) k++;
    if (k === n) return true;
  }
  return false;
}

/** Writes the ASCII of `s` at out[at]; returns the new end. */
function put(out: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  return at + s.length;
}

/**
 * The announcement's address-and-port text (what textOff/textLen cover) naming `addr`
 * (4 or 16 bytes) and `port` instead, in the same form: `h1,h2,h3,h4,p1,p2` (PORT, 227),
 * `<d>1|2<d>addr<d>port<d>` (EPRT, the same delimiter), `<d><d><d>port<d>` (229). Written
 * into `out` (at least FTP_TEXT_MAX bytes); returns its length. `delim` is the announcement's
 * delimiter (its text's first byte) for EPRT and 229. Allocates a short string: once per
 * rewritten announcement (NAT), never per packet.
 */
export function formatAnnouncement(kind: FtpKind, delim: number, addr: Uint8Array, alen: number, port: number, out: Uint8Array): number {
  const d = String.fromCharCode(delim);
  let s: string;
  if (kind === FtpKind.Port || kind === FtpKind.Pasv) {
    s = `${addr[0]},${addr[1]},${addr[2]},${addr[3]},${port >> 8},${port & 0xff}`;
  } else if (kind === FtpKind.Eprt) {
    s = `${d}${alen === 4 ? 1 : 2}${d}${formatAddress(addr, 0, alen)}${d}${port}${d}`;
  } else {
    s = `${d}${d}${d}${port}${d}`;
  }
  return put(out, 0, s);
}

/** The longest text formatAnnouncement writes (EPRT with a full IPv6 address). */
export const FTP_TEXT_MAX = 64;
