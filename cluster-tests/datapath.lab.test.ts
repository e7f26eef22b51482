/**
 * @lab: real namespaces, a real TUN device, real kernel routing. Needs root.
 */
import assert from 'node:assert/strict';
import { Lab, sh } from './lab.js';
import { CLIENT, NS, SERVER } from './topology.js';
import { ping, startEchoServer, tcpRun, udpRun } from './traffic.js';
import { isAlive } from './exec.js';

describe('@lab datapath: one node forwarding through its TUN device', function () {
  this.timeout(120000);
  let lab: Lab;
  before(async () => {
    lab = await Lab.up({ nodes: 1 });
  });
  after(async () => {
    await Lab.down();
  });

  it('forwards TCP and UDP over IPv4 and IPv6 in both directions, TCP as super-packets larger than the MTU', async () => {
    const stopServerSide = await startEchoServer(5001, NS.server);
    const stopClientSide = await startEchoServer(5002, NS.client);
    try {
      const before = (await lab.status('fwa')).datapath.counters;
      const results = [
        await tcpRun(SERVER.v4, { bytes: 8_000_000, flows: 2 }),
        await tcpRun(SERVER.v6, { bytes: 8_000_000, flows: 2 }),
        // Connections opened from the server side towards the client.
        await tcpRun(CLIENT.v4, { bytes: 2_000_000, port: 5002, ns: NS.server }),
        await tcpRun(CLIENT.v6, { bytes: 2_000_000, port: 5002, ns: NS.server }),
      ];
      for (const r of results) assert.equal(r.ok, r.flows, `TCP flow failed: ${JSON.stringify(r)}`);
      const udps = [
        await udpRun(SERVER.v4, { count: 1000 }),
        await udpRun(SERVER.v6, { count: 1000 }),
        await udpRun(CLIENT.v4, { count: 500, port: 5002, ns: NS.server }),
      ];
      // UDP may lose to socket buffers on a busy 2-core box, never most of it.
      for (const u of udps) assert.ok(u.received >= u.sent * 0.95, `UDP lost too much: ${JSON.stringify(u)}`);

      const c = (await lab.status('fwa')).datapath.counters;
      const rx = c.rx_packets - before.rx_packets;
      const echoedBytes = results.reduce((s, r) => s + r.bytesEchoed, 0) * 2;
      assert.ok(c.rx_bytes - before.rx_bytes >= echoedBytes, 'every payload byte crossed the TUN device (both directions)');
      assert.equal(c.tx_packets, c.verdict_accept, 'pass-through stage forwards what it accepts');
      assert.equal(c.malformed, 0);
      assert.ok(c.gso_packets > 0, 'TCP super-packets were handed to the filter');
      assert.ok(c.max_packet_bytes > 1500, `largest packet ${c.max_packet_bytes} B is larger than the MTU`);
      assert.ok(c.rx_segments > rx, 'super-packets stand for more wire segments than packets read');
    } finally {
      await stopServerSide();
      await stopClientSide();
    }
  });

  it('hafw status in the node namespace reports counters, as text and JSON', async () => {
    const text = await lab.hafw('fwa', ['status']);
    assert.match(text, /^node fwa {2}role standalone/m);
    assert.match(text, /super-packets [\d,]+/);
    const json = JSON.parse(await lab.hafw('fwa', ['status', '--json'])) as { node: string; datapath: { tun: string } };
    assert.equal(json.node, 'fwa');
    assert.equal(json.datapath.tun, 'hafw0');
  });

  it('serves Prometheus metrics with the datapath counters', async () => {
    const text = await lab.hafw('fwa', ['metrics']);
    const rx = /^hafw_datapath_packets_total\{direction="rx",node="fwa"\} (\d+)$/m.exec(text);
    assert.ok(rx, 'rx packet counter present');
    assert.ok(Number(rx[1]) > 0);
    assert.match(text, /^# TYPE hafw_datapath_verdicts_total counter$/m);
    assert.match(text, /^hafw_process_resident_memory_bytes\{node="fwa"\} \d+/m);
  });

  it('fails closed when the node is killed, and lab down leaves nothing behind', async () => {
    assert.ok(await ping(SERVER.v4), 'traffic flows while the node runs');
    const pid = lab.node('fwa').pid;
    await lab.stopNode('fwa', 'SIGKILL');
    assert.equal(isAlive(pid), false);
    const links = await sh(['ip', '-n', NS.fw('fwa'), 'link', 'show']);
    assert.doesNotMatch(links, /hafw0/, 'the TUN device went away with the process');
    assert.equal(await ping(SERVER.v4), false, 'traffic is blackholed, not forwarded around the filter');
    await Lab.down();
    const namespaces = await sh(['ip', 'netns', 'list']);
    assert.doesNotMatch(namespaces, /hafw-/);
    const procs = await sh(['ps', '-eo', 'pid,args']);
    assert.doesNotMatch(procs, /hafw\.js node/);
  });
});
