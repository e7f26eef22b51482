/**
 * Kernel side of the packet path (DESIGN §4): policy routing sends everything that enters
 * the protected interfaces into the TUN device; what the datapath writes back enters with
 * iif = TUN and is routed normally by the main table. Done with iproute2 so an operator can
 * read exactly what we did with `ip rule` / `ip route show table N`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { ipOutput } from './iproute.js';
import { runCommand } from '../../daemon/command-runner.js';
import { MAX_INPUT_DEVICES, inputDeviceNames, inputTable, type InputDevicesMode } from '../shared/input-devices.js';

export { MAX_INPUT_DEVICES, inputDeviceNames, inputTable, type InputDevicesMode };

/** Worst possible metric, so the blackhole only wins when the TUN route is gone. */
const FAIL_CLOSED_METRIC = 4294967295;

export interface TunRoutingPlan {
  tun: string;
  /** Interfaces whose ingress traffic goes through the filter (e.g. lan, wan). */
  interfaces: string[];
  /** Routing table holding the default route into the TUN device. */
  table: number;
  /**
   * Priority of the `local` table's lookup (6..32763); our other rules take the five
   * priorities below it and the two above (see RulePriorities).
   */
  rulePriority: number;
  /** Sources that still reach the node itself while the datapath is down (prefixes). */
  managementSources?: readonly string[];
  mtu: number;
  txQueueLen: number;
  /**
   * datapath.inputDevices: `per-interface` steers each interface's traffic into its own TUN
   * device (inputDeviceNames) by its own table (inputTable), so the datapath knows the input
   * interface; `shared` steers them all into `tun` by `table`. Absent: shared.
   */
  inputDevices?: InputDevicesMode;
}


async function ip(args: string[]): Promise<void> {
  await ipOutput(args);
}

async function ipQuiet(args: string[]): Promise<void> {
  await ip(args).catch(() => undefined);
}

/**
 * Sets a sysctl unless it already has the value: in a container /proc/sys is read-only,
 * and the orchestrator (compose `sysctls:`) has usually set them already.
 */
async function sysctl(key: string, value: string): Promise<void> {
  await sysctlFile(`/proc/sys/${key.replace(/\./g, '/')}`, key, value);
}

/**
 * A device's sysctl (net.FAMILY.conf.DEV.KNOB): the device's name may hold dots (a VLAN
 * interface's input device, hafw0-eth0.10), which the dotted form would take for levels.
 */
async function devSysctl(family: 'ipv4' | 'ipv6', dev: string, knob: string, value: string): Promise<void> {
  await sysctlFile(`/proc/sys/net/${family}/conf/${dev}/${knob}`, `net.${family}.conf.${dev}.${knob}`, value);
}

async function sysctlFile(file: string, key: string, value: string): Promise<void> {
  const current = await readFile(file, 'utf8').then((t) => t.trim(), () => undefined);
  if (current === value) return;
  try {
    await writeFile(file, value);
  } catch (err) {
    throw new Error(`cannot set ${key}=${value} (it is ${current ?? 'unreadable'}): ${(err as Error).message}; set it before starting the node (in a container: sysctls)`);
  }
}

/**
 * Where the kernel's `local` table is consulted (DESIGN §4; NAT to the node's own
 * addresses and the input and output hooks need it). By default `ip rule` priority 0 looks up
 * `local` before anything else, so traffic for the node never reaches the datapath. The
 * layout we install instead, per steered interface X and family (P = rulePriority):
 *
 *   P-5 keepLocal   iif X to ff00::/8, fe80::/10 lookup local          (IPv6 only)
 *   P-4 antiSpoof   iif X from <each own address> blackhole            (own-traffic-routes.ts)
 *   P-3 steerIn     iif X ipproto <LOCAL_PROTOCOLS> lookup T           T: default dev TUN, else throw
 *   P-2 fallback    iif X from <datapath.managementSources> lookup local
 *   P-1 closedIn    iif X ipproto <LOCAL_PROTOCOLS> blackhole
 *   P   local       lookup local                                       (moved from priority 0)
 *   P+1 steer       iif X lookup T                                     everything forwarded
 *       keepOut     iif lo to <multicast, link-local> lookup main
 *   P+2 closed      iif X blackhole
 *       outSteer    iif lo ipproto <LOCAL_PROTOCOLS> lookup T+1        T+1: main's routes via X
 *                                                                     as `dev TUN src S`, the
 *                                                                     others `throw` (own-traffic-routes.ts)
 *
 * T is the shared table (default dev TUN) with datapath.inputDevices shared; with
 * per-interface it is X's own table, inputTable(table, n) for the n-th interface, whose
 * default route goes into X's own TUN device (inputDeviceNames): the datapath then reads
 * X's traffic from that device alone and knows its input interface. The node's own output
 * (T+1) always goes into the shared device.
 *
 * Traffic to the node's addresses in the listed protocols goes through the datapath (the
 * input hook) before `local` could deliver it. Only listed protocols: the kernel's ARP code
 * asks the routing table whether the target address is local (arp_process ->
 * ip_route_input with protocol 0, which no `ipproto` selector can name) and answers only
 * for RTN_LOCAL, so an unselective rule before `local` would silence ARP for the node's
 * addresses and VIPs. Not listed, so kept by the kernel: ICMPv6 (neighbour discovery to the
 * node's addresses needs its own interface and hop limit 255, RFC 4861), VRRP (the failover
 * engine's adverts), and routing protocols (OSPF, PIM) — `hafw ruleset check` says so when
 * an input or output chain matches them. What the datapath writes back (iif = TUN) finds
 * `local` or main.
 *
 * The node's own packets (iif lo) to remote addresses go into the TUN device by the second
 * table, whose routes carry the source address the kernel would have chosen, so they meet
 * the output chains; those of the interfaces not steered (sync, management, loopback) are
 * `throw`n back to main: the cluster's own segments are never filtered (pf's `set skip`).
 *
 * Fail closed: when the TUN device goes (node killed), its routes go with it and T throws:
 * only the configured management sources still reach the node (fallback), `closedIn` and
 * `closed` drop the rest, forwarded traffic included. ARP and neighbour discovery keep
 * working. The node's own output leaves by main, but the answers are dropped unless they
 * come from a management source.
 */
interface RulePriorities {
  keepLocal: number;
  antiSpoof: number;
  steerIn: number;
  fallback: number;
  closedIn: number;
  /** `lookup local`, moved here from priority 0 (the configured rulePriority). */
  local: number;
  steer: number;
  closed: number;
}

/** The kernel's own priority of its `lookup local` rule (fib_default_rules_init). */
const KERNEL_LOCAL_PRIORITY = 0;
/** The kernel's `main` rule: our rules must all come before it. */
export const KERNEL_MAIN_PRIORITY = 32766;

export function rulePriorities(rulePriority: number): RulePriorities {
  // keepLocal must not be 0: `ip rule del priority 0 lookup local` (done on setup) treats
  // unspecified selectors as wildcards and could hit one of our selective rules there.
  if (!Number.isInteger(rulePriority) || rulePriority < 6 || rulePriority + 2 >= KERNEL_MAIN_PRIORITY) {
    throw new Error(`rulePriority ${rulePriority}: must be 6..${KERNEL_MAIN_PRIORITY - 3} (our rules take the five priorities below it and the two above)`);
  }
  const p = rulePriority;
  return { keepLocal: p - 5, antiSpoof: p - 4, steerIn: p - 3, fallback: p - 2, closedIn: p - 1, local: p, steer: p + 1, closed: p + 2 };
}

/** The table of the node's own output (own-traffic-routes.ts): the one after the TUN table. */
export function outputTable(table: number): number {
  return table + 1;
}

/**
 * Protocols whose traffic to and from the node goes through the input and output hooks:
 * ICMP (IPv4), TCP, UDP, SCTP, DCCP, UDP-Lite, GRE, ESP, AH, and IP-in-IP / 6in4 tunnels.
 * Fragments match too, IPv6 ones included: the kernel dissects the packet for rules that
 * match `ipproto` and reads the protocol past the fragment header.
 */
export const LOCAL_PROTOCOLS: Record<'-4' | '-6', string[]> = {
  '-4': ['1', '6', '17', '132', '33', '136', '47', '50', '51', '4', '41'],
  '-6': ['6', '17', '132', '33', '136', '47', '50', '51', '4', '41'],
};

/**
 * IPv6 destinations kept local before steerIn: IPv6 input routing goes through the rules
 * even for multicast (IPv4 multicast and limited broadcast are routed before the rules,
 * ip_route_input_mc), and a packet to ff02::/fe80:: (DHCPv6, mDNS) is the link's.
 */
const KEEP_LOCAL_V6 = ['ff00::/8', 'fe80::/10'];

/**
 * Destinations the node's own packets never take through the TUN device: multicast and
 * broadcast (the sync group, mDNS) and IPv6 link-local, which cannot be forwarded back out.
 */
const KEEP_OUT: Record<'-4' | '-6', string[]> = {
  '-4': ['224.0.0.0/4', '255.255.255.255/32'],
  '-6': ['ff00::/8', 'fe80::/10'],
};

/** One `ip` invocation and whether its failure is ignored (deleting what may not exist). */
export interface IpStep {
  args: string[];
  quiet: boolean;
}

type RulePlan = Pick<TunRoutingPlan, 'interfaces' | 'table' | 'rulePriority' | 'inputDevices'> & { managementSources?: readonly string[] };

/** The table an interface's traffic is steered by: its own (per-interface) or the shared TUN table. */
function steerTable(p: RulePlan, n: number): number {
  return p.inputDevices === 'per-interface' ? inputTable(p.table, n) : p.table;
}

/** Every static rule we own, `local` first per family (selectors as `ip rule` arguments). */
function ownRules(p: RulePlan): [fam: '-4' | '-6', args: string[]][] {
  const pr = rulePriorities(p.rulePriority);
  const out: [fam: '-4' | '-6', args: string[]][] = [];
  const at = (n: number) => ['priority', String(n)];
  for (const fam of ['-4', '-6'] as const) {
    out.push([fam, [...at(pr.local), 'lookup', 'local']]);
    const sources = (p.managementSources ?? []).filter((s) => s.includes(':') === (fam === '-6'));
    for (const [n, ifname] of p.interfaces.entries()) {
      const t = String(steerTable(p, n));
      if (fam === '-6') for (const to of KEEP_LOCAL_V6) out.push([fam, ['iif', ifname, 'to', to, 'lookup', 'local', ...at(pr.keepLocal)]]);
      for (const proto of LOCAL_PROTOCOLS[fam]) out.push([fam, ['iif', ifname, 'ipproto', proto, 'lookup', t, ...at(pr.steerIn)]]);
      for (const from of sources) out.push([fam, ['iif', ifname, 'from', from, 'lookup', 'local', ...at(pr.fallback)]]);
      for (const proto of LOCAL_PROTOCOLS[fam]) out.push([fam, ['iif', ifname, 'ipproto', proto, ...at(pr.closedIn), 'blackhole']]);
      out.push([fam, ['iif', ifname, 'lookup', t, ...at(pr.steer)]]);
      out.push([fam, ['iif', ifname, ...at(pr.closed), 'blackhole']]);
    }
    for (const to of KEEP_OUT[fam]) out.push([fam, ['iif', 'lo', 'to', to, 'lookup', 'main', ...at(pr.steer)]]);
    for (const proto of LOCAL_PROTOCOLS[fam]) out.push([fam, ['iif', 'lo', 'ipproto', proto, 'lookup', String(outputTable(p.table)), ...at(pr.closed)]]);
  }
  return out;
}

/**
 * The `ip rule` steps of the layout above, in an order that never leaves a moment without
 * a `lookup local`: ours is in place before the priority-0 one goes. Idempotent: every add
 * is preceded by a quiet delete of the same rule, so a restarted node ends with the same
 * rules. The deletes come before the adds (runSteps sends each run of them as one batch).
 */
export function localRuleSetupSteps(p: RulePlan): IpStep[] {
  const steps: IpStep[] = [];
  const rules = ownRules(p);
  const isLocal = (args: string[]) => args.length === 4 && args[3] === 'local';
  for (const [fam, args] of rules.filter(([, a]) => isLocal(a))) {
    steps.push({ args: [fam, 'rule', 'del', ...args], quiet: true }, { args: [fam, 'rule', 'add', ...args], quiet: false });
  }
  const rest = rules.filter(([, a]) => !isLocal(a));
  for (const [fam, args] of rest) steps.push({ args: [fam, 'rule', 'del', ...args], quiet: true });
  for (const [fam, args] of rest) steps.push({ args: [fam, 'rule', 'add', ...args], quiet: false });
  for (const fam of ['-4', '-6']) steps.push({ args: [fam, 'rule', 'del', 'priority', String(KERNEL_LOCAL_PRIORITY), 'lookup', 'local'], quiet: true });
  return steps;
}

/**
 * The reverse: the kernel's priority-0 `lookup local` comes back first (deleted before,
 * so it is never there twice), then our rules go. All quiet: teardown never throws.
 */
export function localRuleTeardownSteps(p: RulePlan): IpStep[] {
  const steps: IpStep[] = [];
  for (const fam of ['-4', '-6']) {
    steps.push({ args: [fam, 'rule', 'del', 'priority', String(KERNEL_LOCAL_PRIORITY), 'lookup', 'local'], quiet: true });
    steps.push({ args: [fam, 'rule', 'add', 'priority', String(KERNEL_LOCAL_PRIORITY), 'lookup', 'local'], quiet: true });
  }
  for (const [fam, args] of ownRules(p)) steps.push({ args: [fam, 'rule', 'del', ...args], quiet: true });
  return steps;
}

/** The fields of `ip -j rule show` records we read. */
export interface IpRuleRecord {
  priority?: number;
  iif?: string;
  table?: string;
  action?: string;
}

/** The fields of `ip -j route show table all` records we read. */
export interface IpRouteRecord {
  type?: string;
  dst?: string;
  table?: string;
  metric?: number;
}

/**
 * Rules a previous run left that this plan does not make (a crash, then a start with other
 * interfaces or the other inputDevices mode): at our priorities, for an interface no longer
 * steered (every rule of it goes), or steering a steered interface by one of our tables
 * that is no longer its table (the shared table, another interface's). Deleted by their
 * priority, interface and table: `ip rule del` takes unnamed selectors as wildcards, so each
 * step removes one such rule, one step per leftover record.
 */
export function leftoverRuleSteps(p: RulePlan, fam: '-4' | '-6', rules: readonly IpRuleRecord[]): IpStep[] {
  const pr = rulePriorities(p.rulePriority);
  const want = new Map(p.interfaces.map((x, n) => [x, steerTable(p, n)]));
  const ourTable = (t: number) => t === p.table || (t >= inputTable(p.table, 0) && t < inputTable(p.table, MAX_INPUT_DEVICES));
  const steps: IpStep[] = [];
  for (const r of rules) {
    if (r.priority === undefined || r.priority < pr.keepLocal || r.priority > pr.closed) continue;
    if (r.iif === undefined || r.iif === 'lo') continue;
    const at = ['priority', String(r.priority), 'iif', r.iif];
    const steer = want.get(r.iif);
    if (steer === undefined) {
      steps.push({ args: [fam, 'rule', 'del', ...at], quiet: true });
      continue;
    }
    const t = r.table !== undefined && /^\d+$/.test(r.table) ? Number(r.table) : undefined;
    if (t !== undefined && t !== steer && ourTable(t)) steps.push({ args: [fam, 'rule', 'del', ...at, 'lookup', String(t)], quiet: true });
  }
  return steps;
}

/**
 * Per-interface input tables a previous run left and this plan does not use: tables in the
 * input range holding our fail-closed `throw default` (its metric is our signature, so an
 * operator's own table there is never touched).
 */
export function leftoverTables(p: RulePlan, routes: readonly IpRouteRecord[]): number[] {
  const used = new Set(p.interfaces.map((_, n) => steerTable(p, n)));
  const out = new Set<number>();
  for (const r of routes) {
    if (r.type !== 'throw' || r.dst !== 'default' || r.metric !== FAIL_CLOSED_METRIC || r.table === undefined || !/^\d+$/.test(r.table)) continue;
    const t = Number(r.table);
    if (t >= inputTable(p.table, 0) && t < inputTable(p.table, MAX_INPUT_DEVICES) && !used.has(t)) out.add(t);
  }
  return [...out].sort((a, b) => a - b);
}

/** Reads the rules and tables and removes what a previous run left (never throws). */
async function removeLeftovers(p: RulePlan): Promise<void> {
  for (const fam of ['-4', '-6'] as const) {
    const read = async <T>(args: string[]): Promise<T[]> => {
      const out = await ipOutput(['-j', fam, ...args]).catch(() => '[]');
      try {
        const v = JSON.parse(out || '[]') as unknown;
        return Array.isArray(v) ? (v as T[]) : [];
      } catch {
        return [];
      }
    };
    const steps = leftoverRuleSteps(p, fam, await read<IpRuleRecord>(['rule', 'show']));
    for (const t of leftoverTables(p, await read<IpRouteRecord>(['route', 'show', 'table', 'all']))) steps.push({ args: [fam, 'route', 'flush', 'table', String(t)], quiet: true });
    if (steps.length > 0) await runSteps(steps);
  }
}

/**
 * Runs the steps in order; consecutive steps of one family and one kind (quiet or not) go
 * to `ip -batch` at once (a hundred rules cost one `ip` run, not a hundred). A quiet batch
 * runs with -force and its failures are ignored; any other failure throws.
 */
async function runSteps(steps: IpStep[]): Promise<void> {
  for (let i = 0; i < steps.length; ) {
    const fam = steps[i]!.args[0]!;
    const quiet = steps[i]!.quiet;
    let j = i;
    const lines: string[] = [];
    while (j < steps.length && steps[j]!.quiet === quiet && steps[j]!.args[0] === fam) lines.push(steps[j++]!.args.slice(1).join(' '));
    i = j;
    const r = await runCommand('ip', quiet ? ['-force', fam, '-batch', '-'] : [fam, '-batch', '-'], lines.join('\n') + '\n');
    if (quiet) continue;
    if (r.error === 'ENOENT') throw new Error('the `ip` command (iproute2) is not installed: apt-get install iproute2');
    if (r.error !== undefined || r.code !== 0) throw new Error(`ip ${fam} -batch (${lines.length} rules): ${(r.stderr || r.error || `exit code ${r.code}`).trim()}`);
  }
}

/** The TUN devices of a plan and the table each one's default route is in: the shared one first. */
export function planDevices(p: Pick<TunRoutingPlan, 'tun' | 'interfaces' | 'table' | 'inputDevices'>): { tun: string; table: number }[] {
  const out = [{ tun: p.tun, table: p.table }];
  if (p.inputDevices === 'per-interface') inputDeviceNames(p.tun, p.interfaces).forEach((d, n) => out.push({ tun: d.tun, table: inputTable(p.table, n) }));
  return out;
}

/**
 * Brings the TUN devices up and steers the protected interfaces' traffic into them: every
 * interface into the shared device, or each into its own (inputDevices per-interface). The
 * node's own output always goes to the shared device (own-traffic-routes.ts).
 */
export async function setupTunRouting(p: TunRoutingPlan): Promise<void> {
  rulePriorities(p.rulePriority);
  const devices = planDevices(p);
  if (p.inputDevices === 'per-interface' && p.interfaces.length > MAX_INPUT_DEVICES) throw new Error(`datapath.inputDevices per-interface: at most ${MAX_INPUT_DEVICES} interfaces, not ${p.interfaces.length}`);
  await removeLeftovers(p);
  for (const d of devices) await ip(['link', 'set', 'dev', d.tun, 'mtu', String(p.mtu), 'txqueuelen', String(p.txQueueLen), 'up']);
  // Forwarded traffic must be allowed, and the reverse-path check would drop what comes
  // back out of a TUN device (its source is not routed via the TUN device).
  await sysctl('net.ipv4.ip_forward', '1');
  await sysctl('net.ipv4.conf.all.rp_filter', '0');
  for (const d of devices) await devSysctl('ipv4', d.tun, 'rp_filter', '0');
  // A SNATed / masqueraded packet written back into the TUN device has one of the node's
  // own addresses as source; without accept_local the kernel drops it as a martian
  // (fib_validate_source refuses a local source on input).
  // The kernel ORs the `all` and per-device values (IN_DEV_ORCONF), so `all` already 1 is
  // enough; in a container set `net.ipv4.conf.default.accept_local=1` (compose sysctls)
  // and the new TUN devices inherit it.
  if ((await readFile('/proc/sys/net/ipv4/conf/all/accept_local', 'utf8').then((t) => t.trim(), () => '')) !== '1') {
    for (const d of devices) await devSysctl('ipv4', d.tun, 'accept_local', '1');
  }
  // Early demux attaches an arriving TCP/UDP packet to a local socket before routing, and
  // the kernel never forwards a packet that owns a socket (ip_forward drops it): a reply to
  // the node's own connection, steered into the TUN device for the input hook, would vanish.
  // With it off the reply takes the TUN path and, accepted by the input chains, is handed
  // back for local delivery (filter-stage.ts, to_node). The knobs cover IPv6 as well.
  await sysctl('net.ipv4.tcp_early_demux', '0');
  await sysctl('net.ipv4.udp_early_demux', '0');
  await sysctl('net.ipv6.conf.all.forwarding', '1');
  for (const d of devices) await devSysctl('ipv6', d.tun, 'accept_ra', '0').catch(() => undefined);
  for (const fam of ['-4', '-6']) {
    for (const d of devices) {
      await ip([fam, 'route', 'replace', 'default', 'dev', d.tun, 'table', String(d.table)]);
      // Fail closed: when the TUN device disappears (node killed), its route goes with it and
      // this throw takes over: the management sources may still reach the node, the `closed`
      // rule drops the rest instead of letting it bypass the filter through main. (Earlier
      // versions put a blackhole route here; replace takes its place.)
      await ip([fam, 'route', 'replace', 'throw', 'default', 'metric', String(FAIL_CLOSED_METRIC), 'table', String(d.table)]);
    }
    // The node's own output: filled by own-traffic-routes.ts from the main table.
    await ipQuiet([fam, 'route', 'flush', 'table', String(outputTable(p.table))]);
  }
  await runSteps(localRuleSetupSteps(p));
}

/**
 * Removes our rules and routes, so traffic is forwarded by the kernel WITHOUT filtering,
 * and puts the kernel's `lookup local` back at priority 0. Only for `failClosed: false`
 * deployments and for tests; by default a stopped node leaves the blackhole (and the moved
 * local rule) in place. Never throws.
 */
export async function teardownTunRouting(p: RulePlan): Promise<void> {
  let steps: IpStep[] = [];
  try {
    steps = localRuleTeardownSteps(p);
  } catch {
    return;
  }
  await runSteps(steps);
  await removeLeftovers({ ...p, interfaces: [] });
  for (const fam of ['-4', '-6']) {
    await ipQuiet([fam, 'route', 'flush', 'table', String(p.table)]);
    await ipQuiet([fam, 'route', 'flush', 'table', String(outputTable(p.table))]);
    if (p.inputDevices === 'per-interface') for (const n of p.interfaces.keys()) await ipQuiet([fam, 'route', 'flush', 'table', String(inputTable(p.table, n))]);
  }
}
