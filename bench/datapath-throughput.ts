/**
 * Bulk TCP throughput and 64-byte UDP packets/s from hafw-client to hafw-server through one
 * firewall, for three forwarders measured in the same run on the same lab:
 *   kernel   plain kernel forwarding (no TUN): what the box does without a user-space filter
 *   c-echo   a minimal C TUN echo forwarder with the same offloads: the limit of any TUN design
 *   hafw     the hafw node (datapath thread, parse + stage per packet)
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, PACKAGE_ROOT } from '../cluster-tests/lab.js';
import { sh, spawnDetached, stopPid, sleep } from '../cluster-tests/exec.js';
import { NS, SERVER, TUN_NAME } from '../cluster-tests/topology.js';
import { checkSystemTools } from '../cluster-tests/requirements.js';
import { withRatio, type BenchResult } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC_DIR = path.join(PACKAGE_ROOT, 'bench');

interface Forwarder {
  name: string;
  start(): Promise<() => Promise<void>>;
}

async function iperf(args: string[], seconds: number): Promise<Record<string, any>> {
  const server = spawnDetached(['iperf3', '-s', '-1', '-B', SERVER.v4], { ns: NS.server, logFile: '/dev/null' });
  try {
    await sleep(300);
    const out = await sh(['iperf3', '-c', SERVER.v4, '-t', String(seconds), '-J', ...args], { ns: NS.client, timeoutMs: (seconds + 20) * 1000 });
    return JSON.parse(out) as Record<string, any>;
  } finally {
    await stopPid(server.pid!);
  }
}

async function measure(name: string, seconds: number): Promise<BenchResult[]> {
  const tcp = await iperf([], seconds);
  const tcpBps = Number(tcp.end?.sum_received?.bits_per_second ?? 0);
  // 64-byte IP packets: 20 IPv4 + 8 UDP + 36 payload. -b 0: as fast as the sender can.
  const udp = await iperf(['-u', '-l', '36', '-b', '0'], seconds);
  const sum = udp.end?.sum ?? {};
  const delivered = Number(sum.packets ?? 0) - Number(sum.lost_packets ?? 0);
  const pps = delivered / Number(sum.seconds ?? seconds);
  return [
    { name: `tcp-bulk/${name}`, value: tcpBps / 1e9, unit: 'Gbit/s' },
    { name: `udp-64B/${name}`, value: pps, unit: 'packets/s', note: `${Number(sum.lost_percent ?? 0).toFixed(1)}% lost` },
  ];
}

async function buildCForwarder(): Promise<{ bin: string; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hafw-bench-'));
  const bin = path.join(dir, 'tun-echo');
  await promisify(execFile)('cc', ['-O2', '-o', bin, path.join(SRC_DIR, 'tun-echo.c')]);
  return { bin, dir };
}

export async function runDatapathBench(opts: { seconds: number; only?: string[] }): Promise<BenchResult[]> {
  await checkSystemTools(['ip', 'iperf3', 'cc']);
  const { bin, dir } = await buildCForwarder();
  const fwNs = NS.fw('fwa');
  const forwarders: Forwarder[] = [
    {
      name: 'kernel',
      async start() {
        return async () => undefined;
      },
    },
    {
      name: 'c-echo',
      async start() {
        const child = spawnDetached([bin, TUN_NAME, String(opts.seconds * 2 + 30)], { ns: fwNs, logFile: path.join(dir, 'c-echo.log') });
        for (let i = 0; i < 50; i++) {
          if ((await sh(['ip', '-n', fwNs, 'link', 'show', TUN_NAME]).catch(() => '')).includes(TUN_NAME)) break;
          await sleep(50);
        }
        await sh([process.execPath, path.join(here, 'plumb.js'), TUN_NAME, 'lan', 'wan'], { ns: fwNs });
        return async () => {
          await stopPid(child.pid!);
          await sh(['ip', '-n', fwNs, 'rule', 'flush', 'priority', '100']).catch(() => undefined);
          await sh(['ip', '-n', fwNs, '-6', 'rule', 'flush', 'priority', '100']).catch(() => undefined);
        };
      },
    },
    {
      name: 'hafw',
      async start() {
        const lab = (await Lab.current())!;
        await lab.startNode('fwa');
        await lab.waitReady('fwa');
        return async () => {
          await lab.stopNode('fwa');
          await sh(['ip', '-n', fwNs, 'rule', 'flush', 'priority', '100']).catch(() => undefined);
          await sh(['ip', '-n', fwNs, '-6', 'rule', 'flush', 'priority', '100']).catch(() => undefined);
        };
      },
    },
  ];
  const results: BenchResult[] = [];
  try {
    await Lab.up({ nodes: 1, startNodes: false });
    for (const f of forwarders) {
      if (opts.only && !opts.only.includes(f.name)) continue;
      const stop = await f.start();
      try {
        results.push(...(await measure(f.name, opts.seconds)));
      } finally {
        await stop();
      }
    }
  } finally {
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  }
  const find = (n: string): BenchResult | undefined => results.find((r) => r.name === n);
  return results.map((r) => {
    const [kind, who] = r.name.split('/');
    if (who === 'hafw') return withRatio(r, find(`${kind}/c-echo`));
    if (who === 'c-echo') return withRatio(r, find(`${kind}/kernel`));
    return r;
  });
}
