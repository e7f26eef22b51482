/**
 * `npm run soak -- [--minutes N] [--interval-ms MS]`: the no-false-takeover soak. Two nodes
 * with VRRP at the given advertisement interval (default 10 ms, the lab's), bulk TCP
 * (iperf3, several streams, both directions) through the master for N minutes (default
 * 10); the backup must never leave the backup state. Prints one line per minute and a
 * verdict; exit code 1 on any transition. Bounded by --minutes (at most 60).
 */
import { parseArgs } from 'node:util';
import { Lab } from '../cluster-tests/lab.js';
import { sh, spawnDetached, stopPid, sleep } from '../cluster-tests/exec.js';
import { NS, SERVER } from '../cluster-tests/topology.js';
import { checkSystemTools } from '../cluster-tests/requirements.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, 'interval-ms': { type: 'string', default: '10' } } });
const minutes = Math.min(Math.max(Number(values.minutes), 0.5), 60);
const intervalMs = Number(values['interval-ms']);

interface VrrpCounters {
  transitions: number;
  advertsReceived: number;
}

async function vrrpOf(lab: Lab, name: string): Promise<{ role: string; counters: VrrpCounters }> {
  const s = (await lab.status(name)) as unknown as { role: string; vrrp?: { counters: VrrpCounters } };
  return { role: s.role, counters: s.vrrp!.counters };
}

await checkSystemTools(['ip', 'iperf3']);
// Ctrl-C or a kill still removes the lab (the finally below does not run on a signal).
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void Lab.down().finally(() => process.exit(130)));
const lab = await Lab.up({ nodes: 2, advertIntervalMs: intervalMs });
let failed = false;
try {
  await lab.waitRole('fwa', 'master');
  await lab.waitRole('fwb', 'backup');
  const start = await vrrpOf(lab, 'fwb');
  const seconds = Math.round(minutes * 60);
  const server = spawnDetached(['iperf3', '-s', '-B', SERVER.v4], { ns: NS.server, logFile: '/dev/null' });
  await sleep(300);
  const client = spawnDetached(['iperf3', '-c', SERVER.v4, '-t', String(seconds), '-P', '4', '--bidir'], { ns: NS.client, logFile: '/dev/null' });
  const t0 = Date.now();
  try {
    for (let m = 1; Date.now() - t0 < seconds * 1000; m++) {
      await sleep(Math.min(60_000, seconds * 1000 - (Date.now() - t0)));
      const b = await vrrpOf(lab, 'fwb');
      const a = (await lab.status('fwa')) as { datapath: { counters: Record<string, number> } };
      const moved = b.counters.transitions - start.counters.transitions;
      console.log(`${((Date.now() - t0) / 60000).toFixed(1)} min: backup ${b.role}, transitions ${moved}, adverts heard ${b.counters.advertsReceived - start.counters.advertsReceived}, master forwarded ${a.datapath.counters.tx_bytes.toLocaleString('en-US')} bytes`);
      if (moved > 0 || b.role !== 'backup') failed = true;
    }
  } finally {
    await stopPid(client.pid!);
    await stopPid(server.pid!);
  }
  const fa = await vrrpOf(lab, 'fwa');
  console.log(`master ${fa.role}; ${failed ? 'FALSE TAKEOVER: the backup left the backup state under load' : `no false takeover in ${minutes} min at ${intervalMs} ms adverts under full load`}`);
} finally {
  await Lab.down();
  await sh(['true']);
}
process.exitCode = failed ? 1 : 0;
