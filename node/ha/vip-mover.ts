/**
 * failover's VipMover over iproute2. The VIP group asks for one address at a time; calls
 * made in the same tick are gathered into one `ip -force -batch` process, so moving the
 * whole group costs one fork (takeover time matters) and each caller still gets its own
 * result. The fork is the command helper's (daemon/command-runner.ts), not this process's.
 */
import { runCommand } from '../daemon/command-runner.js';
import type { Vip, VipMover } from '../../failover/index.js';

interface Pending {
  line: string;
  resolve: () => void;
  reject: (e: Error) => void;
}

async function runBatch(lines: string[]): Promise<string[]> {
  const r = await runCommand('ip', ['-force', '-batch', '-'], lines.join('\n') + '\n');
  if (r.error !== undefined) return lines.map(() => `cannot run ip: ${r.error}`);
  // ip -batch reports failures as "Command failed -:N" after the kernel's message; map each
  // to its line (1-based).
  const failures: string[] = lines.map(() => '');
  const msgs = r.stderr.split('\n');
  msgs.forEach((m, i) => {
    const at = /Command failed -:(\d+)/.exec(m);
    if (at) failures[Number(at[1]) - 1] = (msgs[i - 1] ?? m).trim();
  });
  return failures;
}

/** "exists" on add and "not there" on delete are the state we want, not errors. */
const HARMLESS = /File exists|Cannot assign requested address/;

export class IprouteVipMover implements VipMover {
  private pending: Pending[] = [];

  add(vip: Vip): Promise<void> {
    // No duplicate address detection: the VIP must work at once; the unsolicited
    // neighbour advertisements announce it.
    return this.queue(`addr add ${vip.cidr} dev ${vip.ifname}${vip.address.length === 16 ? ' nodad' : ''}`);
  }

  remove(vip: Vip): Promise<void> {
    return this.queue(`addr del ${vip.cidr} dev ${vip.ifname}`);
  }

  private queue(line: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      if (this.pending.length === 1) queueMicrotask(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    const failures = await runBatch(batch.map((p) => p.line));
    batch.forEach((p, i) => {
      const f = failures[i];
      if (f && !HARMLESS.test(f)) p.reject(new Error(`ip ${p.line}: ${f}`));
      else p.resolve();
    });
  }
}
