/**
 * Data types of match values and set keys (nft's datatype names). A type turns a text
 * word into the canonical JSON scalar, checks a JSON scalar, prints it back, and encodes
 * it into 32-bit key words for the compiler: one word for everything up to 32 bits,
 * four for an IPv6 address. Address types are registered by the layer-3 handlers
 * (l3-ipv4.ts, l3-ipv6.ts), the rest here.
 */
import { CtState } from '../ct-state/index.js';
import type { Scalar } from './ast.js';
import type { InterfaceNames } from './interface-names.js';
import type { MapValues } from './map-values.js';
import { IFNAME_MAX_BYTES, nameKey } from './interface-names.js';
import { serviceNames, servicePort, unknownService } from './services.js';

export interface EncodeEnv {
  ifnames: InterfaceNames;
  /** Where map data wider than one word is kept (map-values.ts); absent: no such maps here. */
  mapValues?: MapValues;
}

export interface DataType {
  name: string;
  help: string;
  /** Key width in uint32 words. */
  words: 1 | 4;
  /** Value width in bits (for prefixes and range checks). */
  bits: number;
  /** Flag type: comma lists mean "any of", `v / mask` means masked compare. */
  bitmask?: boolean;
  /** Addresses accept `/len`. */
  prefix?: boolean;
  /** Strings printed in double quotes (interface names). */
  quoted?: boolean;
  /** Ordered values: ranges and < > are meaningful. */
  ordered: boolean;
  symbols?: ReadonlyMap<string, number>;
  /** Text word -> canonical scalar. Throws a message string on error. */
  fromText(word: string): Scalar;
  /** Checks a scalar and writes its key words. Returns an error message or null. */
  encode(v: Scalar, out: Uint32Array, off: number, env: EncodeEnv): string | null;
  toText(v: Scalar): string;
  /**
   * How a mask of this type prints (`ip frag-off & 0x1fff != 0`): nft prints the mask of a
   * plain integer field in hex and the compared value in decimal. Absent: as toText.
   */
  maskText?(v: Scalar): string;
  /**
   * For types whose single values may stand for a range (interface name wildcards):
   * writes [lo, hi] for the value. Returns an error message or null.
   */
  interval?(v: Scalar, lo: Uint32Array, hi: Uint32Array, off: number, env: EncodeEnv): string | null;
}

/** `123` or `0x7b` (any case) -> number; anything else -> undefined. A character scan, not a regex: it runs for every port of a 10,000-rule load. */
export function parseInteger(word: string): number | undefined {
  const n = word.length;
  if (n === 0) return undefined;
  if (n > 2 && word.charCodeAt(0) === 48 && (word.charCodeAt(1) | 32) === 120) {
    for (let i = 2; i < n; i++) {
      const c = word.charCodeAt(i) | 32; // lower-cases letters, keeps digits
      if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return undefined;
    }
    return parseInt(word.slice(2), 16);
  }
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = word.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    v = v * 10 + (c - 48);
  }
  // Beyond 2^53 the running sum can round differently from parseInt: let it decide.
  return v <= Number.MAX_SAFE_INTEGER ? v : parseInt(word, 10);
}

/** An unsigned integer type with optional symbolic names (ports, protocols, ICMP types, marks). */
export function integerType(
  name: string,
  bits: number,
  help: string,
  symbols?: Record<string, number>,
  opts: { hex?: boolean; bitmask?: boolean } = {},
): DataType {
  const max = bits >= 32 ? 0xffffffff : (1 << bits) - 1;
  const sym = symbols ? new Map(Object.entries(symbols)) : undefined;
  const t: DataType = {
    name,
    help,
    words: 1,
    bits,
    ordered: !opts.bitmask,
    bitmask: opts.bitmask,
    symbols: sym,
    fromText(word) {
      const n = parseInteger(word);
      if (n !== undefined) {
        if (n > max) throw `${word} is out of range for ${name} (max ${max})`;
        return n;
      }
      if (sym?.has(word)) return word;
      throw `'${word}' is not a valid ${name}${sym ? ` (expected a number or one of: ${[...sym.keys()].join(', ')})` : ''}`;
    },
    encode(v, out, off) {
      let n: number | undefined;
      if (typeof v === 'number') n = v;
      else if (typeof v === 'string') n = sym?.get(v) ?? parseInteger(v);
      if (n === undefined || !Number.isInteger(n) || n < 0 || n > max) return `'${v}' is not a valid ${name}`;
      out[off] = n >>> 0;
      return null;
    },
    toText(v) {
      if (typeof v === 'number' && opts.hex) return '0x' + v.toString(16).padStart(8, '0');
      return String(v);
    },
  };
  return t;
}

/**
 * Ports, and service names as nft resolves them (services.ts): a name is read as its
 * number, which is what nft lists and writes in JSON (`tcp dport ssh` lists as `22`).
 */
export const INET_SERVICE: DataType = {
  name: 'inet_service',
  help: 'TCP/UDP/SCTP port number (0-65535) or a service name from /etc/services',
  words: 1,
  bits: 16,
  ordered: true,
  // The live table: a name is a symbol even with a '-' in it (`microsoft-ds`).
  get symbols() {
    return serviceNames();
  },
  fromText(word) {
    const n = parseInteger(word);
    if (n !== undefined) {
      if (n > 0xffff) throw `${word} is out of range for inet_service (max 65535)`;
      return n;
    }
    const p = servicePort(word);
    if (p === undefined) throw unknownService(word);
    return p;
  },
  encode(v, out, off) {
    const n = typeof v === 'number' ? v : typeof v === 'string' ? (parseInteger(v) ?? servicePort(v)) : undefined;
    if (n === undefined || !Number.isInteger(n) || n < 0 || n > 0xffff) return typeof v === 'string' && parseInteger(v) === undefined ? unknownService(v) : `'${v}' is not a valid inet_service`;
    out[off] = n;
    return null;
  },
  toText(v) {
    // A name from JSON input prints as its number, as a name in text is read.
    return typeof v === 'string' ? String(servicePort(v) ?? v) : String(v);
  },
};

export const INET_PROTO = integerType('inet_proto', 8, 'IP protocol number (IANA) or name', {
  icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, icmpv6: 58, 'ipv6-icmp': 58, vrrp: 112, sctp: 132,
  // The IPv6 extension header numbers, by their /etc/protocols names (nft lists `hbh nexthdr 59` as `ipv6-nonxt`).
  hopopt: 0, 'ipv6-route': 43, 'ipv6-frag': 44, 'ipv6-nonxt': 59, 'ipv6-opts': 60, 'mobility-header': 135,
});

/** nft lists a protocol by its /etc/protocols name (`ip protocol 6` as `tcp`, `icmpv6` as `ipv6-icmp`). */
const PROTO_LISTED = new Map<number, string>([[1, 'icmp'], [2, 'igmp'], [6, 'tcp'], [17, 'udp'], [47, 'gre'], [50, 'esp'], [51, 'ah'], [58, 'ipv6-icmp'], [112, 'vrrp'], [132, 'sctp']]);
/** A protocol value as nft lists and writes it: its name when it has one (58 and `icmpv6` are `ipv6-icmp`). */
export function protoListed(v: Scalar): Scalar {
  const n = typeof v === 'number' ? v : INET_PROTO.symbols?.get(String(v));
  return (n !== undefined ? PROTO_LISTED.get(n) : undefined) ?? v;
}
INET_PROTO.toText = (v) => String(protoListed(v));

/** NFPROTO_* values (linux/netfilter.h): what `meta nfproto` compares. */
export const NF_PROTO = integerType('nf_proto', 8, 'layer-3 protocol family', { ipv4: 2, ipv6: 10 });

export const MARK = integerType('mark', 32, 'packet or connection mark (32-bit)', undefined, { hex: true });

/** ICMP types, RFC 792 / IANA icmp-parameters. */
export const ICMP_TYPE = integerType('icmp_type', 8, 'ICMP message type', {
  'echo-reply': 0, 'destination-unreachable': 3, 'source-quench': 4, redirect: 5, 'echo-request': 8,
  'router-advertisement': 9, 'router-solicitation': 10, 'time-exceeded': 11, 'parameter-problem': 12,
  'timestamp-request': 13, 'timestamp-reply': 14, 'info-request': 15, 'info-reply': 16,
  'address-mask-request': 17, 'address-mask-reply': 18,
});

/** ICMPv6 types, RFC 4443 and RFC 4861 / IANA icmpv6-parameters. */
export const ICMPV6_TYPE = integerType('icmpv6_type', 8, 'ICMPv6 message type', {
  'destination-unreachable': 1, 'packet-too-big': 2, 'time-exceeded': 3, 'parameter-problem': 4,
  'echo-request': 128, 'echo-reply': 129, 'mld-listener-query': 130, 'mld-listener-report': 131,
  'mld-listener-done': 132, 'nd-router-solicit': 133, 'nd-router-advert': 134, 'nd-neighbor-solicit': 135,
  'nd-neighbor-advert': 136, 'nd-redirect': 137, 'router-renumbering': 138, 'mld2-listener-report': 143,
});

/** ICMP destination-unreachable codes (RFC 792, RFC 1812), the names nft gives them. */
export const ICMP_CODE = integerType('icmp_code', 8, 'ICMP code', {
  'net-unreachable': 0, 'host-unreachable': 1, 'prot-unreachable': 2, 'port-unreachable': 3,
  'frag-needed': 4, 'net-prohibited': 9, 'host-prohibited': 10, 'admin-prohibited': 13,
});

/** ICMPv6 destination-unreachable codes (RFC 4443 section 3.1), the names nft gives them. */
export const ICMPV6_CODE = integerType('icmpv6_code', 8, 'ICMPv6 code', {
  'no-route': 0, 'admin-prohibited': 1, 'addr-unreachable': 3, 'port-unreachable': 4, 'policy-fail': 5, 'reject-route': 6,
});

/** Differentiated services code points (RFC 2474, RFC 2597, RFC 3246, RFC 8622). */
/**
 * A symbolic integer type read and listed by name wherever the number has one (nft lists
 * `ip dscp 8` as `ip dscp cs1` and writes "cs1" to JSON), so the listing is nft's. The first
 * name of a value is the one listed (DSCP 1 is `lephb`, as in nft 1.0.6: `le` also reads as
 * the operator <=).
 */
export function namedType(base: DataType): DataType {
  const names = new Map<number, string>();
  for (const [k, v] of base.symbols ?? []) if (!names.has(v)) names.set(v, k);
  return {
    ...base,
    fromText(word: string): Scalar {
      const v = base.fromText(word);
      return typeof v === 'number' ? (names.get(v) ?? v) : v;
    },
    toText(v: Scalar): string {
      return typeof v === 'number' ? (names.get(v) ?? String(v)) : String(v);
    },
  };
}

export const DSCP = namedType(integerType('dscp', 6, 'differentiated services code point (6 bits)', {
  cs0: 0, cs1: 8, cs2: 16, cs3: 24, cs4: 32, cs5: 40, cs6: 48, cs7: 56, lephb: 1, le: 1,
  af11: 10, af12: 12, af13: 14, af21: 18, af22: 20, af23: 22, af31: 26, af32: 28, af33: 30,
  af41: 34, af42: 36, af43: 38, ef: 46,
}));

/** IPv4 TTL / IPv6 hop limit. */
export const HOP_LIMIT = integerType('hop_limit', 8, 'IPv4 time to live or IPv6 hop limit');

/** The direction of a packet in its connection (IP_CT_DIR_*). */
export const CT_DIR = integerType('ct_dir', 8, 'direction of the packet in its connection', { original: 0, reply: 1 });

/** Conntrack state bits as nft defines them (NF_CT_STATE_* in nf_conntrack_common.h): the tracker's own values. */
export const CT_STATE = integerType('ct_state', 32, 'conntrack state flags', {
  invalid: CtState.Invalid, established: CtState.Established, related: CtState.Related, new: CtState.New, untracked: CtState.Untracked,
}, { bitmask: true });

/** IPS_* status bits (nf_conntrack_common.h). */
export const CT_STATUS = integerType('ct_status', 32, 'conntrack status flags', {
  expected: 1, 'seen-reply': 2, assured: 4, confirmed: 8, snat: 16, dnat: 32, dying: 512,
}, { bitmask: true });

/** TCP header flag bits (RFC 9293 section 3.1, RFC 3168 for ECE/CWR). */
export const TCP_FLAG = integerType('tcp_flag', 8, 'TCP flags', {
  fin: 1, syn: 2, rst: 4, psh: 8, ack: 16, urg: 32, ecn: 64, cwr: 128,
}, { bitmask: true });

/**
 * An interface name as nft writes it: a trailing `*` makes it a wildcard (names with that
 * prefix), `\*` is a literal `*`. Returns the name or prefix, or a message string.
 */
function ifnamePattern(v: string): { name: string; wildcard: boolean } | string {
  const wildcard = v.endsWith('*') && !v.endsWith('\\*');
  const name = (wildcard ? v.slice(0, -1) : v).replace(/\\\*/g, '*');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (wildcard ? bytes > IFNAME_MAX_BYTES : bytes === 0 || bytes > IFNAME_MAX_BYTES) {
    return `'${v}' is not a valid interface name (1-${IFNAME_MAX_BYTES} bytes${wildcard ? ' before the *' : ''})`;
  }
  return { name, wildcard };
}

/**
 * Interface names, compared as the kernel compares them: the name's bytes in four key
 * words (interface-names.ts). `"eth*"` is the interval of every name starting with "eth".
 */
export const IFNAME: DataType = {
  name: 'ifname',
  help: 'network interface name (up to 15 bytes); a trailing * matches every name with that prefix ("eth*")',
  words: 4,
  bits: 128,
  ordered: false,
  quoted: true,
  fromText(word) {
    const p = ifnamePattern(word);
    if (typeof p === 'string') throw p;
    return word;
  },
  encode(v, out, off) {
    if (typeof v !== 'string') return `'${v}' is not a valid interface name`;
    const p = ifnamePattern(v);
    if (typeof p === 'string') return p;
    nameKey(p.name, out, off);
    return null;
  },
  interval(v, lo, hi, off) {
    if (typeof v !== 'string') return `'${v}' is not a valid interface name`;
    const p = ifnamePattern(v);
    if (typeof p === 'string') return p;
    nameKey(p.name, lo, off);
    nameKey(p.name, hi, off, p.wildcard ? 0xff : 0);
    return null;
  },
  toText(v) {
    // As nft prints it: `\*` stays as written (JSON.stringify would double the backslash).
    return JSON.stringify(String(v)).replace(/\\\\\*/g, '\\*');
  },
};

/** Looks up a value's symbolic name for bitmask printing: 6 -> "established,related". */
export function flagNames(t: DataType, v: number): string[] | undefined {
  if (!t.symbols) return undefined;
  const out: string[] = [];
  let rest = v;
  for (const [name, bit] of t.symbols) {
    if (bit !== 0 && (v & bit) === bit) {
      out.push(name);
      rest &= ~bit;
    }
  }
  return rest === 0 ? out : undefined;
}
