/**
 * nft's fib expression, answered from the node's view of its routing: the main table's
 * routes (ctx.fibRoutes: prefix -> interface, blackhole / unreachable / prohibit / throw
 * routes as "no route") and the node's own addresses (ctx.localAddrs: interface addresses
 * and the VIPs held now), as the kernel's nft_fib4/nft_fib6 answer from its tables:
 *
 *  - `fib saddr|daddr [. iif] oif|oifname`: the interface of the route to the address, as
 *    if the packet were sent there (the lookup the kernel makes with iif = loopback, so the
 *    main table); nothing (`missing`, `0`, the empty name) when there is no route, it rejects,
 *    or the address is the node's own (the local table answers, RTN_LOCAL gives no
 *    interface). With `. iif` the route must go out of the input interface, else nothing.
 *    An IPv4 packet from 0.0.0.0/8 to a broadcast or 224.0.0.0/24, and IPv6 link-local
 *    addresses, give the input interface, as the kernel's lookup does for them.
 *  - `fib saddr|daddr [. iif|. oif] type`: `local` (one of the node's addresses, or loopback;
 *    with `. iif` / `. oif` an address of that interface) or `multicast` (by address).
 *
 *  - `fib saddr . iif oif|oifname` (the reverse-path check) needs the real input interface:
 *    with one TUN device per steered interface (datapath.inputDevices per-interface, the
 *    default) the datapath knows it. With the shared TUN device it is inferred from the route
 *    back to the source, so the check would always pass: refused there (needsExactIif).
 *
 * Refused, each with its reason:
 *  - `. mark`: the mark selects policy routing rules; the node's view is the main table.
 *  - `. oif` with `oif`/`oifname`: the kernel refuses it (nft_fib_init: EINVAL).
 *  - type values other than local and multicast: the node does not know its subnet
 *    broadcast addresses nor route types, so it cannot tell unicast, broadcast,
 *    unreachable (and the rest) apart.
 * Hooks as the kernel's nft_fib_validate allows them.
 */
import { IFNAME, type DataType } from '../data-types.js';
import { nameKey } from '../interface-names.js';
import type { ClassifyContext } from '../context.js';
import type { MatchModule, Registry } from '../registry.js';

/** Linux route types (RTN_*), the values nft's fib_addrtype compares. */
const RTN: Record<string, number> = {
  unspec: 0, unicast: 1, local: 2, broadcast: 3, anycast: 4, multicast: 5, blackhole: 6, unreachable: 7, prohibit: 8,
  throw: 9, nat: 10, xresolve: 11,
};
const SUPPORTED = new Set(['local', 'multicast']);
/** What the load gives for an address that is neither local nor multicast: never a written value. */
const NOT_TOLD_APART = 0xff;

const TUN_IIF = "with datapath.inputDevices: shared every interface's traffic reaches hafw's datapath through one TUN device, which hides the interface a packet came in on: the input interface is inferred from the route back to the source, so a reverse-path check (`fib saddr . iif oif missing`) would always pass";

/** Why the reverse-path forms are refused where the input interface is inferred. */
export const FIB_REVERSE_PATH = `fib saddr . iif is not supported here: ${TUN_IIF}. Set datapath.inputDevices: per-interface (the default: one TUN device per interface, the real input interface), or enable the kernel's rp_filter on the node's interfaces (sysctl net.ipv4.conf.all.rp_filter=1; for IPv6 the kernel's own nftables with this rule). fib saddr oif (without . iif) and fib daddr . iif oif are supported`;

const FIB_MARK = "fib ... . mark is not supported: the mark selects the kernel's policy routing rules (ip rule fwmark), and the datapath's view of the routes is the main table only. Drop '. mark' when no fwmark rule decides the route";

const FIB_OIF_OIF = "fib ... . oif cannot give oif or oifname: the kernel refuses the combination (Invalid argument); write 'fib daddr oif' in prerouting or 'fib daddr . iif oif' in forward";

/** Why an unknown fib form is refused (text and JSON). */
export const FIB_REFUSED = "a fib expression is 'fib saddr|daddr [. mark] [. iif|. oif] oif|oifname|type' (saddr and daddr are mutually exclusive, so are iif and oif), e.g. 'fib daddr type local', 'fib daddr oif missing'";

function valueRefused(name: string): string {
  return `fib type '${name}' is not supported: the datapath knows the node's own addresses and multicast, but not its subnet broadcast addresses or the route types, so it cannot tell unicast, broadcast, unreachable (and the rest) apart. Match 'local' or 'multicast' (or their !=), and a known broadcast address with ip daddr`;
}

const FIB_ADDRTYPE: DataType = {
  name: 'fib_addrtype',
  help: 'fib address type: local or multicast (the types hafw can tell exactly)',
  words: 1,
  bits: 32,
  ordered: false,
  symbols: new Map(Object.entries(RTN)),
  fromText(word) {
    if (SUPPORTED.has(word)) return word;
    if (Object.hasOwn(RTN, word)) throw valueRefused(word);
    throw `'${word}' is not a fib address type (local, multicast)`;
  },
  encode(v, out, off) {
    if (typeof v === 'string' && SUPPORTED.has(v)) {
      out[off] = RTN[v]!;
      return null;
    }
    if (typeof v === 'string' && Object.hasOwn(RTN, v)) return valueRefused(v);
    return `'${v}' is not a fib address type (local, multicast)`;
  },
  toText(v) {
    return String(v);
  },
};

const IFINDEX_REFUSED = (v: unknown) =>
  `interface index ${String(v)}: hafw knows interfaces by name (the datapath derives them from routes), write the interface's name ("lan"), 0, exists or missing`;

/**
 * `fib ... oif`'s value, nft's iface_index: an interface (by name: the datapath knows no
 * indexes), `0` / `missing` (no route) or `exists`. The key is the interface name's words
 * (interface-names.ts), all zero when there is none; `exists` is every non-zero key.
 */
const FIB_OIF: DataType = {
  name: 'fib_oif',
  help: 'an interface name, 0 or missing (no route), exists (some route)',
  words: 4,
  bits: 128,
  ordered: false,
  quoted: true,
  fromText(word) {
    if (word === 'exists') return true;
    if (word === 'missing') return false;
    if (/^(0x[0-9a-f]+|[0-9]+)$/i.test(word)) {
      if (Number(word) === 0) return '0';
      throw IFINDEX_REFUSED(word);
    }
    if (word.endsWith('*') && !word.endsWith('\\*')) throw `'${word}': fib oif is one interface (nft resolves it to an index); use oifname for a wildcard`;
    return IFNAME.fromText(word);
  },
  encode(v, out, off, env) {
    return FIB_OIF.interval!(v, out, new Uint32Array(out.length), off, env);
  },
  interval(v, lo, hi, off, env) {
    if (v === false || v === 0 || v === '0') {
      for (let i = 0; i < 4; i++) lo[off + i] = hi[off + i] = 0;
      return null;
    }
    if (v === true) {
      for (let i = 0; i < 4; i++) {
        lo[off + i] = i === 3 ? 1 : 0;
        hi[off + i] = 0xffffffff;
      }
      return null;
    }
    if (typeof v === 'number') return IFINDEX_REFUSED(v);
    if (typeof v === 'string' && v.endsWith('*') && !v.endsWith('\\*')) return `'${v}': fib oif is one interface (nft resolves it to an index); use oifname for a wildcard`;
    const e = IFNAME.encode(v, lo, off, env);
    if (e) return e;
    for (let i = 0; i < 4; i++) hi[off + i] = lo[off + i]!;
    return null;
  },
  toText(v) {
    if (v === true) return 'exists';
    if (v === false) return 'missing';
    if (v === 0 || v === '0') return '0';
    return IFNAME.toText(v);
  },
};

type Addr = 'saddr' | 'daddr';
type Dev = '' | 'iif' | 'oif';
type Result = 'oif' | 'oifname' | 'type';

const ALL_HOOKS = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

/** The kernel's nft_fib_validate. */
function hooksOf(result: Result, dev: Dev): string[] {
  if (result !== 'type') return dev === 'iif' ? ['prerouting', 'input', 'forward'] : ['prerouting'];
  if (dev === 'iif') return ['prerouting', 'input', 'forward'];
  if (dev === 'oif') return ['forward', 'output', 'postrouting'];
  return ALL_HOOKS;
}

function refusal(mark: boolean, dev: Dev, result: Result): string | undefined {
  if (mark) return FIB_MARK;
  if (result !== 'type' && dev === 'oif') return FIB_OIF_OIF;
  return undefined;
}

/** Is the IPv4 address at b[o] in 0.0.0.0/8 (ipv4_is_zeronet)? */
const zeronet4 = (b: Uint8Array, o: number): boolean => b[o] === 0;
const lbcast4 = (b: Uint8Array, o: number): boolean => b[o] === 255 && b[o + 1] === 255 && b[o + 2] === 255 && b[o + 3] === 255;
/** 224.0.0.0/24 (ipv4_is_local_multicast). */
const localMcast4 = (b: Uint8Array, o: number): boolean => b[o] === 224 && b[o + 1] === 0 && b[o + 2] === 0;
/** fe80::/10, or multicast of link-local scope (ffx2::): the kernel binds these lookups to the device. */
const linkScope6 = (b: Uint8Array, o: number): boolean => (b[o] === 0xfe && (b[o + 1]! & 0xc0) === 0x80) || (b[o] === 0xff && (b[o + 1]! & 0x0f) === 2);

function isLoopback6(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 15; i++) if (b[o + i] !== 0) return false;
  return b[o + 15] === 1;
}

/** Is the address one the kernel's local table answers as RTN_LOCAL (no dev restriction)? */
function isLocal(ctx: ClassifyContext, b: Uint8Array, o: number, fam: 4 | 6): boolean {
  if (fam === 4 ? b[o] === 127 : isLoopback6(b, o)) return true;
  return ctx.localAddrs !== null && ctx.localAddrs.has(b, o, fam);
}

/**
 * The interface id `fib ADDR [. iif] oif` gives (0: none), or -1 when the node's routes are
 * not known (no value: the rule goes no further, like `rt mtu` without routes).
 */
function oifOf(ctx: ClassifyContext, addr: Addr, iif: boolean): number {
  const p = ctx.pkt;
  const routes = ctx.fibRoutes;
  if (routes === null || (p.family !== 4 && p.family !== 6)) return -1;
  const fam = p.family;
  const b = p.buf;
  const o = addr === 'saddr' ? p.srcOff : p.dstOff;
  // The kernel answers these with the device the packet came in on, before any lookup.
  if (fam === 4 && zeronet4(b, p.srcOff) && (lbcast4(b, p.dstOff) || localMcast4(b, p.dstOff))) return ctx.iif;
  if (fam === 6 && linkScope6(b, o)) return ctx.iif;
  if (isLocal(ctx, b, o, fam)) return 0;
  const found = routes.fibOif(b, o, fam);
  if (iif) return found !== 0 && found === ctx.iif ? found : 0;
  return found;
}

/** `fib ADDR [. iif|. oif] type`: RTN_* or NOT_TOLD_APART; -1: no value (the interface is not known). */
function typeOf(ctx: ClassifyContext, addr: Addr, dev: Dev): number {
  const p = ctx.pkt;
  const b = p.buf;
  if (p.family !== 4 && p.family !== 6) return -1;
  const fam = p.family;
  const o = addr === 'saddr' ? p.srcOff : p.dstOff;
  if (fam === 4 ? b[o]! >>> 4 === 0xe : b[o] === 0xff) return RTN.multicast!;
  if (dev === '') return isLocal(ctx, b, o, fam) ? RTN.local! : NOT_TOLD_APART;
  // With a device: local only for an address of that interface (inet_dev_addr_type, the
  // kernel's local route for it names the device): loopback addresses are lo's.
  const id = dev === 'iif' ? ctx.iif : ctx.oif;
  if (id === 0) return -1;
  const name = ctx.ifnames.nameOf(id);
  const la = ctx.localAddrs;
  if (name === undefined || la === null || la.hasOn === undefined) return NOT_TOLD_APART;
  return la.hasOn(b, o, fam, name) ? RTN.local! : NOT_TOLD_APART;
}

function module(addr: Addr, mark: boolean, dev: Dev, result: Result): MatchModule {
  const flags: string[] = [addr];
  if (mark) flags.push('mark');
  if (dev !== '') flags.push(dev);
  const keywords = ['fib', ...flags.flatMap((f, i) => (i === 0 ? [f] : ['.', f])), result];
  const refused = refusal(mark, dev, result);
  const name = keywords.join(' ');
  const reversePath = result !== 'type' && addr === 'saddr' && dev === 'iif' && !mark;
  const base = {
    name, keywords, left: { fib: { result, flags } }, families: ['ip', 'ip6', 'inet'] as MatchModule['families'], hooks: hooksOf(result, dev),
    ...(reversePath ? { needsExactIif: FIB_REVERSE_PATH } : {}),
  };
  if (refused !== undefined) {
    const type = result === 'type' ? FIB_ADDRTYPE : result === 'oif' ? FIB_OIF : IFNAME;
    return { ...base, type, help: `refused: ${refused}`, refused, load: () => false };
  }
  const what = addr === 'saddr' ? 'the source (as if the packet were sent back to it)' : 'the destination';
  if (result === 'type') {
    return {
      ...base,
      type: FIB_ADDRTYPE,
      help: `${what}'s address type: local (one of the node's addresses, VIPs it holds included${dev !== '' ? `, on the ${dev === 'iif' ? 'input' : 'output'} interface` : ''}) or multicast`,
      load(ctx, out, off) {
        const t = typeOf(ctx, addr, dev);
        if (t < 0) return false;
        out[off] = t;
        return true;
      },
    };
  }
  const iif = dev === 'iif';
  const help = `the interface ${result === 'oifname' ? 'name ' : ''}of the node's route to ${what}${iif ? `, only when it is the input interface${reversePath ? ' (the reverse-path check; needs datapath.inputDevices per-interface)' : ''}` : ''}; ${result === 'oif' ? 'missing (or 0)' : 'the empty name'} when there is none, it rejects, or the address is the node's own`;
  return {
    ...base,
    type: result === 'oif' ? FIB_OIF : IFNAME,
    help,
    load(ctx, out, off) {
      const id = oifOf(ctx, addr, iif);
      if (id < 0) return false;
      if (id === 0) nameKey('', out, off);
      else ctx.ifnames.keyInto(id, out, off);
      return true;
    },
  };
}

export function registerFib(r: Registry): void {
  r.registerType(FIB_ADDRTYPE);
  r.registerType(FIB_OIF);
  for (const addr of ['saddr', 'daddr'] as const)
    for (const mark of [false, true])
      for (const dev of ['', 'iif', 'oif'] as const) for (const result of ['oif', 'oifname', 'type'] as const) r.registerMatch(module(addr, mark, dev, result));
}
