/**
 * @lab the input and output chains filter traffic to and from the firewall itself, as
 * in nftables, on IPv4 and IPv6; the node's own segments (sync) are never filtered; a
 * killed node leaves no open box and no lock-out (only the management sources get in).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab, sh } from './lab.js';
import { CLIENT, FIREWALLS, NS, SERVER } from './topology.js';
import { ping, startEchoServer, tcpEchoOnce } from './traffic.js';

const FWA = FIREWALLS[0]!;
/** The client's IPv6 address is the management source: the way in while the node is down. */
const MGMT_SOURCE = `${CLIENT.v6}/128`;

const RULESET = `table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    ct state invalid drop
    tcp dport 5022 accept
    ip protocol icmp accept
  }
  chain output {
    type filter hook output priority 0; policy drop;
    ct state established,related accept
    tcp dport 5030 accept
    ip protocol icmp accept
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
  }
}
`;

/** TCP: 'echoed', an error code, or 'timeout' (dropped) within 2 s. */
const tcpEcho = (host: string, port: number, ns: string): Promise<string> => tcpEchoOnce(host, port, ns, 2000);

/** UDP: one datagram (resent every 200 ms), 'answered' when the echo comes back, else 'timeout'. */
async function udpEcho(host: string, port: number, ns: string, timeoutMs = 1500): Promise<string> {
  const js = `const s = require('dgram').createSocket(require('net').isIPv6(${JSON.stringify(host)}) ? 'udp6' : 'udp4');
s.on('message', () => { console.log('answered'); process.exit(0); });
const send = () => s.send('x', ${port}, ${JSON.stringify(host)}); send(); setInterval(send, 200);
setTimeout(() => { console.log('timeout'); process.exit(0); }, ${timeoutMs});`;
  return (await sh([process.execPath, '-e', js], { ns, timeoutMs: timeoutMs + 5000 })).trim();
}

describe('@lab input and output chains: the node protects itself', function () {
  this.timeout(180000);
  let lab: Lab;
  let dir: string;
  const stops: (() => Promise<void>)[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-local-lab-'));
    const file = path.join(dir, 'local.nft');
    await writeFile(file, RULESET);
    lab = await Lab.up({ nodes: 1, extraConfig: () => `ruleset:\n  file: ${file}\n`, datapath: [`managementSources: ["${MGMT_SOURCE}"]`] });
    // Services on the firewall (allowed and not), and on the server for its own connections.
    for (const port of [5022, 5023]) stops.push(await startEchoServer(port, NS.fw('fwa')));
    for (const port of [5030, 5031]) stops.push(await startEchoServer(port, NS.server));
  });
  after(async () => {
    for (const s of stops) await s().catch(() => undefined);
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  it('input: the allowed port answers and the others are dropped, on every address of the node (IPv4, IPv6, the VIP)', async () => {
    assert.equal(await tcpEcho(FWA.lan4, 5022, NS.client), 'echoed');
    assert.equal(await tcpEcho(FWA.lan6, 5022, NS.client), 'echoed');
    assert.equal(await tcpEcho(CLIENT.gw4, 5022, NS.client), 'echoed', 'the LAN VIP');
    assert.equal(await tcpEcho(FWA.wan4, 5022, NS.server), 'echoed');
    // policy drop: no RST, no ICMP; the connection attempt times out.
    assert.equal(await tcpEcho(FWA.lan4, 5023, NS.client), 'timeout');
    assert.equal(await tcpEcho(FWA.lan6, 5023, NS.client), 'timeout');
    assert.equal(await tcpEcho(FWA.wan6, 5023, NS.server), 'timeout');
    assert.equal(await udpEcho(FWA.lan4, 5023, NS.client), 'timeout');
    assert.equal(await udpEcho(FWA.lan6, 5023, NS.client), 'timeout');
    assert.ok(await ping(FWA.lan4), 'ICMP allowed by the input chain');
  });

  it('output: the node\'s own connections meet the output chain (allowed port out, the others dropped), IPv4 and IPv6', async () => {
    assert.equal(await tcpEcho(SERVER.v4, 5030, NS.fw('fwa')), 'echoed');
    assert.equal(await tcpEcho(SERVER.v6, 5030, NS.fw('fwa')), 'echoed');
    const blocked = await tcpEcho(SERVER.v4, 5031, NS.fw('fwa'));
    assert.equal(blocked, 'timeout');
    assert.equal(await tcpEcho(SERVER.v6, 5031, NS.fw('fwa')), 'timeout');
    assert.equal(await udpEcho(SERVER.v4, 5030, NS.fw('fwa')), 'timeout', 'UDP is not allowed out');
  });

  it('forwarded traffic is judged by the forward chain only (accept here), whatever input and output say', async () => {
    assert.equal(await tcpEcho(SERVER.v4, 5031, NS.client), 'echoed');
    assert.equal(await udpEcho(SERVER.v6, 5031, NS.client), 'answered');
  });

  it('the node\'s connections are tracked as its own (to-node / from-node) and counted on their paths', async () => {
    assert.equal(await tcpEcho(FWA.lan4, 5022, NS.client), 'echoed');
    const list = await lab.hafw('fwa', ['ct', 'list', '--json']);
    const entries = (JSON.parse(list) as { entries: { status: string[]; original: { dst: string; dport?: number } }[] }).entries;
    assert.ok(entries.some((e) => e.status.includes('to-node') && e.original.dport === 5022), list.slice(0, 2000));
    const c = (await lab.status('fwa')).datapath.counters as Record<string, number>;
    assert.ok(c.to_node > 0 && c.from_node > 0 && c.forwarded > 0, JSON.stringify(c));
  });

  it('neighbour discovery and ARP keep working under input policy drop (kept by the kernel)', async () => {
    await sh(['ip', '-n', NS.client, 'neigh', 'flush', 'all']);
    assert.equal(await tcpEcho(FWA.lan6, 5022, NS.client), 'echoed', 'IPv6 after a neighbour flush');
    assert.equal(await tcpEcho(FWA.lan4, 5022, NS.client), 'echoed', 'IPv4 after an ARP flush');
  });

  it('killed: nothing gets in or through but the management source (no open box, no lock-out)', async () => {
    await lab.stopNode('fwa', 'SIGKILL');
    // The first answer is the positive point: port 5023 is closed by the input chain of a
    // running node, so an echo shows the node's filter gone before the drops are checked.
    assert.equal(await tcpEcho(FWA.lan6, 5023, NS.client), 'echoed', 'the management source reaches the node, any port (the input chain is gone with the node)');
    assert.equal(await tcpEcho(FWA.lan4, 5022, NS.client), 'timeout', 'other sources are dropped');
    assert.equal(await tcpEcho(FWA.wan6, 5022, NS.server), 'timeout');
    assert.equal(await tcpEcho(SERVER.v4, 5031, NS.client), 'timeout', 'forwarded traffic is blackholed');
    assert.ok(!(await ping(FWA.lan4)), 'ICMP to the node is dropped too');
  });
});
