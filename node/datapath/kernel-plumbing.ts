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
  /** Priority of the `ip rule`s; must be below main (32766) and above local (0). */
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

/** Brings the TUN device up and steers the protected interfaces' traffic into it. */
export async function setupTunRouting(p: TunRoutingPlan): Promise<void> {
  await ip(['link', 'set', 'dev', p.tun, 'mtu', String(p.mtu), 'txqueuelen', String(p.txQueueLen), 'up']);
  // Forwarded traffic must be allowed, and the reverse-path check would drop what comes
  // back out of the TUN device (its source is not routed via the TUN device).
  await sysctl('net.ipv4.ip_forward', '1');
  await sysctl('net.ipv4.conf.all.rp_filter', '0');
  await sysctl(`net.ipv4.conf.${p.tun}.rp_filter`, '0');
  await sysctl('net.ipv6.conf.all.forwarding', '1');
  await sysctl(`net.ipv6.conf.${p.tun}.accept_ra`, '0').catch(() => undefined);
  for (const fam of ['-4', '-6']) {
    await ip([fam, 'route', 'replace', 'default', 'dev', p.tun, 'table', String(p.table)]);
    // Fail closed: when the TUN device disappears (node killed), its route goes with it and
    // this blackhole takes over, so traffic is dropped instead of bypassing the filter
    // through the main table.
    await ip([fam, 'route', 'replace', 'blackhole', 'default', 'metric', String(FAIL_CLOSED_METRIC), 'table', String(p.table)]);
    for (const ifname of p.interfaces) {
      await ipQuiet([fam, 'rule', 'del', 'iif', ifname, 'lookup', String(p.table), 'priority', String(p.rulePriority)]);
      await ip([fam, 'rule', 'add', 'iif', ifname, 'lookup', String(p.table), 'priority', String(p.rulePriority)]);
    }
  }
}

/**
 * Removes our rules and routes, so traffic is forwarded by the kernel WITHOUT filtering.
 * Only for `failClosed: false` deployments and for tests; by default a stopped node leaves
 * the blackhole in place. Never throws.
 */
export async function teardownTunRouting(p: Pick<TunRoutingPlan, 'interfaces' | 'table' | 'rulePriority'>): Promise<void> {
  for (const fam of ['-4', '-6']) {
    for (const ifname of p.interfaces) {
      await ipQuiet([fam, 'rule', 'del', 'iif', ifname, 'lookup', String(p.table), 'priority', String(p.rulePriority)]);
    }
    await ipQuiet([fam, 'route', 'flush', 'table', String(p.table)]);
  }
}
