/**
 * Kernel side of the packet path (DESIGN §4): policy routing sends everything that enters
 * the protected interfaces into the TUN device; what the datapath writes back enters with
 * iif = TUN and is routed normally by the main table. Done with iproute2 so an operator can
 * read exactly what we did with `ip rule` / `ip route show table N`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';

const run = promisify(execFile);

/** Worst possible metric, so the blackhole only wins when the TUN route is gone. */
const FAIL_CLOSED_METRIC = 4294967295;

export interface TunRoutingPlan {
  tun: string;
  /** Interfaces whose ingress traffic goes through the filter (e.g. lan, wan). */
  interfaces: string[];
  /** Routing table holding the default route into the TUN device. */
  table: number;
  /**
   * Priority of the steering `ip rule`s (2..32764): the rules keeping the node's own link
   * traffic local use the priority below it, the moved `lookup local` the one above.
   */
  rulePriority: number;
  mtu: number;
  txQueueLen: number;
}

async function ip(args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (err) {
    const e = err as { stderr?: string; message: string; code?: string };
    if (e.code === 'ENOENT') throw new Error('the `ip` command (iproute2) is not installed: apt-get install iproute2');
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`);
  }
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
 * Where the kernel's `local` table is consulted (DESIGN §4, issue 7, NAT to the node's own
 * addresses). By default `ip rule` priority 0 looks up `local` before anything else, so a
 * reply to a masqueraded connection (addressed to the firewall's WAN address or VIP) is
 * delivered to the host stack and never reaches the datapath to be un-NATed. We move that
 * lookup to just after the steering rules: what enters lan/wan goes to the TUN device first,
 * and what the datapath writes back (iif = TUN, not steered) still finds `local` before
 * `main`. Traffic the node itself must answer without the filter is kept local by narrow
 * rules just BEFORE the steering rules (see `keepLocalSelectors`).
 */
export interface RulePriorities {
  /** `lookup local` for the node's own link traffic (ND, MLD, VRRP), before steering. */
  keepLocal: number;
  /** `iif <if> lookup <table>`: the steering rules. */
  steer: number;
  /** `lookup local` for everything else, after steering and before main (32766). */
  local: number;
}

/** The kernel's own priority of its `lookup local` rule (fib_default_rules_init). */
export const KERNEL_LOCAL_PRIORITY = 0;
/** The kernel's `main` rule: our rules must all come before it. */
export const KERNEL_MAIN_PRIORITY = 32766;

export function rulePriorities(rulePriority: number): RulePriorities {
  // keepLocal must not be 0: `ip rule del priority 0 lookup local` (done on setup) treats
  // unspecified selectors as wildcards and could hit one of our selective rules there.
  if (!Number.isInteger(rulePriority) || rulePriority < 2 || rulePriority + 1 >= KERNEL_MAIN_PRIORITY) {
    throw new Error(`rulePriority ${rulePriority}: must be 2..${KERNEL_MAIN_PRIORITY - 2} (one free priority on each side for the local-table rules)`);
  }
  return { keepLocal: rulePriority - 1, steer: rulePriority, local: rulePriority + 1 };
}

/**
 * Selectors of packets that stay with the host stack even when they arrive on a steered
 * interface. Each is paired with `lookup local`, so it only catches packets to the node's
 * own addresses; anything else falls through to the steering rules.
 *
 * - VRRP (protocol 112), unicast or multicast: the failover state machine's adverts
 *   (RFC 5798 §5.1.1.4) must reach it whatever the ruleset says.
 * - IPv4 multicast and limited broadcast: the kernel routes them before the rules anyway
 *   (ip_route_input_mc, the lbcast branch of ip_route_input_slow); listed for clarity.
 * - IPv6 multicast and link-local destinations, and all ICMPv6 to the node: IPv6 input
 *   routing DOES go through the rules, and neighbour discovery (RFC 4861 §7: solicited-node
 *   multicast NS, unicast NUD probes and NAs to the node's global address; ICMPv6 is
 *   protocol 58) and MLD must
 *   not wait for the datapath, whose forward hook knows nothing of them.
 */
export const KEEP_LOCAL_SELECTORS: Record<'-4' | '-6', string[][]> = {
  '-4': [['ipproto', '112'], ['to', '224.0.0.0/4'], ['to', '255.255.255.255/32']],
  '-6': [['ipproto', '112'], ['ipproto', '58'], ['to', 'ff00::/8'], ['to', 'fe80::/10']],
};

/** One `ip` invocation and whether its failure is ignored (deleting what may not exist). */
export interface IpStep {
  args: string[];
  quiet: boolean;
}

/**
 * The `ip rule` steps that put the local-table lookup after the steering rules, in an
 * order that never leaves a moment without a `lookup local`: the late rule is added
 * before the priority-0 one goes. Idempotent: every add is preceded by a quiet delete of
 * the same rule, so a restarted node ends up with the same rules.
 */
export function localRuleSetupSteps(p: Pick<TunRoutingPlan, 'interfaces' | 'table' | 'rulePriority'>): IpStep[] {
  const pr = rulePriorities(p.rulePriority);
  const steps: IpStep[] = [];
  const both = (fam: string, args: string[]): void => {
    steps.push({ args: [fam, 'rule', 'del', ...args], quiet: true }, { args: [fam, 'rule', 'add', ...args], quiet: false });
  };
  for (const fam of ['-4', '-6'] as const) {
    both(fam, ['priority', String(pr.local), 'lookup', 'local']);
    for (const ifname of p.interfaces) {
      for (const sel of KEEP_LOCAL_SELECTORS[fam]) both(fam, ['iif', ifname, ...sel, 'lookup', 'local', 'priority', String(pr.keepLocal)]);
    }
    for (const ifname of p.interfaces) both(fam, ['iif', ifname, 'lookup', String(p.table), 'priority', String(pr.steer)]);
    steps.push({ args: [fam, 'rule', 'del', 'priority', String(KERNEL_LOCAL_PRIORITY), 'lookup', 'local'], quiet: true });
  }
  return steps;
}

/**
 * The reverse of localRuleSetupSteps: the kernel's priority-0 `lookup local` comes back
 * first, then our rules go. All quiet: teardown never throws.
 */
export function localRuleTeardownSteps(p: Pick<TunRoutingPlan, 'interfaces' | 'table' | 'rulePriority'>): IpStep[] {
  const pr = rulePriorities(p.rulePriority);
  const steps: IpStep[] = [];
  const q = (fam: string, args: string[]): void => { steps.push({ args: [fam, 'rule', ...args], quiet: true }); };
  for (const fam of ['-4', '-6'] as const) {
    q(fam, ['del', 'priority', String(KERNEL_LOCAL_PRIORITY), 'lookup', 'local']);
    q(fam, ['add', 'priority', String(KERNEL_LOCAL_PRIORITY), 'lookup', 'local']);
    for (const ifname of p.interfaces) {
      q(fam, ['del', 'iif', ifname, 'lookup', String(p.table), 'priority', String(pr.steer)]);
      for (const sel of KEEP_LOCAL_SELECTORS[fam]) q(fam, ['del', 'iif', ifname, ...sel, 'lookup', 'local', 'priority', String(pr.keepLocal)]);
    }
    q(fam, ['del', 'priority', String(pr.local), 'lookup', 'local']);
  }
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
  await sysctl(`net.ipv4.conf.${p.tun}.accept_local`, '1');
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
