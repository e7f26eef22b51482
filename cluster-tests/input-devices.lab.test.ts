/**
 * @lab: the real input interface (datapath.inputDevices: per-interface, the default). The
 * server sends from LAN addresses it adds to its own interface (spoofed sources: they come
 * in by the firewall's wan, though the route back to them is lan). With one TUN device per
 * interface the datapath knows they came in by wan: `iifname "lan"` does not match them and
 * `fib saddr . iif oif missing drop` (strict reverse path) drops them, while the legitimate
 * packets pass; IPv4 and IPv6. Then a crash and a restart in shared mode: the per-interface
 * devices, rules and tables are gone, and the reverse-path rule is refused with the reason.
 * Needs root.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab, sh, sleep, HAFW_BIN } from './lab.js';
import { CLIENT, NS, SERVER } from './topology.js';

const RULESET = `table inet filter {
  chain fw {
    type filter hook forward priority 0; policy accept;
    udp dport 7002 iifname "lan" drop
  }
}
`;

/** LAN addresses the server sends from: spoofed, they arrive at the firewall on wan. */
const SPOOFED = { v4: '192.0.2.50', v6: '2001:db8:1::50' };

/** Listens on UDP `port` in `ns` for `ms` and returns the sources of what arrived (each once). */
function listen(ns: string, family: 4 | 6, port: number, ms: number): Promise<string[]> {
  const script = `const s = require('dgram').createSocket('udp${family}'); const seen = new Set();
s.on('message', (m, r) => seen.add(r.address));
s.bind(${port}, () => console.log('ready'));
setTimeout(() => { console.log(JSON.stringify([...seen].sort())); process.exit(0); }, ${ms});`;
  return sh([process.execPath, '-e', script], { ns, timeoutMs: ms + 10000 }).then((out) => JSON.parse(out.trim().split('\n').at(-1)!) as string[]);
}

/** Sends three datagrams from `src` (bound: an address of `ns`) to dst:port. */
async function send(ns: string, src: string, dst: string, port: number): Promise<void> {
  const fam = dst.includes(':') ? 6 : 4;
  const script = `const s = require('dgram').createSocket('udp${fam}');
s.bind(0, ${JSON.stringify(src)}, () => { let n = 0; const go = () => s.send('x', ${port}, ${JSON.stringify(dst)}, () => { if (++n < 3) setTimeout(go, 50); else s.close(); }); go(); });`;
  await sh([process.execPath, '-e', script], { ns, timeoutMs: 10000 });
}

/** Which of the senders got through to `to` on `port`: each [ns, src] sends, the receiver lists sources. */
async function through(to: { ns: string; addr: string }, port: number, senders: [ns: string, src: string][]): Promise<string[]> {
  const fam = to.addr.includes(':') ? 6 : 4;
  const got = listen(to.ns, fam, port, 1500);
  await sleep(400);
  for (const [ns, src] of senders) await send(ns, src, to.addr, port);
  return got;
}

describe('@lab input devices: the real input interface for iifname and the strict reverse-path fib', function () {
  this.timeout(120000);
  let lab: Lab;
  let dir: string;
  const fw = NS.fw('fwa');
  const hafw = (args: string[]): Promise<string> => sh([process.execPath, HAFW_BIN, ...args], { ns: fw, timeoutMs: 15000 });

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-iif-lab-'));
    const file = path.join(dir, 'iif.nft');
    await writeFile(file, RULESET);
    lab = await Lab.up({ nodes: 1, extraConfig: () => `ruleset:\n  file: ${file}\n` });
    // The spoofed sources live on the server; the firewall's kernel must not drop them on its
    // own (its rp_filter off on wan), so the datapath is what judges them.
    await sh(['ip', '-n', NS.server, 'addr', 'add', `${SPOOFED.v4}/32`, 'dev', 'eth0']);
    await sh(['ip', '-n', NS.server, 'addr', 'add', `${SPOOFED.v6}/128`, 'dev', 'eth0', 'nodad']);
    await sh(['sysctl', '-qw', 'net.ipv4.conf.wan.rp_filter=0'], { ns: fw });
  });
  after(async () => {
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  it('opens one TUN device per interface and steers each interface by its own table', async () => {
    const links = await sh(['ip', '-o', 'link', 'show'], { ns: fw });
    for (const dev of ['hafw0', 'hafw0-lan', 'hafw0-wan']) assert.match(links, new RegExp(`: ${dev}: `), links);
    for (const fam of ['-4', '-6']) {
      const rules = await sh(['ip', fam, 'rule', 'show'], { ns: fw });
      assert.match(rules, /^101:\s+from all iif lan lookup 102\s*$/m, rules);
      assert.match(rules, /^101:\s+from all iif wan lookup 103\s*$/m, rules);
      assert.match(await sh(['ip', fam, 'route', 'show', 'table', '103'], { ns: fw }), /default dev hafw0-wan/);
    }
  });

  for (const fam of ['v4', 'v6'] as const) {
    it(`${fam === 'v4' ? 'IPv4' : 'IPv6'}: iifname "lan" does not match a LAN source that came in by wan (the route back to it says lan)`, async () => {
      const got = await through({ ns: NS.client, addr: CLIENT[fam] }, 7002, [[NS.server, SPOOFED[fam]], [NS.server, SERVER[fam]]]);
      assert.deepEqual(got, [SPOOFED[fam], SERVER[fam]].sort(), 'both came in by wan: iifname "lan" matches neither');
      // A packet really from the LAN is dropped by the same rule.
      assert.deepEqual(await through({ ns: NS.server, addr: SERVER[fam] }, 7002, [[NS.client, CLIENT[fam]]]), []);
    });
  }

  it('loads the strict reverse-path check (fib saddr . iif oif missing drop) through the API', async () => {
    const out = await hafw(['ruleset', 'apply', 'add rule inet filter fw udp dport 7001 fib saddr . iif oif missing drop']);
    assert.match(out, /generation \d+/);
    assert.match(await hafw(['ruleset', 'show']), /udp dport 7001 fib saddr \. iif oif missing drop/);
  });

  for (const fam of ['v4', 'v6'] as const) {
    it(`${fam === 'v4' ? 'IPv4' : 'IPv6'}: fib saddr . iif oif missing drops the spoofed packet on the wrong interface, passes the legitimate ones`, async () => {
      const toClient = await through({ ns: NS.client, addr: CLIENT[fam] }, 7001, [[NS.server, SPOOFED[fam]], [NS.server, SERVER[fam]]]);
      assert.deepEqual(toClient, [SERVER[fam]], 'the LAN source in by wan is dropped, the server passes');
      assert.deepEqual(await through({ ns: NS.server, addr: SERVER[fam] }, 7001, [[NS.client, CLIENT[fam]]]), [CLIENT[fam]]);
    });
  }

  it('after a crash, a restart with inputDevices: shared leaves no per-interface device, rule or table, and refuses the reverse-path rule with the reason', async () => {
    await lab.stopNode('fwa', 'SIGKILL');
    const node = lab.node('fwa');
    // The devices went with the process; its rules and tables stay (fail closed).
    assert.doesNotMatch(await sh(['ip', '-o', 'link', 'show'], { ns: fw }), /hafw0-(lan|wan)/);
    assert.match(await sh(['ip', 'rule', 'show'], { ns: fw }), /lookup 103/);
    const config = await readFile(node.configFile, 'utf8');
    await writeFile(node.configFile, config.replace('datapath:\n', 'datapath:\n  inputDevices: shared\n'));
    try {
      await lab.startNode('fwa');
      await lab.waitReady('fwa');
      for (const fam of ['-4', '-6']) {
        const rules = await sh(['ip', fam, 'rule', 'show'], { ns: fw });
        assert.doesNotMatch(rules, /lookup 10[23]\b/, rules);
        assert.match(rules, /^101:\s+from all iif wan lookup 100\s*$/m, rules);
        for (const t of ['102', '103']) assert.equal((await sh(['ip', fam, 'route', 'show', 'table', t], { ns: fw })).trim(), '', `table ${t}`);
      }
      assert.doesNotMatch(await sh(['ip', '-o', 'link', 'show'], { ns: fw }), /hafw0-(lan|wan)/);
      const refused = await hafw(['ruleset', 'apply', 'add rule inet filter fw udp dport 7001 fib saddr . iif oif missing drop']).then(
        () => 'accepted',
        (e: Error) => e.message,
      );
      assert.match(refused, /fib saddr \. iif is not supported here: with datapath\.inputDevices: shared .*would always pass/);
      // Shared mode infers the input interface from the source's route: the spoofed source reads as lan.
      assert.deepEqual(await through({ ns: NS.client, addr: CLIENT.v4 }, 7002, [[NS.server, SPOOFED.v4], [NS.server, SERVER.v4]]), [SERVER.v4]);
    } finally {
      await writeFile(node.configFile, config);
    }
  });
});
