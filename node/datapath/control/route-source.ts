/**
 * Reads the main routing table (`ip -j route`) into plain route records for
 * RouteInterfaces. Runs on the control thread (`ip` itself from the command helper, so this
 * big process never forks); the datapath gets the result by message.
 */
import { ipOutput } from './iproute.js';
import type { PlainAddress, PlainRoute } from '../shared/messages.js';

function parsePrefix(dst: string, family: 4 | 6): { bytes: number[]; len: number } | undefined {
  if (dst === 'default') return { bytes: new Array(family === 4 ? 4 : 16).fill(0), len: 0 };
  const [addr, lenText] = dst.split('/');
  const len = lenText === undefined ? (family === 4 ? 32 : 128) : Number(lenText);
  if (family === 4) {
    const parts = addr!.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) return undefined;
    return { bytes: parts, len };
  }
  const [head, tail] = addr!.includes('::') ? addr!.split('::') : [addr!, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return undefined;
  const bytes: number[] = [];
  for (const g of groups) {
    const v = parseInt(g, 16);
    bytes.push((v >> 8) & 255, v & 255);
  }
  return { bytes, len };
}

/** One route as `ip -j route show` writes it (the fields hafw reads). */
export interface IpRouteJson {
  dst: string;
  dev?: string;
  type?: string;
  prefsrc?: string;
  /** `[{"mtu": 1300}]` for a route with an mtu metric (`ip route add ... mtu 1300`). */
  metrics?: { mtu?: number }[];
}

/** Route types where the kernel's lookup fails (fib_lookup returns an error: no route). */
const REJECTING = new Set(['blackhole', 'unreachable', 'prohibit', 'throw']);

/**
 * The routes of one family, except those through `excludeDev` (the TUN device itself), each
 * with its MTU as the kernel's dst_mtu gives it: the route's `mtu` metric, else the MTU of its
 * device (`linkMtu`, from `ip -j link`).
 */
export function plainRoutes(family: 4 | 6, routes: readonly IpRouteJson[], linkMtu: ReadonlyMap<string, number>, excludeDev: string): PlainRoute[] {
  const out: PlainRoute[] = [];
  for (const r of routes) {
    if (r.type !== undefined && REJECTING.has(r.type)) {
      // No interface: kept so that `fib` finds no route there, as the kernel's lookup fails.
      const p = parsePrefix(r.dst, family);
      if (p) out.push({ family, prefix: p.bytes, len: p.len, ifname: '', reject: true });
      continue;
    }
    if (!r.dev || r.dev === excludeDev || (r.type && r.type !== 'unicast')) continue;
    const p = parsePrefix(r.dst, family);
    if (!p) continue;
    const route: PlainRoute = { family, prefix: p.bytes, len: p.len, ifname: r.dev };
    const src = r.prefsrc !== undefined ? parsePrefix(r.prefsrc, family) : undefined;
    if (src) route.src = src.bytes;
    const metric = r.metrics?.find((m) => typeof m.mtu === 'number')?.mtu;
    const mtu = metric ?? linkMtu.get(r.dev);
    if (mtu !== undefined && Number.isInteger(mtu) && mtu > 0) route.mtu = mtu;
    out.push(route);
  }
  return out;
}

/** Routes of the main table, except those through `excludeDev` (the TUN device itself). */
export async function readMainRoutes(excludeDev: string): Promise<PlainRoute[]> {
  const links = JSON.parse((await ipOutput(['-j', 'link', 'show'])) || '[]') as { ifname: string; mtu?: number }[];
  const linkMtu = new Map(links.filter((l) => typeof l.mtu === 'number').map((l) => [l.ifname, l.mtu!] as const));
  const out: PlainRoute[] = [];
  for (const family of [4, 6] as const) {
    const stdout = await ipOutput([`-${family}`, '-j', 'route', 'show', 'table', 'main']);
    out.push(...plainRoutes(family, JSON.parse(stdout || '[]') as IpRouteJson[], linkMtu, excludeDev));
  }
  return out;
}

interface InterfaceAddress {
  local: string;
  prefixlen: number;
  scope: string;
}

/** The addresses of one interface (`ip -j addr show dev IF`), of one family. */
export async function readInterfaceAddresses(ifname: string, family: 4 | 6): Promise<InterfaceAddress[]> {
  const stdout = await ipOutput([`-${family}`, '-j', 'addr', 'show', 'dev', ifname]);
  return (JSON.parse(stdout || '[]') as { addr_info?: InterfaceAddress[] }[])[0]?.addr_info ?? [];
}

/**
 * Every address of the node (`ip -j addr`), loopback excluded, with `vip` set for the
 * configured virtual IPs it holds now. The datapath uses them to pass traffic for the node
 * itself and as masquerade's source (a held VIP wins over the interface's own address).
 */
export async function readLocalAddresses(vipTexts: readonly string[]): Promise<PlainAddress[]> {
  // Compared as bytes: "2001:db8:0::1" and "2001:db8::1" are one address.
  const vips = new Set(vipTexts.map((t) => parsePrefix(t.split('/')[0]!, t.includes(':') ? 6 : 4)?.bytes.join(',')));
  const out: PlainAddress[] = [];
  for (const family of [4, 6] as const) {
    const stdout = await ipOutput([`-${family}`, '-j', 'addr', 'show']);
    for (const link of JSON.parse(stdout || '[]') as { ifname: string; addr_info?: (InterfaceAddress & { secondary?: boolean })[] }[]) {
      if (link.ifname === 'lo') continue;
      // In the kernel's order (IPv6: by scope, global first), IPv4 secondaries after the
      // primary: masquerade takes the first non-VIP address, as the kernel's source choice would.
      const addrs = [...(link.addr_info ?? [])].sort((x, y) => Number(x.secondary === true) - Number(y.secondary === true));
      for (const a of addrs) {
        const p = parsePrefix(a.local, family);
        if (p) out.push({ ifname: link.ifname, family, bytes: p.bytes, vip: vips.has(p.bytes.join(',')) });
      }
    }
  }
  return out;
}
