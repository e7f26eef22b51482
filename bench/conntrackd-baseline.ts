/**
 * conntrackd (FTFW mode, multicast) on the same lab pair, as the baseline of the sync bench.
 * conntrackd replicates the *kernel's* conntrack table, so kernel connection tracking is
 * switched on in both firewall namespaces (one nftables rule with a `ct` expression makes the
 * kernel track every packet in that namespace); the packets the lab forwards pass the kernel
 * on their way into hafw's TUN device, so the kernel tracks the same connections hafw does.
 * Its own group and port (225.0.0.50:3781) keep it apart from hafw's sync on the same link.
 * The standby's conntrackd keeps the replicas in its external cache (no commit), counted
 * with `conntrackd -s cache`.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sh, spawnDetached, stopPid, sleep } from '../cluster-tests/exec.js';
import { LAB_DIR } from '../cluster-tests/lab.js';
import { FIREWALLS, NS } from '../cluster-tests/topology.js';

function config(fw: string, addr: string): string {
  const file = (ext: string) => path.join(LAB_DIR, `conntrackd-${fw}.${ext}`);
  return `Sync {
  Mode FTFW {
    DisableExternalCache off
  }
  Multicast {
    IPv4_address 225.0.0.50
    Group 3781
    IPv4_interface ${addr}
    Interface sync
    SndSocketBuffer 4194304
    RcvSocketBuffer 4194304
    Checksum on
  }
}
General {
  HashSize 65536
  HashLimit 524288
  LogFile ${file('log')}
  Syslog off
  LockFile ${file('lock')}
  UNIX {
    Path ${file('ctl')}
  }
  NetlinkBufferSize 8388608
  NetlinkBufferSizeMaxGrowth 16777216
}
`;
}

const TRACK_ALL = 'table inet hafw_bench_ct {\n  chain pre {\n    type filter hook prerouting priority -150; policy accept;\n    ct state new counter\n  }\n}\n';

export class ConntrackdPair {
  private constructor(private readonly pids: number[]) {}

  /** Starts conntrackd on fwa and fwb; undefined (with the reason) when it is not installed or does not come up. */
  static async start(): Promise<ConntrackdPair | string> {
    if (!(await sh(['conntrackd', '-v']).then(() => true, () => false))) return 'conntrackd is not installed (apt-get install conntrackd)';
    const pids: number[] = [];
    const pair = new ConntrackdPair(pids);
    try {
      for (const fw of FIREWALLS.slice(0, 2)) {
        const ns = NS.fw(fw.name);
        // Unreplied UDP lives 10 minutes in the kernel too, as in hafw's lab config.
        await sh(['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_udp_timeout=600'], { ns });
        await sh(['nft', '-f', '-'], { ns, input: TRACK_ALL });
        const conf = path.join(LAB_DIR, `conntrackd-${fw.name}.conf`);
        await writeFile(conf, config(fw.name, fw.sync4));
        pids.push(spawnDetached(['conntrackd', '-C', conf], { ns, logFile: path.join(LAB_DIR, `conntrackd-${fw.name}.out`) }).pid!);
      }
      for (let i = 0; i < 50; i++) {
        if ((await pair.externalCount('fwb').catch(() => -1)) >= 0) return pair;
        await sleep(100);
      }
      await pair.stop();
      return 'conntrackd did not answer on its control socket';
    } catch (err) {
      await pair.stop();
      return `conntrackd: ${(err as Error).message}`;
    }
  }

  private async ctl(fw: string, args: string[]): Promise<string> {
    return sh(['conntrackd', '-C', path.join(LAB_DIR, `conntrackd-${fw}.conf`), ...args], { ns: NS.fw(fw), timeoutMs: 10_000 });
  }

  /** Entries in `fw`'s external cache (replicas received from peers). */
  async externalCount(fw: string): Promise<number> {
    const out = await this.ctl(fw, ['-s', 'cache']);
    const m = /cache:external\s+active objects:\s+(\d+)/.exec(out);
    if (!m) throw new Error(`unexpected conntrackd -s cache output: ${out.slice(0, 200)}`);
    return Number(m[1]);
  }

  /** Connections in the kernel's table of `fw`'s namespace. */
  async kernelCount(fw: string): Promise<number> {
    return Number((await sh(['conntrack', '-C'], { ns: NS.fw(fw) })).trim());
  }

  /**
   * Loads `n` new UDP entries into fwa's kernel table in one go (`conntrack -R`: netlink
   * requests back to back, the kernel-side counterpart of hafw's bench injector) and
   * times until fwb's external cache holds them: from the start of the load to the sample
   * that saw the n-th entry (sampled every ~10 ms), or to the last growth if they never all
   * arrive within `timeoutMs`.
   */
  async replicationRate(n: number, timeoutMs: number): Promise<{ count: number; ms: number; loadMs: number }> {
    // Four loaders at once (one `conntrack -R` runs its requests one after another, so alone
    // it, not conntrackd, would set the pace on this host).
    const parts = 4;
    const files: string[] = [];
    for (let p = 0; p < parts; p++) {
      const lines: string[] = [];
      for (let i = p; i < n; i += parts) lines.push(`-I -p udp -s 198.18.${(i >>> 8) & 0xff}.${i & 0xff} -d 198.51.100.${100 + ((i >>> 16) & 1)} --sport 4000 --dport 9 -t 600 -u ASSURED`);
      const file = path.join(LAB_DIR, `conntrackd-load-${p}.txt`);
      await writeFile(file, lines.join('\n') + '\n');
      files.push(file);
    }
    const c0 = await this.externalCount('fwb');
    const t0 = performance.now();
    let loadMs = NaN;
    const load = Promise.all(files.map((f) => sh(['conntrack', '-R', f], { ns: NS.fw('fwa'), timeoutMs }))).then(() => (loadMs = performance.now() - t0));
    let count = 0;
    let lastGrowth = t0;
    for (let idle = 0; idle < 100 && performance.now() - t0 < timeoutMs; ) {
      const c = (await this.externalCount('fwb')) - c0;
      if (c > count) {
        count = c;
        lastGrowth = performance.now();
        idle = 0;
      } else idle++;
      if (count >= n) break;
      await sleep(10);
    }
    await load.catch(() => undefined);
    for (const f of files) await rm(f, { force: true });
    return { count, ms: lastGrowth - t0, loadMs };
  }

  /** Empties `fw`'s external cache and asks its peers for their tables (conntrackd -f external; -n). */
  async resync(fw: string): Promise<void> {
    await this.ctl(fw, ['-f', 'external']);
    await this.ctl(fw, ['-n']);
  }

  async stop(): Promise<void> {
    for (const pid of this.pids) await stopPid(pid);
    for (const fw of FIREWALLS.slice(0, 2)) await sh(['nft', 'delete', 'table', 'inet', 'hafw_bench_ct'], { ns: NS.fw(fw.name) }).catch(() => undefined);
  }
}
