/**
 * The kernel's nftables as a reference for verdicts and NAT. Run inside a namespace made for
 * it (cluster-tests/kernel-nft.ts does that):
 *   node nft-oracle.js RULESET_FILE PACKETS_FILE OUT_DIR
 * Two TUN devices stand for the firewall's interfaces, named as hafw's lab names them:
 * `lan` (192.0.2.1/24, 2001:db8:1::1/64) and `wan` (198.51.100.1/24, 2001:db8:2::1/64, and
 * routes to 203.0.113.0/24 and 2001:db8:3::/64). The ruleset is loaded with `nft -f`; its
 * listings (`nft list ruleset`, `nft -j list ruleset`) are written to OUT_DIR/listing.nft
 * and OUT_DIR/listing.json. PACKETS_FILE holds one IP packet a line, in hex; each is written
 * into the device its source lives behind, and whatever the kernel then sends out of either
 * device (the packet forwarded, maybe NATed; a reject's answer) is collected. One JSON
 * object a line: {"i": n, "out": [{"dev": "lan"|"wan", "hex": "..."}]}.
 *
 * Netfilter runs synchronously in the TUN write (tun_get_user -> netif_receive_skb), and the
 * devices have no queueing discipline, so a packet's results are in the devices' queues when
 * the write returns; the short poll after it only guards against a softirq deferral.
 */
import { readFileSync, readSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { openTun, native, type TunDevice } from '../../node/native/index.js';

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
}

function sysctl(key: string, value: string): void {
  writeFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, value);
}

const [rulesetFile, packetsFile, outDir] = process.argv.slice(2);
if (!rulesetFile || !packetsFile || !outDir) {
  console.error('usage: nft-oracle.js RULESET_FILE PACKETS_FILE OUT_DIR');
  process.exit(2);
}
const packets = readFileSync(packetsFile, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => Buffer.from(l.trim(), 'hex'));

// No offloads: every packet is written exactly as crafted, and its checksums are the
// kernel's to check (CHECKSUM_NONE), as for a packet from a NIC that did not verify them.
const devs: Record<'lan' | 'wan', TunDevice> = { lan: openTun('lan', false), wan: openTun('wan', false) };
sysctl('net.ipv4.conf.all.rp_filter', '0');
sysctl('net.ipv4.ip_forward', '1');
sysctl('net.ipv6.conf.all.forwarding', '1');
for (const dev of ['lan', 'wan']) {
  sysctl(`net.ipv6.conf.${dev}.accept_ra`, '0');
  sysctl(`net.ipv6.conf.${dev}.router_solicitations`, '0');
  sh('ip', ['link', 'set', dev, 'up']);
  sh('tc', ['qdisc', 'replace', 'dev', dev, 'root', 'noqueue']);
  sysctl(`net.ipv4.conf.${dev}.rp_filter`, '0');
}
sh('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'lan']);
sh('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'wan']);
sh('ip', ['-6', 'addr', 'add', '2001:db8:1::1/64', 'dev', 'lan', 'nodad']);
sh('ip', ['-6', 'addr', 'add', '2001:db8:2::1/64', 'dev', 'wan', 'nodad']);
sh('ip', ['route', 'add', '203.0.113.0/24', 'dev', 'wan']);
sh('ip', ['-6', 'route', 'add', '2001:db8:3::/64', 'dev', 'wan']);

sh('nft', ['-f', rulesetFile]);
// hafw's defaults, where the kernel's differ: strict TCP pickup (conntrack.tcpLoose false);
// no per-destination ICMP rate limit (hafw has only the node-wide one, icmp_msgs_per_sec),
// which would otherwise silence the seventh reject to one client within a second.
// Loading a ruleset with ct or nat expressions has loaded nf_conntrack by now.
sysctl('net.netfilter.nf_conntrack_tcp_loose', '0');
sysctl('net.ipv4.icmp_ratelimit', '0');
sysctl('net.ipv6.icmp.ratelimit', '0');
writeFileSync(path.join(outDir, 'listing.nft'), sh('nft', ['list', 'ruleset']));
writeFileSync(path.join(outDir, 'listing.json'), sh('nft', ['-j', 'list', 'ruleset']));

const buf = Buffer.alloc(65536 + 10);

/** The packets waiting in a device's queue (without their virtio header), ignoring the kernel's own chatter. */
function drain(dev: TunDevice): Buffer[] {
  const out: Buffer[] = [];
  for (;;) {
    let n: number;
    try {
      n = readSync(dev.fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return out;
      throw err;
    }
    const p = Buffer.from(buf.subarray(dev.vnetHdrLen, n));
    if (!ownChatter(p)) out.push(p);
  }
}

/** IPv6 neighbour/router discovery and MLD the kernel sends by itself on link-up. */
function ownChatter(p: Buffer): boolean {
  return p[0]! >> 4 === 6 && (p[24] === 0xff || (p[8] === 0xfe && (p[9]! & 0xc0) === 0x80));
}

function clientSide(p: Buffer): boolean {
  if (p[0]! >> 4 === 4) return p[12] === 192 && p[13] === 0 && p[14] === 2;
  return p.readUInt32BE(8) === 0x20010db8 && p.readUInt32BE(12) === 0x00010000;
}

const sleepMs = (ms: number): void => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms) as unknown as void;

sleepMs(20);
drain(devs.lan);
drain(devs.wan);
const vnet = Buffer.alloc(10);
packets.forEach((p, i) => {
  const frame = Buffer.concat([vnet, p]);
  native().writePacket((clientSide(p) ? devs.lan : devs.wan).fd, frame, 0, frame.length);
  const out: { dev: string; hex: string }[] = [];
  // Three quiet polls in a row after the write: the answer is complete.
  for (let quiet = 0; quiet < 3; ) {
    const got = [...drain(devs.lan).map((b) => ({ dev: 'lan', hex: b.toString('hex') })), ...drain(devs.wan).map((b) => ({ dev: 'wan', hex: b.toString('hex') }))];
    if (got.length === 0) quiet++;
    else out.push(...got);
    sleepMs(1);
  }
  console.log(JSON.stringify({ i: i + 1, out }));
});
