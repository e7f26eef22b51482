/**
 * keepalived + conntrackd on the lab pair, as the baseline of the takeover bench
 * (`takeover/keepalived`): both firewall namespaces forward in the kernel with the lab's
 * strict ruleset and conntrack strict, conntrackd (FTFW, bench/conntrackd-baseline.ts)
 * replicates the kernel table, and keepalived (VRRPv3, the same VRID, priorities, VIPs and
 * advert interval as hafw's lab config) moves the VIPs. On becoming master a node commits
 * conntrackd's external cache into its kernel table (`conntrackd -c`), as conntrackd's own
 * primary-backup script does, so strict-ruleset flows survive; on becoming backup it asks
 * for a resync (`conntrackd -n`).
 *
 * The kill drill's failure: fwa stops forwarding (ip_forward 0) and its keepalived is
 * SIGKILLed (VRRP child first, so it never sends the priority-0 advert of a clean exit) —
 * the kernel counterpart of a hafw node killed, whose datapath goes with it. conntrackd on
 * fwa keeps running. The node "comes back" by forwarding again and restarting keepalived.
 */
import { readFile, rm, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { isAlive, sh, sleep, spawnDetached, stopPid } from '../cluster-tests/exec.js';
import { LAB_DIR } from '../cluster-tests/lab.js';
import { FIREWALLS, NS, VIPS } from '../cluster-tests/topology.js';

const file = (fw: string, ext: string): string => path.join(LAB_DIR, `keepalived-${fw}.${ext}`);

function config(fw: string, advertIntervalMs: number): string {
  const priority = fw === 'fwa' ? 200 : 100;
  const v4 = VIPS.filter((v) => !v.addr.includes(':'));
  const v6 = VIPS.filter((v) => v.addr.includes(':'));
  const notify = file(fw, 'notify.sh');
  return `global_defs {
  router_id hafw-bench-${fw}
  vrrp_version 3
  script_user root
  vrrp_garp_master_repeat 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface lan
  virtual_router_id 51
  priority ${priority}
  advert_int ${(advertIntervalMs / 1000).toFixed(3)}
  virtual_ipaddress {
${v4.map((v) => `    ${v.addr}/${v.prefix} dev ${v.ifname}`).join('\n')}
  }
  virtual_ipaddress_excluded {
${v6.map((v) => `    ${v.addr}/${v.prefix} dev ${v.ifname}`).join('\n')}
  }
  notify_master "${notify} master"
  notify_backup "${notify} backup"
}
`;
}

function notifyScript(fw: string): string {
  const ctd = `conntrackd -C ${path.join(LAB_DIR, `conntrackd-${fw}.conf`)}`;
  return `#!/bin/sh
case "$1" in
  master) ${ctd} -c; ${ctd} -f; ${ctd} -R; ${ctd} -B ;;
  backup) ${ctd} -t; ${ctd} -n ;;
esac
exit 0
`;
}

/**
 * Lines of a VRRP log that say the node became master: keepalived's "(VI_1) Entering MASTER
 * STATE", or hafw's `vrrp.state` event with `"to":"master"` (one JSON object a line).
 */
export function countBecameMaster(lines: readonly string[], kind: 'keepalived' | 'hafw'): number {
  let n = 0;
  for (const line of lines) {
    if (kind === 'keepalived') {
      if (/\bEntering MASTER STATE\b/.test(line)) n++;
      continue;
    }
    if (!line.startsWith('{')) continue;
    try {
      const o = JSON.parse(line) as { event?: unknown; to?: unknown };
      if (o.event === 'vrrp.state' && o.to === 'master') n++;
    } catch {
      /* not a log object (a stack trace, a partial line) */
    }
  }
  return n;
}

export class KeepalivedPair {
  private readonly pids = new Map<string, number>();

  constructor(private readonly advertIntervalMs: number) {}

  async start(fw: string): Promise<void> {
    await writeFile(file(fw, 'conf'), config(fw, this.advertIntervalMs));
    await writeFile(file(fw, 'notify.sh'), notifyScript(fw));
    await chmod(file(fw, 'notify.sh'), 0o755);
    for (const ext of ['pid', 'vrrp.pid']) await rm(file(fw, ext), { force: true });
    const child = spawnDetached(
      ['keepalived', '--dont-fork', '--log-console', '--log-detail', '--vrrp', '-f', file(fw, 'conf'), '-p', file(fw, 'pid'), '-r', file(fw, 'vrrp.pid'), '-i', `hafw-bench-${fw}`],
      { ns: NS.fw(fw), logFile: file(fw, 'log'), append: true },
    );
    this.pids.set(fw, child.pid!);
  }

  async startAll(): Promise<void> {
    // The pair: the lab's first two firewalls (a three-node lab adds fwc, not used here).
    for (const fw of FIREWALLS.slice(0, 2)) await rm(file(fw.name, 'log'), { force: true });
    for (const fw of FIREWALLS.slice(0, 2)) await this.start(fw.name);
  }

  /** The node holds the VIPs (keepalived adds them on entering MASTER). */
  async holdsVips(fw: string): Promise<boolean> {
    const out = await sh(['ip', '-n', NS.fw(fw), '-4', 'addr', 'show', 'dev', 'lan']).catch(() => '');
    return out.includes(` ${VIPS[0].addr}/`);
  }

  async waitMaster(fw: string, timeoutMs: number): Promise<void> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      if (await this.holdsVips(fw)) return;
      await sleep(20);
    }
    throw new Error(`keepalived on ${fw} did not take the VIPs within ${timeoutMs} ms (log: ${file(fw, 'log')})`);
  }

  /** `fw` holds the VIPs and the other node does not (startup and preemption settled). */
  async waitSoleMaster(fw: string, timeoutMs: number): Promise<void> {
    const other = FIREWALLS.find((f) => f.name !== fw)!.name;
    const t0 = Date.now();
    await this.waitMaster(fw, timeoutMs);
    while (Date.now() - t0 < timeoutMs) {
      if (!(await this.holdsVips(other))) return;
      await sleep(20);
    }
    throw new Error(`${other} still holds the VIPs after ${timeoutMs} ms`);
  }

  async logLines(fw: string): Promise<string[]> {
    return (await readFile(file(fw, 'log'), 'utf8').catch(() => '')).split('\n');
  }

  /** Kill drill: `fw` stops forwarding, then its keepalived dies without resigning. */
  async kill(fw: string): Promise<void> {
    await sh(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=0', 'net.ipv6.conf.all.forwarding=0'], { ns: NS.fw(fw) });
    const vrrp = Number((await readFile(file(fw, 'vrrp.pid'), 'utf8').catch(() => '')).trim());
    if (vrrp > 0 && isAlive(vrrp)) process.kill(vrrp, 'SIGKILL');
    const main = this.pids.get(fw);
    if (main && isAlive(main)) process.kill(main, 'SIGKILL');
    for (let i = 0; i < 40 && ((main && isAlive(main)) || (vrrp > 0 && isAlive(vrrp))); i++) await sleep(25);
    this.pids.delete(fw);
  }

  /** After a kill: forwarding on again and keepalived restarted. */
  async revive(fw: string): Promise<void> {
    await sh(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1'], { ns: NS.fw(fw) });
    await this.start(fw);
  }

  async stop(): Promise<void> {
    for (const [fw, pid] of [...this.pids]) {
      // The VRRP child too: it may outlive a killed parent for a moment.
      const vrrp = Number((await readFile(file(fw, 'vrrp.pid'), 'utf8').catch(() => '')).trim());
      await stopPid(pid);
      if (vrrp > 0) await stopPid(vrrp);
      this.pids.delete(fw);
    }
  }
}
