/**
 * @lab NAT through one node: a LAN client behind SNAT reaches the server, which
 * sees the NAT address as the source; a port on the WAN side is forwarded (DNAT) to a
 * service in the client namespace. Needs root.
 *
 * The NAT addresses (198.51.100.50 and .51) are a small routed block: the server's
 * namespace routes them via the VIP 198.51.100.1, as an upstream router routes a public
 * block to a firewall. NAT to the firewall's OWN addresses (masquerade to the WAN address,
 * SNAT and DNAT on the VIP) is proven below: it needs the `local` routing table looked up
 * after the TUN steering rules (node/datapath/control/kernel-plumbing.ts), else the replies to
 * those addresses are delivered to the host stack instead of being un-NATed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab, sh, sleep } from './lab.js';
import { CLIENT, FIREWALLS, NS, SERVER, VIPS } from './topology.js';
import { ping, startEchoServer, tcpEchoOnce, udpRun } from './traffic.js';
import { runDrill } from './drill.js';

const SNAT_ADDR = '198.51.100.50';
const DNAT_ADDR = '198.51.100.51';

const RULESET = `table ip nat {
  chain pre {
    type nat hook prerouting priority dstnat;
    iifname "wan" ip daddr ${DNAT_ADDR} tcp dport 8080 dnat to ${CLIENT.v4}:5002
  }
  chain post {
    type nat hook postrouting priority srcnat;
    # Only the test flow: the lab checks plain client -> server traffic before the NAT routes exist.
    oifname "wan" ip saddr 192.0.2.0/24 udp dport 5008 snat to ${SNAT_ADDR}
  }
}
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan" accept
    ct status dnat oifname "lan" tcp dport 5002 accept
  }
}
`;

/** Waits for one UDP datagram on `port` in `ns` and prints the sender's address. */
function udpPeerOnce(port: number, ns: string): Promise<string> {
  const script = `const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => { console.log(r.address + ':' + r.port); process.exit(0); });
s.bind(${port}); setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);`;
  return sh([process.execPath, '-e', script], { ns, timeoutMs: 10000 }).then((o) => o.trim());
}

/** Sends a few datagrams to host:port from `ns`. */
function udpSend(host: string, port: number, ns: string): Promise<string> {
  const script = `const s = require('dgram').createSocket('udp4');
let n = 0; const t = setInterval(() => { s.send('x', ${port}, ${JSON.stringify(host)}); if (++n === 8) { clearInterval(t); s.close(); } }, 200);`;
  return sh([process.execPath, '-e', script], { ns, timeoutMs: 10000 });
}

/** Connects, sends a line, reads the echo. */
const tcpEcho = (host: string, port: number, ns: string): Promise<string> => tcpEchoOnce(host, port, ns);

/** Sends one datagram and prints where the answer came from and what it said. */
async function udpAsk(host: string, port: number, ns: string): Promise<string> {
  const script = `const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => { console.log(r.address + ':' + r.port + ' ' + String(m)); process.exit(0); });
const t = setInterval(() => s.send('hello-redirect', ${port}, ${JSON.stringify(host)}), 300); s.send('hello-redirect', ${port}, ${JSON.stringify(host)});
setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);`;
  return (await sh([process.execPath, '-e', script], { ns, timeoutMs: 10000 })).trim();
}

/**
 * One request from `clientNs` to host:port over TCP or UDP; the server (in the server
 * namespace) answers with the source address it saw. The answer proves both directions:
 * the server saw the translated source, and its reply to that address was translated back.
 */
async function whoAmI(proto: 'tcp' | 'udp', host: string, port: number): Promise<string> {
  const server = proto === 'tcp'
    ? `const srv = require('net').createServer((s) => { s.end(s.remoteAddress.replace(/^::ffff:/, '')); srv.close(); }).listen(${port}, '::');`
    : `const s = require('dgram').createSocket('udp6');
s.on('message', (m, r) => s.send(r.address.replace(/^::ffff:/, ''), r.port, r.address, () => { s.close(); process.exit(0); }));
s.bind(${port}, '::');`;
  const served = sh([process.execPath, '-e', `${server}\nsetTimeout(() => process.exit(0), 8000).unref();`], { ns: NS.server, timeoutMs: 12000 });
  await sleep(300);
  const client = proto === 'tcp'
    ? `const s = require('net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
let got = ''; s.on('data', (d) => { got += d; }); s.on('end', () => { console.log(got); process.exit(0); });
s.on('error', (e) => { console.log(e.code); process.exit(0); });`
    : `const s = require('dgram').createSocket(require('net').isIPv6(${JSON.stringify(host)}) ? 'udp6' : 'udp4');
s.on('message', (m) => { console.log(String(m)); process.exit(0); });
const t = setInterval(() => s.send('who', ${port}, ${JSON.stringify(host)}), 300); s.send('who', ${port}, ${JSON.stringify(host)});`;
  const out = await sh([process.execPath, '-e', `${client}\nsetTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);`], { ns: NS.client, timeoutMs: 10000 });
  await served.catch(() => undefined);
  return out.trim();
}

describe('@lab nat: SNAT and DNAT through one node', function () {
  this.timeout(120000);
  let lab: Lab;
  let dir: string;
  let stops: (() => Promise<void>)[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-nat-lab-'));
    const file = path.join(dir, 'nat.nft');
    await writeFile(file, RULESET);
    lab = await Lab.up({ nodes: 1, extraConfig: () => `ruleset:\n  file: ${file}\n` });
    for (const a of [SNAT_ADDR, DNAT_ADDR]) await sh(['ip', '-n', NS.server, 'route', 'replace', `${a}/32`, 'via', SERVER.gw4]);
    stops = [await startEchoServer(5002, NS.client)];
  });
  after(async () => {
    for (const s of stops) await s().catch(() => undefined);
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  it('a client behind SNAT reaches the server, which sees the NAT address as the source', async () => {
    const peer = udpPeerOnce(5008, NS.server);
    await sleep(300);
    await udpSend(SERVER.v4, 5008, NS.client);
    const seen = await peer;
    assert.match(seen, new RegExp(`^${SNAT_ADDR.replace(/\./g, '\\.')}:`), `server saw ${seen}`);
    const c = (await lab.status('fwa')).datapath.counters as Record<string, number>;
    assert.ok(c.nat_new >= 1, `nat_new ${c.nat_new}`);
  });

  it('forwards a WAN address:port to the service in the client namespace (DNAT), replies translated back', async () => {
    assert.equal(await tcpEcho(DNAT_ADDR, 8080, NS.server), 'echoed');
    // Another port on that address is not forwarded: the filter drops it.
    assert.equal(await tcpEcho(DNAT_ADDR, 8081, NS.server), 'timeout');
  });
});

const FWA = FIREWALLS[0]!;
const WAN_VIP4 = VIPS.find((v) => v.ifname === 'wan' && !v.addr.includes(':'))!.addr;
const WAN_VIP6 = VIPS.find((v) => v.ifname === 'wan' && v.addr.includes(':'))!.addr;

/**
 * NAT to the firewall's own addresses: masquerade (the WAN interface's own address), SNAT
 * to the WAN VIP, and a port forward on the WAN VIP. The test ports keep each case apart.
 */
const OWN_RULESET = `table ip nat {
  chain pre {
    type nat hook prerouting priority dstnat;
    iifname "wan" ip daddr ${WAN_VIP4} tcp dport 8080 dnat to ${CLIENT.v4}:5002
    iifname "lan" tcp dport 5040 redirect to :5041
    iifname "lan" udp dport 5042 redirect to :5041
    iifname "lan" tcp dport 5044 dnat to ${FWA.lan4}:5046
    iifname "lan" udp dport 5045 dnat to ${FWA.lan4}:5046
  }
  chain post {
    type nat hook postrouting priority srcnat;
    oifname "wan" ip saddr 192.0.2.0/24 meta l4proto { tcp, udp } th dport 5021 snat to ${WAN_VIP4}
    oifname "wan" ip saddr 192.0.2.0/24 masquerade
  }
}
table ip6 nat {
  chain pre {
    type nat hook prerouting priority dstnat;
    iifname "lan" tcp dport 5040 redirect to :5041
  }
  chain post {
    type nat hook postrouting priority srcnat;
    oifname "wan" ip6 saddr 2001:db8:1::/64 meta l4proto { tcp, udp } th dport 5021 snat to ${WAN_VIP6}
    oifname "wan" ip6 saddr 2001:db8:1::/64 masquerade
  }
}
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan" accept
    ct status dnat oifname "lan" tcp dport 5002 accept
  }
}
`;

describe('@lab nat: masquerade and NAT on the VIP (the node\'s own addresses)', function () {
  this.timeout(120000);
  let lab: Lab;
  let dir: string;
  let stops: (() => Promise<void>)[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-nat-own-'));
    const file = path.join(dir, 'nat-own.nft');
    await writeFile(file, OWN_RULESET);
    lab = await Lab.up({ nodes: 1, extraConfig: () => `ruleset:\n  file: ${file}\n` });
    stops = [await startEchoServer(5002, NS.client)];
  });
  after(async () => {
    for (const s of stops) await s().catch(() => undefined);
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  for (const proto of ['tcp', 'udp'] as const) {
    it(`masquerade (${proto}, IPv4): the server sees the firewall's WAN address and its replies reach the client`, async () => {
      assert.equal(await whoAmI(proto, SERVER.v4, 5020), FWA.wan4);
    });
    it(`snat to the WAN VIP (${proto}, IPv4): the server sees the VIP and its replies reach the client`, async () => {
      assert.equal(await whoAmI(proto, SERVER.v4, 5021), WAN_VIP4);
    });
    it(`snat to the WAN VIP (${proto}, IPv6): the server sees the VIP and its replies reach the client`, async () => {
      assert.equal(await whoAmI(proto, SERVER.v6, 5021), WAN_VIP6);
    });
  }

  it('masquerades fragmented UDP both ways (IPv4 and IPv6): the fragmented answers to the node\'s address are put together and translated back', async () => {
    // 4,000-byte datagrams leave the client in fragments; the echoes come back to the WAN
    // address in fragments too, which the steering rules must hand to the datapath (for
    // IPv6 the `ipproto udp` rule has to see past the fragment header).
    const stopEcho = await startEchoServer(5003, NS.server);
    try {
      for (const host of [SERVER.v4, SERVER.v6]) {
        const u = await udpRun(host, { port: 5003, count: 30, size: 4000 });
        assert.ok(u.sent === 30 && u.received >= 28, `fragmented UDP through masquerade to ${host}: ${JSON.stringify(u)}`);
      }
    } finally {
      await stopEcho();
    }
  });

  it('masquerade over IPv6 translates to an address of the WAN interface', async () => {
    // The daemon sends the node's addresses (`ip addr`) to the datapath. Without VRRP the
    // VIP here is one more address on wan, listed first by the kernel (as its own IPv6
    // source choice would take it); on a pair a held VIP always wins (the drill below).
    const seen = await whoAmI('udp', SERVER.v6, 5020);
    assert.ok([FWA.wan6, WAN_VIP6].includes(seen), `server saw ${seen}`);
  });

  it('forwards a port on the WAN VIP to the service in the client namespace (DNAT), replies translated back', async () => {
    assert.equal(await tcpEcho(WAN_VIP4, 8080, NS.server), 'echoed');
    // Another port on the VIP is the node's own (nothing listens there): the datapath hands
    // it to the kernel, which refuses it; it is not forwarded to the client.
    assert.equal(await tcpEcho(WAN_VIP4, 8081, NS.server), 'ECONNREFUSED', 'another port on the VIP is not forwarded');
  });

  it('redirects connections to a service on the node (TCP and UDP, IPv4 and IPv6); its answers come back from the address the client asked', async () => {
    const stop = await startEchoServer(5041, NS.fw('fwa'));
    try {
      assert.equal(await tcpEcho(SERVER.v4, 5040, NS.client), 'echoed', 'TCP, IPv4');
      assert.equal(await tcpEcho(SERVER.v6, 5040, NS.client), 'echoed', 'TCP, IPv6');
      assert.equal(await udpAsk(SERVER.v4, 5042, NS.client), `${SERVER.v4}:5042 hello-redirect`, 'UDP: the answer\'s source is translated back');
      // The answers took the output path: the output table sends the node's own packets
      // into the TUN device, where the connection's binding translates them back.
      const c = (await lab.status('fwa')).datapath.counters as Record<string, number>;
      assert.ok(c.from_node >= 1 && c.to_node >= 1, JSON.stringify(c));
    } finally {
      await stop();
    }
  });

  it('dnat to one of the node\'s own addresses reaches its service, whose answers come back from the address the client asked', async () => {
    const stop = await startEchoServer(5046, NS.fw('fwa'));
    try {
      assert.equal(await tcpEcho(SERVER.v4, 5044, NS.client), 'echoed', 'TCP');
      assert.equal(await udpAsk(SERVER.v4, 5045, NS.client), `${SERVER.v4}:5045 hello-redirect`, 'UDP: the answer\'s source is translated back');
    } finally {
      await stop();
    }
  });

  it('a redirect added by a transaction works at once and is gone with it (no per-port kernel rule to keep in step)', async () => {
    const stop = await startEchoServer(5051, NS.fw('fwa'));
    try {
      await lab.hafw('fwa', ['ruleset', 'apply', 'add rule ip nat pre iifname "lan" tcp dport 5050 redirect to :5051']);
      assert.equal(await tcpEcho(SERVER.v4, 5050, NS.client), 'echoed');
      await lab.hafw('fwa', ['ruleset', 'apply', 'flush chain ip nat pre']);
      assert.notEqual(await tcpEcho(SERVER.v4, 5050, NS.client), 'echoed', 'without the redirect the connection goes to the server, where nothing listens');
    } finally {
      await stop();
    }
  });

  it('the node\'s own connections through wan work under a forward policy of drop (replies are not filtered as forwarded traffic)', async () => {
    const stop = await startEchoServer(5030, NS.server);
    try {
      assert.equal(await tcpEcho(SERVER.v4, 5030, NS.fw('fwa')), 'echoed');
      const c = (await lab.status('fwa')).datapath.counters as Record<string, number>;
      assert.ok(c.from_node >= 1 && c.to_node >= 1, `the node's own connection took the output path, its replies the input path: ${JSON.stringify(c)}`);
    } finally {
      await stop();
    }
  });

  it('the node still answers on its own addresses: ping from the LAN (IPv4 and IPv6) and neighbour discovery', async () => {
    assert.ok(await ping(FWA.lan4), 'IPv4 ping to the LAN address');
    assert.ok(await ping(FWA.lan6), 'IPv6 ping to the LAN address (ICMPv6 kept local)');
    // The server forgets its neighbours: reaching the VIP again needs IPv6 neighbour
    // discovery (multicast NS on wan) answered by the node.
    await sh(['ip', '-n', NS.server, '-6', 'neigh', 'flush', 'all']);
    assert.equal(await whoAmI('tcp', SERVER.v6, 5021), WAN_VIP6, 'IPv6 through the VIP after a neighbour flush');
  });

  it('the local table is looked up after the steering of the listed protocols and before the catch-all (no priority 0)', async () => {
    for (const fam of ['-4', '-6']) {
      const rules = await sh(['ip', '-n', NS.fw('fwa'), fam, 'rule', 'show']);
      assert.doesNotMatch(rules, /^0:\s+from all lookup local/m, rules);
      // wan's own input table (datapath.inputDevices per-interface: routeTable + 2 + 1).
      assert.match(rules, /^97:\s+from all iif wan ipproto tcp lookup 103/m, rules);
      assert.match(rules, /^100:\s+from all lookup local/m, rules);
      assert.match(rules, /^101:\s+from all iif wan lookup 103/m, rules);
    }
    // ARP for the VIP still answered: the client forgets its gateway and reaches the server.
    await sh(['ip', '-n', NS.client, 'neigh', 'flush', 'all']);
    assert.ok(await ping(SERVER.v4), 'IPv4 through the VIP after an ARP flush');
  });
});

/**
 * On a pair the NAT address must move with the master: SNAT to the WAN VIP (or to an
 * address routed via the VIP), never masquerade, which picks the node's own WAN address
 * (docs/nat.md "On an active/standby pair").
 */
const PAIR_RULESET = `table ip nat {
  chain post {
    type nat hook postrouting priority srcnat;
    oifname "wan" ip saddr 192.0.2.0/24 meta l4proto { tcp, udp } th dport { 5001, 5008 } snat to ${WAN_VIP4}
  }
}
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ct state invalid drop
    iifname "lan" ct state new accept
  }
}
`;

/**
 * masquerade on a pair: the translated source must be the WAN VIP (held by the master), so
 * the connection survives a failover like the SNAT-to-VIP flows. The daemon sends the
 * node's addresses with the VIPs it holds flagged; NatState prefers a held VIP.
 */
const MASQ_PAIR_RULESET = PAIR_RULESET.replace(`snat to ${WAN_VIP4}`, 'masquerade');

for (const form of [
  { name: 'SNATed to the WAN VIP', ruleset: PAIR_RULESET, tmp: 'hafw-nat-pair-' },
  { name: 'masqueraded (masquerade follows the VIP)', ruleset: MASQ_PAIR_RULESET, tmp: 'hafw-nat-masq-pair-' },
]) {
  describe(`@lab nat: flows ${form.name} survive a failover of the pair`, function () {
    this.timeout(180000);
    let lab: Lab;
    let dir: string;

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), form.tmp));
      const file = path.join(dir, 'nat-pair.nft');
      await writeFile(file, form.ruleset);
      lab = await Lab.up({ nodes: 2, extraConfig: () => `ruleset:\n  file: ${file}\n` });
      await lab.waitRole('fwa', 'master');
      await lab.waitRole('fwb', 'backup');
    });
    after(async () => {
      await Lab.down();
      await rm(dir, { recursive: true, force: true });
    });

    it('the server sees the WAN VIP, and 50 of 50 TCP flows keep running after the master is killed (the VIP moves with its bindings)', async () => {
      // The same rule translates the drill's TCP flows (port 5001): the server sees the VIP.
      assert.equal(await whoAmI('udp', SERVER.v4, 5008), WAN_VIP4);
      // Without the replicated binding the new master would see the server's replies to the
      // VIP as new connections from the WAN (policy drop) and every flow would stall; without
      // the moved local rule it would deliver them to its own host stack.
      const { report, newMaster } = await runDrill(lab, { mode: 'kill', flows: 50, durationMs: 3000 });
      assert.equal(newMaster, 'fwb');
      assert.equal(report.survived, 50, JSON.stringify(report.per_flow.filter((f) => !f.survived)));
      const c = (await lab.status('fwb')).datapath.counters as Record<string, number>;
      assert.equal(c.nat_new, 0, 'the new master made no new bindings: it translated from the replicated ones');
    });
  });
}
