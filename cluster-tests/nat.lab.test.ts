/**
 * @lab NAT (issue 7) through one node: a LAN client behind SNAT reaches the server, which
 * sees the NAT address as the source; a port on the WAN side is forwarded (DNAT) to a
 * service in the client namespace. Needs root.
 *
 * The NAT addresses (198.51.100.50 and .51) are a small routed block: the server's
 * namespace routes them via the VIP 198.51.100.1, as an upstream router routes a public
 * block to a firewall. NAT to the firewall's own addresses (masquerade, SNAT to the VIP
 * itself) needs a kernel plumbing change not made yet (docs/nat.md, Limits): packets
 * to a local address are delivered to the host before the TUN steering rules.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab, sh, sleep } from './lab.js';
import { CLIENT, NS, SERVER } from './topology.js';
import { startEchoServer } from './traffic.js';
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
async function tcpEcho(host: string, port: number, ns: string): Promise<string> {
  const script = `const net = require('net');
const s = net.connect({ host: ${JSON.stringify(host)}, port: ${port} });
let got = ''; s.on('connect', () => s.write('hello-nat'));
s.on('data', (d) => { got += d; if (got.includes('hello-nat')) { console.log('echoed'); process.exit(0); } });
s.on('error', (e) => { console.log(e.code); process.exit(0); });
setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);`;
  return (await sh([process.execPath, '-e', script], { ns, timeoutMs: 10000 })).trim();
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

/**
 * On a pair the NAT address must move with the master: SNAT to an address routed via the
 * VIP (or to the VIP itself once the plumbing allows it), never masquerade, which picks
 * the node's own WAN address (docs/nat.md "On an active/standby pair").
 */
const PAIR_RULESET = `table ip nat {
  chain post {
    type nat hook postrouting priority srcnat;
    oifname "wan" ip saddr 192.0.2.0/24 meta l4proto { tcp, udp } th dport { 5001, 5008 } snat to ${SNAT_ADDR}
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

describe('@lab nat: SNATed long-lived TCP flows survive a failover of the pair', function () {
  this.timeout(180000);
  let lab: Lab;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-nat-pair-'));
    const file = path.join(dir, 'nat-pair.nft');
    await writeFile(file, PAIR_RULESET);
    lab = await Lab.up({ nodes: 2, extraConfig: () => `ruleset:\n  file: ${file}\n` });
    await sh(['ip', '-n', NS.server, 'route', 'replace', `${SNAT_ADDR}/32`, 'via', SERVER.gw4]);
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
  });
  after(async () => {
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  it('50 of 50 SNATed flows keep running after the master is killed (binding replicated with the entry)', async () => {
    // The same rule translates the drill's TCP flows (port 5001): the server sees the NAT address.
    const peer = udpPeerOnce(5008, NS.server);
    await sleep(300);
    await udpSend(SERVER.v4, 5008, NS.client);
    assert.match(await peer, new RegExp(`^${SNAT_ADDR.replace(/\./g, '\\.')}:`));
    // Without the replicated binding the new master would see the server's replies to the
    // NAT address as new connections from the WAN (policy drop) and every flow would stall.
    const { report, newMaster } = await runDrill(lab, { mode: 'kill', flows: 50, durationMs: 3000 });
    assert.equal(newMaster, 'fwb');
    assert.equal(report.survived, 50, JSON.stringify(report.per_flow.filter((f) => !f.survived)));
    const c = (await lab.status('fwb')).datapath.counters as Record<string, number>;
    assert.equal(c.nat_new, 0, 'the new master made no new bindings: it translated from the replicated ones');
  });
});
