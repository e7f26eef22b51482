/**
 * @lab connection tracking on one node with a typical stateful ruleset
 * (established/related accept, invalid drop, new from the LAN accept, policy drop):
 * client -> server connections work in both families; a connection the node does not
 * know (its table emptied by a restart) cannot carry on mid-stream (strict tracking: the
 * packets are invalid and dropped), while a fresh connection works again; with
 * `conntrack.tcpLoose: true` the same restart does not break it (the control: the drops
 * are conntrack's strictness, not the restart). Needs root.
 */
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { Lab, strictRulesetConfig } from './lab.js';
import { ClientAgent } from './client-agent.js';
import { NS, SERVER } from './topology.js';
import { startEchoServer, tcpRun, udpRun } from './traffic.js';

/**
 * One long-lived TCP connection from the client to the echo server. Each line written
 * to it is sent on the connection; it answers {"echo": true} when the bytes came back
 * within 1.5 s, {"echo": false} otherwise. The connection stays open in between.
 */
const HOLDER = `const net = require('net'); const rl = require('readline').createInterface({ input: process.stdin });
const s = net.connect({ host: process.argv[1], port: Number(process.argv[2]) });
let want = 0, got = 0, timer = null;
s.on('connect', () => console.log(JSON.stringify({ connected: true })));
s.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); process.exit(0); });
s.on('data', (d) => { got += d.length; if (timer && got >= want) { clearTimeout(timer); timer = null; console.log(JSON.stringify({ echo: true })); } });
rl.on('line', (l) => { if (l === 'quit') { s.destroy(); process.exit(0); } want += l.length; s.write(l);
  timer = setTimeout(() => { timer = null; console.log(JSON.stringify({ echo: false })); }, 1500); });
setTimeout(() => process.exit(0), 60000);`;

class HeldConnection {
  private readonly agent: ClientAgent;

  constructor(host: string, port: number) {
    this.agent = new ClientAgent(HOLDER, [host, String(port)], 'held connection');
  }

  async connected(): Promise<boolean> {
    return (await this.agent.next()).connected === true;
  }

  /** Sends a line on the connection; true when it was echoed back. */
  async echo(text: string): Promise<boolean> {
    this.agent.send(text);
    return (await this.agent.next()).echo === true;
  }

  close(): void {
    this.agent.close();
  }
}

interface Counters {
  verdict_drop: number;
  ct_invalid: number;
  ct_entries: number;
}

describe('@lab conntrack: a strict stateful filter on one node', function () {
  this.timeout(120000);
  let lab: Lab;
  let stopEcho: (() => Promise<void>) | undefined;
  const counters = async (): Promise<Counters> => (await lab.status('fwa')).datapath.counters as unknown as Counters;

  before(async () => {
    const ruleset = await strictRulesetConfig();
    lab = await Lab.up({ nodes: 1, extraConfig: () => ruleset });
    await lab.waitTraffic();
    stopEcho = await startEchoServer(5001, NS.server);
  });
  after(async () => {
    await stopEcho?.().catch(() => undefined);
    await Lab.down();
  });

  it('lets client -> server connections through, IPv4 and IPv6, TCP and UDP, and tracks them', async () => {
    for (const host of [SERVER.v4, SERVER.v6]) {
      const t = await tcpRun(host, { bytes: 500_000, flows: 2 });
      assert.equal(t.ok, 2, `TCP to ${host}: ${JSON.stringify(t)}`);
      const u = await udpRun(host, { count: 100 });
      assert.ok(u.received >= u.sent * 0.95, `UDP to ${host}: ${JSON.stringify(u)}`);
    }
    const count = JSON.parse(await lab.hafw('fwa', ['ct', 'count', '--json'])) as { total: number; local: number };
    // 4 TCP connections (closing, still in the table) and 2 UDP flows at least.
    assert.ok(count.total >= 6, `connections tracked: ${JSON.stringify(count)}`);
  });

  it('passes fragmented UDP datagrams both ways, judged and tracked as whole datagrams, IPv4 and IPv6', async () => {
    // 4,000-byte datagrams on 1,500-byte links: the client's kernel sends each in three
    // fragments and the echo server's answer comes back the same way. Judged one by one the
    // fragments would be invalid, which this ruleset drops.
    const before = (await lab.status('fwa')).datapath.counters as Record<string, number>;
    for (const host of [SERVER.v4, SERVER.v6]) {
      const u = await udpRun(host, { count: 50, size: 4000 });
      assert.ok(u.sent === 50 && u.received >= 48, `fragmented UDP to ${host}: ${JSON.stringify(u)}`);
    }
    const after = (await lab.status('fwa')).datapath.counters as Record<string, number>;
    const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    assert.ok(delta('frag_reassembled') >= 2 * 2 * 48, `datagrams reassembled: ${delta('frag_reassembled')}`);
    assert.ok(delta('frag_forwarded') >= 3 * delta('frag_reassembled'), `fragments forwarded: ${delta('frag_forwarded')}`);
    assert.equal(delta('ct_invalid'), 0, 'no fragment was judged on its own');
    assert.equal(after.frag_held_bytes, 0, 'nothing is left half put together');
  });

  it('drops mid-stream packets of a connection the node does not know, and a new connection works', async () => {
    const held = new HeldConnection(SERVER.v4, 5001);
    try {
      assert.ok(await held.connected(), 'the held connection opens through the node');
      assert.ok(await held.echo('before the restart'), 'data flows while the node knows the connection');

      // Restart the node: its connection table starts empty (no state sync in this lab).
      await lab.stopNode('fwa');
      await lab.startNode('fwa');
      await lab.waitReady('fwa');
      await lab.waitTraffic();
      const before = await counters();

      // The client's next segment is mid-stream for the node: invalid, dropped; the
      // retransmissions too. Nothing comes back.
      assert.equal(await held.echo('after the restart'), false, 'a connection unknown to the node must not carry on');
      const after = await counters();
      assert.ok(after.ct_invalid > before.ct_invalid, `conntrack counted invalid packets: ${before.ct_invalid} -> ${after.ct_invalid}`);
      assert.ok(after.verdict_drop > before.verdict_drop, `the node dropped them: ${before.verdict_drop} -> ${after.verdict_drop}`);
    } finally {
      held.close();
    }

    // Strictness is about unknown mid-stream traffic only: a new connection is fine.
    const t = await tcpRun(SERVER.v4, { bytes: 100_000 });
    assert.equal(t.ok, 1, `a fresh TCP connection after the restart: ${JSON.stringify(t)}`);
  });

  it('with tcpLoose the node picks the unknown connection up mid-stream and it carries on', async () => {
    // Last test of the file: it changes the node's config for good.
    await appendFile(lab.node('fwa').configFile, 'conntrack:\n  tcpLoose: true\n');
    await lab.stopNode('fwa');
    await lab.startNode('fwa');
    await lab.waitReady('fwa');
    const held = new HeldConnection(SERVER.v6, 5001);
    try {
      assert.ok(await held.connected(), 'the held connection opens through the node');
      assert.ok(await held.echo('before the restart'));
      await lab.stopNode('fwa');
      await lab.startNode('fwa');
      await lab.waitReady('fwa');
      await lab.waitTraffic();
      // The client's segment is new (picked up), the server's answer established; the
      // ruleset lets a new packet from the LAN through, so the connection continues.
      assert.equal(await held.echo('after the restart'), true, 'loose pickup keeps the connection alive across an empty table');
    } finally {
      held.close();
    }
  });
});
