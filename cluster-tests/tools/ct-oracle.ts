/**
 * The kernel as a reference for connection-tracking verdicts. Run inside a namespace made
 * for it (cluster-tests/kernel-conntrack.ts does that):
 *   node ct-oracle.js PACKETS_FILE [--loose]
 * PACKETS_FILE holds one IP packet a line, in hex. Each packet is written into one of two
 * TUN devices by its source (client side 192.0.2.0/24, 2001:db8:1::/64 -> ct0; the rest ->
 * ct1); the kernel routes it to the other one, so conntrack sees a forwarded flow in both
 * directions and confirms entries as for real traffic. nftables counting rules after
 * conntrack (prerouting, priority 0) tell which `ct state` the kernel gave each packet; the
 * tool prints one JSON object a line: {"i": n, "ct": "new"|"established"|"related"|"invalid"|"untracked"|"none"}.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { openTun, native } from '../../node/native/index.js';

const STATES = ['new', 'established', 'related', 'invalid', 'untracked'] as const;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

function sysctl(key: string, value: string): void {
  writeFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, value);
}

const [file, ...flags] = process.argv.slice(2);
if (!file) {
  console.error('usage: ct-oracle.js PACKETS_FILE [--loose]');
  process.exit(2);
}
const packets = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => Buffer.from(l.trim(), 'hex'));

// No offloads: every packet is written exactly as crafted.
const tun0 = openTun('ct0', false);
const tun1 = openTun('ct1', false);
for (const dev of ['ct0', 'ct1']) {
  sh('ip', ['link', 'set', dev, 'up']);
  sysctl(`net.ipv4.conf.${dev}.rp_filter`, '0');
  sysctl(`net.ipv6.conf.${dev}.accept_ra`, '0');
}
sysctl('net.ipv4.conf.all.rp_filter', '0');
sysctl('net.ipv4.ip_forward', '1');
sysctl('net.ipv6.conf.all.forwarding', '1');
sysctl('net.netfilter.nf_conntrack_tcp_loose', flags.includes('--loose') ? '1' : '0');
sh('ip', ['route', 'add', '192.0.2.0/24', 'dev', 'ct0']);
sh('ip', ['route', 'add', '198.51.100.0/24', 'dev', 'ct1']);
sh('ip', ['-6', 'route', 'add', '2001:db8:1::/64', 'dev', 'ct0']);
sh('ip', ['-6', 'route', 'add', '2001:db8:2::/64', 'dev', 'ct1']);
// Neighbour resolution is not needed on TUN (no link layer), so forwarding is immediate.

const rules = STATES.map((s) => `    ct state ${s} counter`).join('\n');
const ruleset = `table inet oracle {\n  chain pre {\n    type filter hook prerouting priority 0; policy accept;\n${rules}\n  }\n}\n`;
execFileSync('nft', ['-f', '-'], { input: ruleset });

function counters(): number[] {
  const json = JSON.parse(sh('nft', ['-j', 'list', 'chain', 'inet', 'oracle', 'pre'])) as { nftables: Record<string, any>[] };
  const out: number[] = [];
  for (const item of json.nftables) {
    if (!item.rule) continue;
    const counter = item.rule.expr.find((e: Record<string, unknown>) => 'counter' in e);
    out.push(Number(counter.counter.packets));
  }
  return out;
}

function clientSide(p: Buffer): boolean {
  const v = p[0]! >> 4;
  if (v === 4) return p[12] === 192 && p[13] === 0 && p[14] === 2;
  // 2001:db8:1::/64
  return p.readUInt32BE(8) === 0x20010db8 && p.readUInt32BE(12) === 0x00010000 && p.readUInt32BE(16) === 0;
}

const vnet = Buffer.alloc(10);
let last = counters();
packets.forEach((p, i) => {
  const frame = Buffer.concat([vnet, p]);
  const dev = clientSide(p) ? tun0 : tun1;
  native().writePacket(dev.fd, frame, 0, frame.length);
  // Netfilter runs synchronously in the write path (netif_rx -> softirq soon after); give
  // it a moment, then read which counter moved.
  let now = counters();
  for (let tries = 0; tries < 20 && now.every((v, k) => v === last[k]); tries++) {
    execFileSync('sleep', ['0.002']);
    now = counters();
  }
  const moved = now.findIndex((v, k) => v !== last[k]);
  console.log(JSON.stringify({ i: i + 1, ct: moved < 0 ? 'none' : STATES[moved] }));
  last = now;
});
