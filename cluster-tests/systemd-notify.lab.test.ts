/**
 * @lab systemd's notification protocol on a real pair (deploy/systemd/hafw.service is
 * Type=notify with WatchdogSec): each node, started with NOTIFY_SOCKET and WATCHDOG_USEC
 * as systemd sets them, sends READY=1 only once it may take the VIPs (its state sync has
 * the table), pings the watchdog from its control loop, frames a SIGHUP reload with RELOADING=1 and
 * READY=1, and says STOPPING=1 on SIGTERM.
 * A python3 unix datagram socket stands in for systemd (Node cannot open one); a path
 * socket, since abstract ones are per network namespace.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Lab, LAB_DIR, sleep, syncConfig, vrrpConfig } from './lab.js';
import { FIREWALLS } from './topology.js';

const RECEIVER = `
import socket, sys, json, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('bound', flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`;

interface Receiver {
  child: ChildProcess;
  messages: string[];
}

async function receiver(socketPath: string): Promise<Receiver> {
  rmSync(socketPath, { force: true });
  const child = spawn('python3', ['-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const r: Receiver = { child, messages: [] };
  let buf = '';
  let bound = false;
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === 'bound') bound = true;
      else r.messages.push(JSON.parse(line) as string);
    }
  });
  for (let i = 0; i < 100 && !bound; i++) await sleep(50);
  assert.ok(bound, 'receiver bound');
  return r;
}

async function waitFor(r: Receiver, what: RegExp, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const m = r.messages.find((x) => what.test(x));
    if (m) return m;
    await sleep(50);
  }
  throw new Error(`no ${what} within ${ms} ms; got ${JSON.stringify(r.messages)}`);
}

describe('@lab systemd notifications (READY, WATCHDOG, RELOADING, STOPPING)', function () {
  this.timeout(90_000);
  const receivers: Receiver[] = [];
  after(async () => {
    for (const r of receivers) r.child.kill();
    await Lab.down();
  });

  it('READY=1 once each node may run VRRP (the standby after its resync), watchdog pings, RELOADING=1/READY=1 around SIGHUP, STOPPING=1 on SIGTERM', async function () {
    if (spawnSync('python3', ['-c', 'pass']).status !== 0) this.skip();
    const lab = await Lab.up({ nodes: 2, startNodes: false });
    const rx: Record<string, Receiver> = {};
    for (const fw of FIREWALLS.slice(0, 2)) {
      const sock = path.join(LAB_DIR, `notify-${fw.name}.sock`);
      rx[fw.name] = await receiver(sock);
      receivers.push(rx[fw.name]!);
      // What systemd puts in the service's environment; the node takes it out of its own.
      process.env.NOTIFY_SOCKET = sock;
      process.env.WATCHDOG_USEC = '400000';
      try {
        await lab.startNode(fw.name, [vrrpConfig(fw), syncConfig()].join('\n'));
      } finally {
        delete process.env.NOTIFY_SOCKET;
        delete process.env.WATCHDOG_USEC;
      }
      await lab.waitReady(fw.name);
      const ready = await waitFor(rx[fw.name]!, /^READY=1$/m, 30_000);
      assert.match(ready, new RegExp(`^MAINPID=${lab.node(fw.name).pid}$`, 'm'));
      const s = await lab.status(fw.name);
      assert.equal(s.sync?.inSync, true, `${fw.name} said READY while not in sync`);
    }
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    // Pings every 200 ms (WATCHDOG_USEC / 2): a few arrive within a generous bound.
    const before = rx.fwb!.messages.filter((m) => m === 'WATCHDOG=1').length;
    await sleep(1500);
    assert.ok(rx.fwb!.messages.filter((m) => m === 'WATCHDOG=1').length >= before + 2, JSON.stringify(rx.fwb!.messages));
    assert.equal(rx.fwb!.messages.filter((m) => /^READY=1$/m.test(m)).length, 1, 'READY once');
    // SIGHUP (ExecReload): RELOADING=1 with MONOTONIC_USEC (systemd 253+), then READY=1 again.
    const seen = rx.fwb!.messages.length;
    process.kill(lab.node('fwb').pid, 'SIGHUP');
    await waitFor(rx.fwb!, /^RELOADING=1$/m, 10_000);
    const after = rx.fwb!.messages.slice(seen).filter((m) => m !== 'WATCHDOG=1');
    assert.match(after[0]!, /^RELOADING=1\nSTATUS=.*\nMONOTONIC_USEC=\d+$/);
    await waitFor(rx.fwb!, /^READY=1\nSTATUS=[^\n]*$/, 10_000); // no MAINPID: not the first READY
    assert.equal(rx.fwb!.messages.filter((m) => /^READY=1$/m.test(m)).length, 2, 'READY=1 ends the reload');
    await lab.stopNode('fwb');
    await waitFor(rx.fwb!, /^STOPPING=1$/m, 5000);
  });
});
