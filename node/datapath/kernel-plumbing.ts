/**
 * Kernel side of the packet path (DESIGN §4): policy routing sends everything that enters
 * the protected interfaces into the TUN device; what the datapath writes back enters with
 * iif = TUN and is routed normally by the main table. Done with iproute2 so an operator can
 * read exactly what we did with `ip rule` / `ip route show table N`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { ipOutput } from './iproute.js';

/** Worst possible metric, so the blackhole only wins when the TUN route is gone. */
const FAIL_CLOSED_METRIC = 4294967295;

export interface TunRoutingPlan {
  tun: string;
  /** Interfaces whose ingress traffic goes through the filter (e.g. lan, wan). */
  interfaces: string[];
  /** Routing table holding the default route into the TUN device. */
  table: number;
  /**
   * Priority of the steering `ip rule`s (4..32765); the three below it hold the rules that
   * move the `local` table lookup (see RulePriorities).
   */
  rulePriority: number;
  mtu: number;
  txQueueLen: number;
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
  const file = `/proc/sys/${key.replace(/\./g, '/')}`;
  const current = await readFile(file, 'utf8').then((t) => t.trim(), () => undefined);
  if (current === value) return;
  try {
    await writeFile(file, value);
  } catch (err) {
    throw new Error(`cannot set ${key}=${value} (it is ${current ?? 'unreadable'}): ${(err as Error).message}; set it before starting the node (in a container: sysctls)`);
  }
}

/**
 * Where the kernel's `local` table is consulted (DESIGN §4, issue 7: NAT to the node's own
 * addresses). By default `ip rule` priority 0 looks up `local` before anything else, so a
 * reply to a masqueraded connection (addressed to the firewall's WAN address or VIP) is
 * delivered to the host stack and never reaches the datapath to be un-NATed. The layout
 * we install instead, per steered interface and family:
 *
 *   keepLocal  iif X to <link multicast / link-local> lookup local   (IPv6 only)
 *   steerNat   iif X ipproto <tcp|udp|icmp> lookup T                  -> TUN, even to local addresses
 *   local      lookup local                                           (moved from priority 0)
 *   steer      iif X lookup T                                         -> TUN, everything forwarded
 *
 * Only the protocols NAT translates jump the local table: the kernel's ARP code asks the
 * routing table whether the target address is local (arp_process -> ip_route_input with
 * protocol 0) and answers only for RTN_LOCAL, so an unselective steering rule before
 * `local` silences ARP for the node's own addresses and VIPs. Everything else to the node
 * (VRRP adverts, ICMPv6 with neighbour discovery, OSPF...) keeps reaching the host stack
 * first; forwarded traffic of any protocol still meets the catch-all `steer` rule. What
 * the datapath writes back (iif = TUN, not steered) finds `local` before `main`.
 */
export interface RulePriorities {
  /** `lookup local` for IPv6 link traffic (ND, MLD, DHCPv6), before steerNat. */
  keepLocal: number;
  /** `iif X ipproto P lookup T`: NAT-capable protocols go to the TUN device first. */
  steerNat: number;
  /** `lookup local`, moved here from priority 0. */
  local: number;
  /** `iif X lookup T`: the steering rules (the configured rulePriority). */
  steer: number;
}

/** The kernel's own priority of its `lookup local` rule (fib_default_rules_init). */
export const KERNEL_LOCAL_PRIORITY = 0;
/** The kernel's `main` rule: our rules must all come before it. */
export const KERNEL_MAIN_PRIORITY = 32766;

export function rulePriorities(rulePriority: number): RulePriorities {
  // keepLocal must not be 0: `ip rule del priority 0 lookup local` (done on setup) treats
  // unspecified selectors as wildcards and could hit one of our selective rules there.
  if (!Number.isInteger(rulePriority) || rulePriority < 4 || rulePriority >= KERNEL_MAIN_PRIORITY) {
    throw new Error(`rulePriority ${rulePriority}: must be 4..${KERNEL_MAIN_PRIORITY - 1} (the three priorities below it hold the local-table rules)`);
  }
  return { keepLocal: rulePriority - 3, steerNat: rulePriority - 2, local: rulePriority - 1, steer: rulePriority };
}

/**
 * Protocols steered into the TUN device before the local table: the ones a NAT binding
 * translates (ports or ICMP echo id), whose replies may be addressed to the node itself.
 * ICMPv6 is NOT among them: neighbour discovery to the node's own addresses (RFC 4861 §7:
 * unicast NUD probes, NAs) must reach the host stack, so IPv6 echo to a masqueraded
 * address and ICMPv6 errors about such flows stay local (docs/nat.md, Limits).
 * Fragments match too, IPv6 ones included: the kernel dissects the packet for rules that
 * match `ipproto` and reads the protocol past the fragment header (the NAT lab test sends
 * fragmented answers to a masqueraded address in both families; they are translated).
 */
export const NAT_PROTOCOLS: Record<'-4' | '-6', string[]> = {
  '-4': ['6', '17', '1'],
  '-6': ['6', '17'],
};

/**
 * IPv6 destinations kept local before steerNat: IPv6 input routing goes through the rules
 * even for multicast (IPv4 multicast and limited broadcast are routed before the rules,
 * ip_route_input_mc), and a TCP/UDP packet to ff02::/fe80:: (DHCPv6, mDNS) is the node's.
 */
export const KEEP_LOCAL_V6 = ['ff00::/8', 'fe80::/10'];

/** One `ip` invocation and whether its failure is ignored (deleting what may not exist). */
export interface IpStep {
  args: string[];
  quiet: boolean;
}

type RulePlan = Pick<TunRoutingPlan, 'interfaces' | 'table' | 'rulePriority'>;

/** Every rule we own, in the order they are added (selectors as `ip rule` arguments). */
function ownRules(p: RulePlan): [fam: '-4' | '-6', args: string[]][] {
  const pr = rulePriorities(p.rulePriority);
  const t = String(p.table);
  const out: [fam: '-4' | '-6', args: string[]][] = [];
  for (const fam of ['-4', '-6'] as const) {
    // `local` first, so the moment the priority-0 rule goes there is already another.
    out.push([fam, ['priority', String(pr.local), 'lookup', 'local']]);
    for (const ifname of p.interfaces) {
      if (fam === '-6') for (const to of KEEP_LOCAL_V6) out.push([fam, ['iif', ifname, 'to', to, 'lookup', 'local', 'priority', String(pr.keepLocal)]]);
      for (const proto of NAT_PROTOCOLS[fam]) out.push([fam, ['iif', ifname, 'ipproto', proto, 'lookup', t, 'priority', String(pr.steerNat)]]);
      out.push([fam, ['iif', ifname, 'lookup', t, 'priority', String(pr.steer)]]);
    }
  }
  return out;
}

/**
 * The `ip rule` steps of the layout above, in an order that never leaves a moment without
 * a `lookup local`: ours is added before the priority-0 one goes. Idempotent: every add is
 * preceded by a quiet delete of the same rule, so a restarted node ends with the same rules.
 */
export function localRuleSetupSteps(p: RulePlan): IpStep[] {
  const steps: IpStep[] = [];
  for (const [fam, args] of ownRules(p)) {
    steps.push({ args: [fam, 'rule', 'del', ...args], quiet: true }, { args: [fam, 'rule', 'add', ...args], quiet: false });
  }
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

async function runSteps(steps: IpStep[]): Promise<void> {
  for (const s of steps) await (s.quiet ? ipQuiet(s.args) : ip(s.args));
}

/** Brings the TUN device up and steers the protected interfaces' traffic into it. */
export async function setupTunRouting(p: TunRoutingPlan): Promise<void> {
  rulePriorities(p.rulePriority);
  await ip(['link', 'set', 'dev', p.tun, 'mtu', String(p.mtu), 'txqueuelen', String(p.txQueueLen), 'up']);
  // Forwarded traffic must be allowed, and the reverse-path check would drop what comes
  // back out of the TUN device (its source is not routed via the TUN device).
  await sysctl('net.ipv4.ip_forward', '1');
  await sysctl('net.ipv4.conf.all.rp_filter', '0');
  await sysctl(`net.ipv4.conf.${p.tun}.rp_filter`, '0');
  // A SNATed / masqueraded packet written back into the TUN device has one of the node's
  // own addresses as source; without accept_local the kernel drops it as a martian
  // (fib_validate_source refuses a local source on input).
  // The kernel ORs the `all` and per-device values (IN_DEV_ORCONF), so `all` already 1 is
  // enough; in a container set `net.ipv4.conf.default.accept_local=1` (compose sysctls)
  // and the new TUN device inherits it.
  if ((await readFile('/proc/sys/net/ipv4/conf/all/accept_local', 'utf8').then((t) => t.trim(), () => '')) !== '1') {
    await sysctl(`net.ipv4.conf.${p.tun}.accept_local`, '1');
  }
  // Early demux attaches an arriving TCP/UDP packet to a local socket before routing, and
  // the kernel never forwards a packet that owns a socket (ip_forward drops it): a reply to
  // the node's own connection, steered into the TUN device like NAT replies, would vanish.
  // With it off the reply takes the TUN path and the datapath hands it back for local
  // delivery (filter-stage.ts, to_node). The knobs cover IPv6 as well.
  await sysctl('net.ipv4.tcp_early_demux', '0');
  await sysctl('net.ipv4.udp_early_demux', '0');
  await sysctl('net.ipv6.conf.all.forwarding', '1');
  await sysctl(`net.ipv6.conf.${p.tun}.accept_ra`, '0').catch(() => undefined);
  for (const fam of ['-4', '-6']) {
    await ip([fam, 'route', 'replace', 'default', 'dev', p.tun, 'table', String(p.table)]);
    // Fail closed: when the TUN device disappears (node killed), its route goes with it and
    // this blackhole takes over, so traffic is dropped instead of bypassing the filter
    // through the main table.
    await ip([fam, 'route', 'replace', 'blackhole', 'default', 'metric', String(FAIL_CLOSED_METRIC), 'table', String(p.table)]);
  }
  await runSteps(localRuleSetupSteps(p));
}

/**
 * Removes our rules and routes, so traffic is forwarded by the kernel WITHOUT filtering,
 * and puts the kernel's `lookup local` back at priority 0. Only for `failClosed: false`
 * deployments and for tests; by default a stopped node leaves the blackhole (and the moved
 * local rule) in place. Never throws.
 */
export async function teardownTunRouting(p: Pick<TunRoutingPlan, 'interfaces' | 'table' | 'rulePriority'>): Promise<void> {
  let steps: IpStep[] = [];
  try {
    steps = localRuleTeardownSteps(p);
  } catch {
    return;
  }
  await runSteps(steps);
  for (const fam of ['-4', '-6']) await ipQuiet([fam, 'route', 'flush', 'table', String(p.table)]);
}
