/**
 * The dynamic half of the input/output plumbing (kernel-plumbing.ts has the layout):
 *
 * - The output table (routeTable + 1) mirrors the main table for the node's own packets:
 *   a route through a protected interface becomes `PREFIX dev TUN src S`, so the packet
 *   meets the output chains in the datapath, which writes it back to be routed by main;
 *   `S` is the source the kernel would have picked (the route's preferred source, else the
 *   interface's first address), since the TUN device has none of its own. Any other route
 *   (the sync and management interfaces, unreachable/blackhole routes) becomes `throw`:
 *   main routes those packets unfiltered.
 * - Anti-spoof rules: a packet arriving on a protected interface with one of the node's
 *   own addresses as source is dropped by the kernel (`iif X from A blackhole`). The
 *   datapath takes a packet from an own address for the node's own output (it cannot see
 *   the ingress interface), so a forged one must never reach it. IPv4 has the martian
 *   check (accept_local off), IPv6 has none. VIPs count while held.
 *
 * Both follow the daemon's 2-second route refresh and every VIP change.
 */
import { ipOutput } from './iproute.js';
import { formatAddress } from '../../packet/address.js';
import type { PlainAddress } from '../shared/messages.js';

type Fam = '-4' | '-6';

/** A main-table route as `ip -j route` lists it (the fields used here). */
export interface MainRoute {
  dst: string;
  dev?: string;
  type?: string;
  metric?: number;
  prefsrc?: string;
}

/** One route of the output table: its family and the `ip route replace` arguments after the verb. */
interface OutputRoute {
  fam: Fam;
  prefix: string;
  args: string[];
}

const formatPlain = (a: Pick<PlainAddress, 'bytes'>): string => formatAddress(Uint8Array.from(a.bytes));

const isLinkLocal6 = (a: PlainAddress) => a.family === 6 && a.bytes[0] === 0xfe && (a.bytes[1]! & 0xc0) === 0x80;

/**
 * The output table for `main` (per family, as listed), given the protected interfaces, the
 * node's addresses (for a source when a route names none) and the TUN device.
 */
export function outputRoutes(main: Record<Fam, MainRoute[]>, steered: readonly string[], addresses: readonly PlainAddress[], tun: string, table: number): OutputRoute[] {
  const out: OutputRoute[] = [];
  const steer = new Set(steered);
  for (const fam of ['-4', '-6'] as const) {
    // One route per prefix: the one main would use (lowest metric).
    const best = new Map<string, MainRoute>();
    for (const r of main[fam]) {
      if (r.dev === tun) continue;
      const had = best.get(r.dst);
      if (had === undefined || (r.metric ?? 0) < (had.metric ?? 0)) best.set(r.dst, r);
    }
    for (const [prefix, r] of [...best].sort((a, b) => a[0].localeCompare(b[0]))) {
      const src = r.dev !== undefined && steer.has(r.dev) && (r.type ?? 'unicast') === 'unicast' ? (r.prefsrc ?? sourceOf(r.dev, fam, addresses)) : undefined;
      out.push({ fam, prefix, args: src !== undefined ? [prefix, 'dev', tun, 'src', src, 'table', String(table)] : ['throw', prefix, 'table', String(table)] });
    }
  }
  return out;
}

/** The interface's first own address of the family (not a VIP; IPv6 not link-local). */
function sourceOf(ifname: string, fam: Fam, addresses: readonly PlainAddress[]): string | undefined {
  const family = fam === '-4' ? 4 : 6;
  const a = addresses.find((x) => x.ifname === ifname && x.family === family && !x.vip && !isLinkLocal6(x));
  return a === undefined ? undefined : formatPlain(a);
}

/** The anti-spoof rules: every own address on every protected interface. */
export function antiSpoofRules(steered: readonly string[], addresses: readonly PlainAddress[], priority: number): { fam: Fam; args: string[] }[] {
  const out: { fam: Fam; args: string[] }[] = [];
  const seen = new Set<string>();
  for (const a of addresses) {
    const from = `${formatPlain(a)}/${a.family === 4 ? 32 : 128}`;
    if (seen.has(from)) continue;
    seen.add(from);
    for (const ifname of steered) out.push({ fam: a.family === 4 ? '-4' : '-6', args: ['iif', ifname, 'from', from, 'priority', String(priority), 'blackhole'] });
  }
  return out;
}

interface OwnTrafficLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Keeps the output table and the anti-spoof rules equal to what the main table and the
 * node's addresses need. Updates are queued (one change at a time); a failed `ip` call is
 * logged and retried with the next update.
 */
export class OwnTrafficRouting {
  private readonly routes = new Map<string, OutputRoute>();
  private readonly rules = new Map<string, { fam: Fam; args: string[] }>();
  private queue: Promise<void> = Promise.resolve();
  private started = false;
  private lastWarning = '';

  constructor(
    private readonly cfg: { tun: string; interfaces: readonly string[]; table: number; antiSpoofPriority: number },
    private readonly log: OwnTrafficLog,
  ) {}

  /** Reads main and brings the output table and the rules in line with it and `addresses`. */
  update(addresses: readonly PlainAddress[]): Promise<void> {
    this.queue = this.queue.then(() => this.sync(addresses));
    return this.queue;
  }

  private async sync(addresses: readonly PlainAddress[]): Promise<void> {
    try {
      if (!this.started) {
        this.started = true;
        await this.removeStaleRules();
      }
      const main = { '-4': await readMain('-4'), '-6': await readMain('-6') };
      const wantRoutes = new Map(outputRoutes(main, this.cfg.interfaces, addresses, this.cfg.tun, this.cfg.table).map((r) => [`${r.fam} ${r.prefix}`, r]));
      const wantRules = new Map(antiSpoofRules(this.cfg.interfaces, addresses, this.cfg.antiSpoofPriority).map((r) => [`${r.fam} ${r.args.join(' ')}`, r]));
      const failed: string[] = [];
      // Anti-spoof first: a new address is protected before anything else changes.
      for (const [k, r] of wantRules) {
        if (this.rules.has(k)) continue;
        await ipOutput([r.fam, 'rule', 'add', ...r.args]).then(() => this.rules.set(k, r), (e: Error) => failed.push(e.message));
      }
      for (const [k, r] of this.rules) {
        if (wantRules.has(k)) continue;
        await ipOutput([r.fam, 'rule', 'del', ...r.args]).then(() => this.rules.delete(k), (e: Error) => failed.push(e.message));
      }
      for (const [k, r] of wantRoutes) {
        if (this.routes.get(k)?.args.join(' ') === r.args.join(' ')) continue;
        await ipOutput([r.fam, 'route', 'replace', ...r.args]).then(() => this.routes.set(k, r), (e: Error) => failed.push(e.message));
      }
      for (const [k, r] of this.routes) {
        if (wantRoutes.has(k)) continue;
        await ipOutput([r.fam, 'route', 'del', r.prefix, 'table', String(this.cfg.table)]).catch(() => undefined);
        this.routes.delete(k);
      }
      const w = failed.join('; ');
      if (w !== '' && w !== this.lastWarning) this.log.warn({ errors: failed }, 'the node\'s own traffic: some routes or anti-spoof rules not set (retried every refresh)');
      this.lastWarning = w;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'the node\'s own traffic: routes not updated');
    }
  }

  /** Anti-spoof rules an earlier run left (our priority, action blackhole, a source). */
  private async removeStaleRules(): Promise<void> {
    for (const fam of ['-4', '-6'] as const) {
      type Listed = { priority?: number; iif?: string; src?: string; srclen?: number; action?: string };
      const list = JSON.parse((await ipOutput(['-j', fam, 'rule', 'show']).catch(() => '[]')) || '[]') as Listed[];
      for (const e of list) {
        if (e.priority !== this.cfg.antiSpoofPriority || e.action !== 'blackhole' || !e.iif || !e.src) continue;
        await ipOutput([fam, 'rule', 'del', 'iif', e.iif, 'from', `${e.src}/${e.srclen ?? (fam === '-4' ? 32 : 128)}`, 'priority', String(e.priority), 'blackhole']).catch(() => undefined);
      }
    }
  }

  /** Forgets the installed state and removes the anti-spoof rules (teardown without fail-closed). */
  async clear(): Promise<void> {
    await this.queue;
    for (const r of this.rules.values()) await ipOutput([r.fam, 'rule', 'del', ...r.args]).catch(() => undefined);
    this.rules.clear();
    this.routes.clear();
  }
}

async function readMain(fam: Fam): Promise<MainRoute[]> {
  return JSON.parse((await ipOutput([fam, '-j', 'route', 'show', 'table', 'main'])) || '[]') as MainRoute[];
}
