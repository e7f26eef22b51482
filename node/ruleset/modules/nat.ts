/**
 * NAT statements: `snat [ip|ip6] to ADDR[-ADDR][:PORT[-PORT]]`, `masquerade
 * [to :PORT[-PORT]]`, `dnat [ip|ip6] to ADDR[:PORT]`, `dnat [ip|ip6] to SELECTOR map { KEY :
 * ADDR, ... }`, `redirect [to :PORT]`, each optionally followed by `random`,
 * `fully-random`, `persistent` (comma separated), as nft(8) "NAT STATEMENTS".
 *
 * Compiled, a statement records its NatRequest (node/nat, built once at compile time) in
 * ctx.natSrc (snat, masquerade) or ctx.natDst (dnat, redirect) and ends the chain with
 * accept, like the kernel's nat expression whose verdict is NF_ACCEPT. The datapath runs
 * `type nat` chains on the first packet of a connection only (ctx.natChains), as netfilter
 * does (nf_nat_inet_fn consults the nat chains for unconfirmed conntracks only).
 *
 * JSON follows libnftables: `{"snat": {"addr": "192.0.2.1", "port": 1024, "family": "ip",
 * "flags": ["random"]}}`, ranges as `{"range": [lo, hi]}`, the map form as
 * `{"dnat": {"addr": {"map": {"key": SELECTOR, "data": {"set": [[KEY, ADDR], ...]}}}}}`,
 * `{"masquerade": null}`, `{"redirect": {"port": 8080}}`.
 *
 * An IPv6 target with a port is bracketed, as nft writes it: `[2001:db8::1]:80`,
 * `[A]-[B]:P`. A map may give address and port: `dnat ip to ip daddr . tcp dport map { 198.51.100.1
 * . 80 : 192.0.2.10 . 8080 }` (nft's `dnat ip addr . port to ...` is read too and listed without
 * the words, as nft lists it), JSON data `{"concat": [ADDR, PORT]}`. A named map works the same
 * (`dnat ip to ip daddr . tcp dport map @m` with `map m { type ipv4_addr . inet_service :
 * ipv4_addr . inet_service; }`, JSON `"data": "@m"`): its elements may change without the rule
 * being compiled again, so the target is looked up per new connection and each distinct target
 * is turned into its NAT request once.
 */
import type { ChainJ, Family, Selector, Stmt, Value } from '../ast.js';
import type { DataType } from '../data-types.js';
import { INET_SERVICE } from '../data-types.js';
import { servicePort } from '../services.js';
import type { CompileEnv, Registry, StatementModule, StmtFn, TextReader, ValidateEnv } from '../registry.js';
import type { Token } from '../lexer.js';
import { IPV4_ADDR } from '../l3-ipv4.js';
import { IPV6_ADDR } from '../l3-ipv6.js';
import { NatKind } from '../../nat/binding.js';
import { NatFlags } from '../../nat/nat-flags.js';
import { type NatRequest, natRequest, splitNatTarget } from '../../nat/request.js';

type Range<T> = { range: [T, T] };
type PortJ = number | Range<number>;
/** A map element's target: an address, or an address and a port (`192.0.2.10 . 8080`, JSON `{"concat": [ADDR, PORT]}`). */
type MapTarget = string | Range<string> | { concat: [string | Range<string>, PortJ] };
/** The map form: an anonymous map's elements, or `@NAME` of a named map. */
type MapJ = { map: { key: Selector; data: { set: [Value, MapTarget][] } | string } };
type AddrJ = string | Range<string> | MapJ;

/** The JSON body of a NAT statement (null for a bare `masquerade` / `redirect`). */
export interface NatJ {
  family?: 'ip' | 'ip6';
  addr?: AddrJ;
  port?: PortJ;
  flags?: string[];
}

const FLAG_BITS: Record<string, number> = { random: NatFlags.Random, 'fully-random': NatFlags.FullyRandom, persistent: NatFlags.Persistent };

interface NatSpec {
  word: 'snat' | 'dnat' | 'masquerade' | 'redirect';
  kind: NatKind;
  /** Takes an address (snat, dnat) or only a port (masquerade, redirect). */
  addr: boolean;
  /** Chains it may run in: the hooks of the kernel's nat types (NF_NAT_MANIP_SRC at postrouting/input, DST at prerouting/output). */
  hooks: string[];
  help: string;
}

function isRange<T>(v: unknown): v is Range<T> {
  return v !== null && typeof v === 'object' && Array.isArray((v as Range<T>).range) && (v as Range<T>).range.length === 2;
}

function isMap(a: AddrJ | undefined): a is MapJ {
  return a !== null && typeof a === 'object' && 'map' in a;
}

/** The anonymous map's elements, or undefined for a named map. */
function anonItems(m: MapJ['map']): [Value, MapTarget][] | undefined {
  return typeof m.data === 'string' ? undefined : m.data.set;
}

function bodyOf(stmt: Stmt, word: string): NatJ | null {
  return (stmt as Record<string, NatJ | null>)[word];
}

function isV6(a: string): boolean {
  return a.includes(':');
}

/** Target text as written and as parseNatTarget reads it (`ADDR[-ADDR][:PORT[-PORT]]`, `:PORT`, `[V6]:PORT`, `[V6]-[V6]:PORT`). */
function targetText(addr: string | Range<string> | undefined, port: PortJ | undefined): string {
  const p = port === undefined ? '' : typeof port === 'number' ? String(port) : `${port.range[0]}-${port.range[1]}`;
  // Before a port, IPv6 addresses are bracketed (nft's form): [A]:P, [A]-[B]:P.
  const v6 = p !== '' && addr !== undefined && isV6(typeof addr === 'string' ? addr : addr.range[0]);
  const one = (x: string) => (v6 ? `[${x}]` : x);
  const a = addr === undefined ? '' : typeof addr === 'string' ? one(addr) : `${one(addr.range[0])}-${one(addr.range[1])}`;
  return p === '' ? a : `${a}:${p}`;
}

function isConcatTarget(t: MapTarget): t is { concat: [string | Range<string>, PortJ] } {
  return t !== null && typeof t === 'object' && 'concat' in t;
}

/** A map element's address and port. */
function targetParts(t: MapTarget): { addr: string | Range<string>; port?: PortJ } {
  return isConcatTarget(t) ? { addr: t.concat[0], port: t.concat[1] } : { addr: t };
}

function isAddrJ(v: unknown): v is string | Range<string> {
  return typeof v === 'string' || (isRange<string>(v) && v.range.every((x) => typeof x === 'string'));
}

function isPortJ(v: unknown): v is PortJ {
  return typeof v === 'number' || (isRange<number>(v) && v.range.every((x) => typeof x === 'number'));
}

function flagBits(flags: string[] | undefined): number {
  let f = 0;
  for (const w of flags ?? []) f |= FLAG_BITS[w];
  return f;
}

/** Splits `ADDR[-ADDR][:PORT[-PORT]]` / `[ADDR6]:PORT` / `:PORT` text into the JSON parts (parseNatTarget checks it later). */
function splitTarget(r: TextReader, tok: Token, allowAddr: boolean): { addr?: string | Range<string>; port?: PortJ } {
  const t = tok.text;
  let addrPart: string;
  let portPart: string;
  if (!allowAddr && /^[0-9]+(-[0-9]+)?$/.test(t)) {
    addrPart = '';
    portPart = t; // `redirect to 8080` (nft accepts the bare port too)
  } else {
    try {
      ({ addr: addrPart, port: portPart } = splitNatTarget(t));
    } catch (e) {
      return r.error((e as Error).message, tok);
    }
  }
  const out: { addr?: string | Range<string>; port?: PortJ } = {};
  if (addrPart !== '') {
    if (!allowAddr) r.error(`this statement takes no address, only 'to :PORT[-PORT]' (got '${t}')`, tok);
    // A dash in an IPv4 range, or between two IPv6 addresses.
    const d = addrPart.indexOf('-');
    out.addr = d < 0 ? addrPart : { range: [addrPart.slice(0, d), addrPart.slice(d + 1)] };
  }
  if (portPart !== '') {
    // Numbers or service names (`:http`, `:1024-http-alt`), as in a match.
    const port = (w: string): number => {
      try {
        return INET_SERVICE.fromText(w) as number;
      } catch (e) {
        return r.error(typeof e === 'string' ? `invalid port in NAT target '${t}': ${e}` : String(e), tok);
      }
    };
    if (servicePort(portPart) !== undefined || portPart.indexOf('-') <= 0) out.port = port(portPart);
    else {
      const v = INET_SERVICE.ordered ? splitRange(portPart) : undefined;
      out.port = v ? { range: [port(v[0]), port(v[1])] } : port(portPart);
    }
  }
  return out;
}

/** `a-b` split where both sides are ports or names (names may hold '-'). */
function splitRange(w: string): [string, string] | undefined {
  const ok = (x: string) => /^(0x[0-9a-f]+|[0-9]+)$/i.test(x) || servicePort(x) !== undefined;
  for (let j = w.indexOf('-'); j > 0; j = w.indexOf('-', j + 1)) if (ok(w.slice(0, j)) && ok(w.slice(j + 1))) return [w.slice(0, j), w.slice(j + 1)];
  const d = w.indexOf('-');
  return [w.slice(0, d), w.slice(d + 1)];
}

function parseFlags(r: TextReader, out: NatJ): void {
  if (!(r.peek().text in FLAG_BITS) || r.atRuleEnd()) return;
  const flags: string[] = [];
  for (;;) {
    const t = r.expectWord();
    if (!(t.text in FLAG_BITS)) r.error(`unknown NAT flag '${t.text}' (random, fully-random, persistent)`, t);
    flags.push(t.text);
    if (r.peek().text !== ',') break;
    r.next();
  }
  out.flags = flags;
}

function addrTypes(family: 'ip' | 'ip6' | undefined): DataType[] {
  return [family === 'ip6' ? IPV6_ADDR : IPV4_ADDR];
}

function makeModule(spec: NatSpec): StatementModule {
  const w = spec.word;
  return {
    name: w,
    keywords: [w],
    jsonKeys: [w],
    help: spec.help,
    params: spec.addr
      ? [
          { name: 'addr', type: 'address|range|map', required: true, help: 'new address, ADDR-ADDR range, or {map: {key, data}} picking it per packet' },
          { name: 'port', type: 'port|range', help: 'new port or port range (default: keep the port when free)' },
          { name: 'family', type: 'ip|ip6', help: "address family; required in inet tables ('snat ip to ...')" },
          { name: 'flags', type: 'random|fully-random|persistent', help: 'port/address selection flags' },
        ]
      : [
          { name: 'port', type: 'port|range', help: 'new port or port range' },
          { name: 'flags', type: 'random|fully-random|persistent', help: 'port selection flags' },
        ],
    families: ['ip', 'ip6', 'inet'],
    terminal: true,
    parse(r) {
      const out: NatJ = {};
      if (spec.addr && (r.isWord('ip') || r.isWord('ip6'))) out.family = r.next().text as 'ip' | 'ip6';
      // nft's explicit `dnat ip addr . port to KEY map { ... }`: the data is ADDR . PORT
      // (nft lists it without the words, as the data says so).
      let addrPort: Token | undefined;
      if (spec.addr && r.isWord('addr')) {
        addrPort = r.next();
        if (!r.acceptWord('.') || !r.acceptWord('port')) r.error(`expected 'addr . port to SELECTOR map { ... }'`, addrPort);
      }
      if (r.atRuleEnd() || !r.isWord('to')) {
        if (spec.addr) r.error(`${w} needs a target: '${w} to ADDR[:PORT]'`, r.peek());
        parseFlags(r, out);
        return { [w]: Object.keys(out).length === 0 ? null : out } as Stmt;
      }
      r.expectWord('to');
      const sel = spec.addr ? r.trySelectorExpr() : undefined;
      if (sel !== undefined) {
        const mapTok = r.expectWord();
        if (mapTok.text !== 'map') r.error(`expected 'map' after the selector of '${w} to', got '${mapTok.text}'`, mapTok);
        const at = addrTypes(out.family ?? (r.tableFamily === 'ip6' ? 'ip6' : undefined))[0]!;
        const data = r.mapData(r.typesOf(sel), [at, INET_SERVICE]);
        if (typeof data === 'string') {
          // A named map: its declaration says ADDR or ADDR . PORT (checked in validate).
          out.addr = { map: { key: sel, data } };
          parseFlags(r, out);
          return { [w]: out } as Stmt;
        }
        const items = data.set as [Value, MapTarget][];
        if (addrPort && items.some(([, t]) => !isConcatTarget(t))) r.error(`${w}${out.family ? ' ' + out.family : ''} addr . port to ... map needs ADDR . PORT data in every element`, addrPort);
        out.addr = { map: { key: sel, data: { set: items } } };
      } else if (addrPort) {
        r.error(`${w} addr . port needs 'to SELECTOR map { KEY : ADDR . PORT, ... }'`, addrPort);
      } else {
        const tok = r.expectWord();
        Object.assign(out, splitTarget(r, tok, spec.addr));
      }
      parseFlags(r, out);
      return { [w]: out } as Stmt;
    },
    print(stmt, p) {
      const j = bodyOf(stmt, w);
      if (j === null) return w;
      let s = w;
      if (j.family) s += ` ${j.family}`;
      else if (isMap(j.addr) && anonItems(j.addr.map)?.some(([, t]) => isConcatTarget(t))) {
        // nft lists the family of a map to ADDR . PORT also where the table implies it.
        const [, t0] = anonItems(j.addr.map)![0]!;
        const a0 = targetParts(t0).addr;
        s += isV6(typeof a0 === 'string' ? a0 : a0.range[0]) ? ' ip6' : ' ip';
      }
      if (isMap(j.addr)) {
        const m = j.addr.map;
        const kt = p.typesOf(m.key);
        const items = anonItems(m);
        // The address type from the address itself: an ip6 table's map names no family.
        const target = (t: MapTarget): string => {
          const { addr, port } = targetParts(t);
          const a = p.value(addr, addrTypes(isV6(typeof addr === 'string' ? addr : addr.range[0]) ? 'ip6' : 'ip'));
          return port === undefined ? a : `${a} . ${p.value(port, [INET_SERVICE])}`;
        };
        s += ` to ${p.selector(m.key)} map ${items === undefined ? m.data : `{ ${items.map(([k, t]) => `${p.value(k, kt)} : ${target(t)}`).join(', ')} }`}`;
      } else if (j.addr !== undefined || j.port !== undefined) {
        s += ` to ${targetText(j.addr, j.port)}`;
      }
      if (j.flags && j.flags.length > 0) s += ` ${j.flags.join(',')}`;
      return s;
    },
    checkJson(stmt) {
      const j = bodyOf(stmt, w);
      if (j === null) return spec.addr ? `${w} needs {addr[, port, family, flags]}` : null;
      if (typeof j !== 'object' || Array.isArray(j)) return `${w} must be ${spec.addr ? '' : 'null or '}an object`;
      for (const k of Object.keys(j)) {
        if (!['family', 'addr', 'port', 'flags'].includes(k)) return `unknown ${w} field '${k}'`;
      }
      if (j.family !== undefined && j.family !== 'ip' && j.family !== 'ip6') return `${w} family must be 'ip' or 'ip6'`;
      if (spec.addr && j.addr === undefined) return `${w} needs an address ('addr')`;
      if (!spec.addr && (j.addr !== undefined || j.family !== undefined)) return `${w} takes no address, only a port`;
      if (j.addr !== undefined && typeof j.addr !== 'string' && !isRange(j.addr)) {
        if (!isMap(j.addr) || !j.addr.map || typeof j.addr.map !== 'object' || !j.addr.map.key || !j.addr.map.data) {
          return `${w} addr must be an address, {range: [lo, hi]} or {map: {key, data: {set: [...]} or "@NAME"}}`;
        }
        const data = j.addr.map.data;
        if (typeof data === 'string') {
          if (!/^@[A-Za-z0-9_.-]+$/.test(data)) return `${w} map data must be {set: [...]} or "@NAME" of a named map`;
        } else if (!Array.isArray(data.set)) return `${w} map data must be {set: [...]} or "@NAME" of a named map`;
        for (const e of typeof data === 'string' ? [] : data.set) {
          const bad = `${w} map elements must be [KEY, ADDR] or [KEY, {"concat": [ADDR, PORT]}]`;
          if (!Array.isArray(e) || e.length !== 2) return bad;
          const t = e[1] as unknown;
          if (isAddrJ(t)) continue;
          const c = t !== null && typeof t === 'object' ? (t as { concat?: unknown }).concat : undefined;
          if (!Array.isArray(c) || c.length !== 2 || !isAddrJ(c[0]) || !isPortJ(c[1]) || Object.keys(t as object).length !== 1) return bad;
        }
        if (j.port !== undefined) return `${w} with a map takes no port`;
      }
      if (j.port !== undefined && typeof j.port !== 'number' && !(isRange<number>(j.port) && j.port.range.every((x) => typeof x === 'number'))) {
        return `${w} port must be a number or {range: [lo, hi]}`;
      }
      if (j.flags !== undefined && (!Array.isArray(j.flags) || j.flags.some((f) => !(f in FLAG_BITS)))) return `${w} flags must be a list of random, fully-random, persistent`;
      return null;
    },
    validate(stmt, env) {
      validateNat(spec, bodyOf(stmt, w), env);
    },
    compile(stmt, env) {
      const j = bodyOf(stmt, w);
      const flags = flagBits(j?.flags);
      const isSrc = spec.kind === NatKind.Snat || spec.kind === NatKind.Masquerade;
      if (j !== null && isMap(j.addr) && typeof j.addr.map.data === 'string') return compileNamedMap(spec, j, env, flags, isSrc);
      if (j !== null && isMap(j.addr)) {
        const m = j.addr.map as { key: Selector; data: { set: [Value, MapTarget][] } };
        const sel = env.selector(m.key);
        const key = new Uint32Array(sel.words);
        const load = sel.load;
        const reqs: NatRequest[] = m.data.set.map(([, t]) => {
          const { addr, port } = targetParts(t);
          return natRequest(spec.kind, { to: targetText(addr, port), flags });
        });
        const set = env.anonSet(sel.types, m.data.set.map(([k], i) => ({ val: k, data: i })));
        // `dnat ip to numgen ... map` in an inet table leaves IPv6 alone (the key need not say).
        const fam = reqs.length > 0 ? reqs[0]!.family : 0;
        return (ctx) => {
          if (fam !== 0 && ctx.pkt.family !== fam) return 5; // Code.Break: the rule does not apply
          if (!load(ctx, key, 0)) return 5;
          const i = set.lookup(key, 0, ctx.nowMs);
          if (i < 0) return 5;
          if (isSrc) ctx.natSrc = reqs[set.dataOf(i)]!;
          else ctx.natDst = reqs[set.dataOf(i)]!;
          return 1; // Code.Accept
        };
      }
      const to = j === null ? undefined : j.addr === undefined && j.port === undefined ? undefined : targetText(j.addr as string | Range<string> | undefined, j.port);
      const req = natRequest(spec.kind, { to, flags });
      const fam = req.family;
      if (isSrc) {
        return (ctx) => {
          if (fam !== 0 && ctx.pkt.family !== fam) return 5; // an `snat ip to` in inet leaves IPv6 alone
          ctx.natSrc = req;
          return 1;
        };
      }
      return (ctx) => {
        if (fam !== 0 && ctx.pkt.family !== fam) return 5;
        ctx.natDst = req;
        return 1;
      };
    },
  };
}

/**
 * `dnat ip to KEY map @m`: the element's data is its target by value (ADDR or ADDR . PORT,
 * interned: map-values.ts), made into a NAT request once per distinct target (elements change
 * without a recompile, so the requests cannot be built up front).
 */
function compileNamedMap(spec: NatSpec, j: NatJ, env: CompileEnv, flags: number, isSrc: boolean): StmtFn {
  const m = (j.addr as MapJ).map;
  const sel = env.selector(m.key);
  const key = new Uint32Array(sel.words);
  const load = sel.load;
  const set = env.set((m.data as string).slice(1));
  if (!set) throw new Error(`map ${String(m.data)} not compiled`);
  const fam = j.family ?? (env.family === 'inet' ? undefined : env.family);
  const want = fam === 'ip6' ? 6 : 4;
  const values = env.encode.mapValues;
  const cache = new Map<number, NatRequest>();
  const requestFor = (id: number): NatRequest | undefined => {
    let req = cache.get(id);
    if (req !== undefined) return req;
    const target = values?.get(id) as MapTarget | undefined;
    if (target === undefined) return undefined;
    const { addr, port } = targetParts(target);
    try {
      req = natRequest(spec.kind, { to: targetText(addr, port), flags });
    } catch {
      return undefined; // validated as the map's data type: not reached
    }
    cache.set(id, req);
    return req;
  };
  return (ctx) => {
    if (ctx.pkt.family !== want) return 5; // Code.Break: the rule does not apply
    if (!load(ctx, key, 0)) return 5;
    const i = set.lookup(key, 0, ctx.nowMs);
    if (i < 0) return 5;
    const req = requestFor(set.dataOf(i) >>> 0);
    if (req === undefined) return 5;
    if (isSrc) ctx.natSrc = req;
    else ctx.natDst = req;
    return 1; // Code.Accept
  };
}

function describeChain(c: ChainJ): string {
  return c.hook === undefined ? `regular chain '${c.name}'` : `chain '${c.name}' (type ${c.type ?? 'filter'} hook ${c.hook})`;
}

function validateNat(spec: NatSpec, j: NatJ | null, env: ValidateEnv): void {
  const w = spec.word;
  const c = env.chain;
  // A regular chain is checked where it is used: like nft, only base chains are checked here.
  if (c !== undefined && c.hook !== undefined && (c.type !== 'nat' || !spec.hooks.includes(c.hook))) {
    env.errors.add(env.pos, `${w} is only valid in a 'type nat' chain at hook ${spec.hooks.join(' or ')}, not in ${describeChain(c)}`);
    return;
  }
  if (j === null) return;
  const fam: Family = env.family;
  if (j.family !== undefined && fam !== 'inet' && j.family !== fam) {
    env.errors.add(env.pos, `${w} ${j.family} is not possible in an ${fam} table`);
    return;
  }
  const want = j.family ?? (fam === 'inet' ? undefined : (fam as 'ip' | 'ip6'));
  if (spec.addr && want === undefined) {
    env.errors.add(env.pos, `${w} in an inet table needs the address family: '${w} ip to ...' or '${w} ip6 to ...'`);
    return;
  }
  // nft: "transport protocol mapping is only valid after transport protocol match".
  if (j.port !== undefined && !env.transportContext) {
    env.errors.add(env.pos, `${w} to ...:PORT needs a transport protocol match earlier in the rule (meta l4proto tcp, tcp dport 80, ip protocol udp...): nft refuses a port without one ("transport protocol mapping is only valid after transport protocol match")`);
    return;
  }
  const flags = flagBits(j.flags);
  const check = (addr: string | Range<string> | undefined, port: PortJ | undefined): void => {
    const addrs = addr === undefined ? [] : typeof addr === 'string' ? [addr] : addr.range;
    for (const a of addrs) {
      // Only address characters: the address reader skips white space (a JSON " 192.0.2.1"),
      // which would then be listed as `to  192.0.2.1` and read back differently.
      if (typeof a === 'string' && !/^[0-9A-Fa-f.:]+$/.test(a)) {
        env.errors.add(env.pos, `${w} address ${JSON.stringify(a)} is not an address`);
        return;
      }
      if (typeof a !== 'string' || isV6(a) !== (want === 'ip6')) {
        env.errors.add(env.pos, `${w} address '${String(a)}' is not an ${want === 'ip6' ? 'IPv6' : 'IPv4'} address`);
        return;
      }
    }
    try {
      const t = targetText(addr, port);
      natRequest(spec.kind, { to: t === '' ? undefined : t, flags });
    } catch (e) {
      env.errors.add(env.pos, e instanceof Error ? e.message : String(e));
    }
  };
  if (isMap(j.addr)) {
    if (spec.kind !== NatKind.Dnat && spec.kind !== NatKind.Snat) return;
    const types = env.selectorTypes(j.addr.map.key);
    if (typeof types === 'string') return env.errors.add(env.pos, types);
    const data = j.addr.map.data;
    if (typeof data === 'string') {
      // A named map: its key must be what the selector gives, its data ADDR or ADDR . PORT of the family.
      const name = data.slice(1);
      const set = env.findSet(name);
      if (!set) return env.errors.add(env.pos, `unknown map '${name}'`);
      const keyTypes = Array.isArray(set.type) ? set.type : [set.type];
      const gives = types.map((t) => t.name).join(' . ');
      if (keyTypes.join(' . ') !== gives) return env.errors.add(env.pos, `map '${name}' has key type ${keyTypes.join(' . ')}, the selector gives ${gives}`);
      const addrType = want === 'ip6' ? 'ipv6_addr' : 'ipv4_addr';
      if (set.map !== addrType && set.map !== `${addrType} . inet_service`) {
        return env.errors.add(env.pos, `${w}${j.family ? ' ' + j.family : ''} to ... map @${name} needs a map whose data is ${addrType} or ${addrType} . inet_service; '${name}' gives ${set.map ?? 'no data'}`);
      }
      return;
    }
    const withPort = data.set.filter(([, t]) => isConcatTarget(t)).length;
    if (withPort !== 0 && withPort !== data.set.length) {
      return env.errors.add(env.pos, `${w} map: every element maps to ADDR . PORT, or every element to ADDR, not a mix`);
    }
    for (const [k, t] of data.set) {
      const err = env.checkValue(k, types);
      if (err) env.errors.add(env.pos, err);
      const { addr, port } = targetParts(t);
      check(addr, port);
    }
    return;
  }
  check(j.addr as string | Range<string> | undefined, j.port);
}

const snatModule = makeModule({
  word: 'snat', kind: NatKind.Snat, addr: true, hooks: ['postrouting', 'input'],
  help: 'rewrite the source of a new connection to ADDR[-ADDR][:PORT[-PORT]] (type nat chain, hook postrouting); replies are translated back',
});
const masqueradeModule = makeModule({
  word: 'masquerade', kind: NatKind.Masquerade, addr: false, hooks: ['postrouting'],
  help: "rewrite the source of a new connection to the egress interface's address (type nat chain, hook postrouting)",
});
const dnatModule = makeModule({
  word: 'dnat', kind: NatKind.Dnat, addr: true, hooks: ['prerouting', 'output'],
  help: 'rewrite the destination of a new connection to ADDR[:PORT], or per packet from a map (type nat chain, hook prerouting)',
});
const redirectModule = makeModule({
  word: 'redirect', kind: NatKind.Redirect, addr: false, hooks: ['prerouting', 'output'],
  help: "rewrite the destination of a new connection to the ingress interface's own address [and PORT] (type nat chain, hook prerouting)",
});

export function registerNat(r: Registry): void {
  for (const m of [snatModule, masqueradeModule, dnatModule, redirectModule]) r.registerStatement(m);
}
