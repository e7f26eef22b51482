import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { SystemdNotifier, reportReadiness, startWatchdog } from './sd-notify.js';
import { VrrpReadiness, type ReadinessInputs } from './readiness.js';

/**
 * A stand-in for systemd's notification socket: a unix datagram socket (Node cannot open
 * one, hence python3) that prints each datagram it receives as one JSON string a line.
 */
const RECEIVER = `
import socket, sys, json
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
name = sys.argv[1]
s.bind('\\0' + name[1:] if name.startswith('@') else name)
print('bound', flush=True)
s.settimeout(10)
for _ in range(int(sys.argv[2])):
    print(json.dumps(s.recv(4096).decode()), flush=True)
`;

const hasPython = spawnSync('python3', ['-c', 'pass']).status === 0;

async function receiver(name: string, count: number): Promise<{ child: ChildProcess; messages: Promise<string[]> }> {
  const child = spawn('python3', ['-c', RECEIVER, name, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  const bound = new Promise<void>((resolve) => child.stdout!.on('data', (d: string) => {
    out += d;
    if (out.startsWith('bound\n')) resolve();
  }));
  await Promise.race([bound, once(child, 'exit').then(() => assert.fail('receiver exited before binding'))]);
  const messages = once(child, 'exit').then(() => out.split('\n').slice(1).filter(Boolean).map((l) => JSON.parse(l) as string));
  return { child, messages };
}

describe('systemd notifications (sd_notify without libsystemd)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'hafw-notify-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const kind of ['path', 'abstract'] as const) {
    it(`delivers READY, STATUS, WATCHDOG and STOPPING datagrams to a ${kind} NOTIFY_SOCKET through the addon`, async function () {
      if (!hasPython) this.skip();
      const name = kind === 'path' ? path.join(dir, 'notify.sock') : `@hafw-test-notify-${process.pid}`;
      const r = await receiver(name, 4);
      try {
        const n = new SystemdNotifier({ NOTIFY_SOCKET: name });
        assert.equal(n.enabled, true);
        assert.equal(n.ready('ready: VRRP may\ntake the VIPs'), true);
        assert.equal(n.watchdog(), true);
        assert.equal(n.status('waiting'), true);
        assert.equal(n.stopping('stopping'), true);
        assert.deepEqual(await r.messages, [
          `READY=1\nSTATUS=ready: VRRP may take the VIPs\nMAINPID=${process.pid}`,
          'WATCHDOG=1',
          'STATUS=waiting',
          'STOPPING=1\nSTATUS=stopping',
        ]);
      } finally {
        r.child.kill();
      }
    });
  }

  it('logs a failed send (no one listening) and carries on', () => {
    const warned: string[] = [];
    const n = new SystemdNotifier({ NOTIFY_SOCKET: path.join(dir, 'nobody.sock') }, { warn: (_o, m) => warned.push(m) });
    assert.equal(n.ready('ready'), false);
    assert.equal(n.watchdog(), false);
    assert.deepEqual(warned, ['systemd notification failed'], 'the first failure only');
  });

  it('does nothing without NOTIFY_SOCKET, and refuses a socket name it cannot use', () => {
    const sent: string[] = [];
    const send = (_s: string, m: string): void => void sent.push(m);
    const off = new SystemdNotifier({}, undefined, send);
    assert.equal(off.enabled, false);
    assert.equal(off.ready('x'), false);
    const warned: string[] = [];
    const vsock = new SystemdNotifier({ NOTIFY_SOCKET: 'vsock:2:1234' }, { warn: (_o, m) => warned.push(m) }, send);
    assert.equal(vsock.enabled, false);
    assert.equal(warned.length, 1);
    assert.deepEqual(sent, []);
  });

  it('pings the watchdog at half WATCHDOG_USEC, only for the process WATCHDOG_PID names', async () => {
    assert.equal(new SystemdNotifier({ NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '30000000' }).watchdogIntervalMs, 15000);
    assert.equal(new SystemdNotifier({ NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) }).watchdogIntervalMs, 15000);
    assert.equal(new SystemdNotifier({ NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }).watchdogIntervalMs, undefined);
    assert.equal(new SystemdNotifier({ NOTIFY_SOCKET: '/x' }).watchdogIntervalMs, undefined);
    const sent: string[] = [];
    let healthy = true;
    const n = new SystemdNotifier({ NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '10000' }, undefined, (_s, m) => void sent.push(m));
    const t = startWatchdog(n, () => healthy)!;
    try {
      while (sent.length < 2) await new Promise((r) => setTimeout(r, 5));
      assert.ok(sent.every((m) => m === 'WATCHDOG=1'));
      healthy = false; // failing stop: the pings end
      await new Promise((r) => setTimeout(r, 10));
      const k = sent.length;
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(sent.length, k);
    } finally {
      clearInterval(t);
    }
    assert.equal(startWatchdog(new SystemdNotifier({ NOTIFY_SOCKET: '/x' }), () => true), undefined);
  });

  it('takes NOTIFY_SOCKET and the watchdog variables out of the environment children inherit', () => {
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '1', WATCHDOG_PID: '2', PATH: '/bin' };
    SystemdNotifier.unsetEnvironment(env);
    assert.deepEqual(env, { PATH: '/bin' });
  });

  it('sends READY=1 only once VRRP readiness holds (sync in sync, ruleset current), and once', () => {
    const sent: string[] = [];
    const n = new SystemdNotifier({ NOTIFY_SOCKET: '/x' }, undefined, (_s, m) => void sent.push(m));
    const inputs: ReadinessInputs = { syncInSync: false, aloneGuardAllows: true, rulesetCurrent: false };
    let changed: () => void = () => undefined;
    const readiness = new VrrpReadiness(() => inputs, (cb) => ((changed = cb), () => undefined));
    const source = {
      get inSync() { return readiness.inSync; },
      get reason() { const v = readiness.verdict; return v.ready ? undefined : v.reason; },
      onChange: (cb: (v: boolean) => void) => readiness.onChange(cb),
    };
    const off = reportReadiness(n, source, () => 'ready');
    assert.deepEqual(sent, ['STATUS=waiting: not ready for VRRP (sync-not-in-sync)']);
    inputs.syncInSync = true;
    changed(); // still held back by the ruleset: no flip, nothing sent
    assert.equal(sent.length, 1);
    inputs.rulesetCurrent = true;
    changed();
    assert.equal(sent[1], `READY=1\nSTATUS=ready\nMAINPID=${process.pid}`);
    inputs.syncInSync = false; // a resync later: STATUS only, the service stays started
    changed();
    inputs.syncInSync = true;
    changed();
    assert.deepEqual(sent.slice(2), ['STATUS=waiting: not ready for VRRP (sync-not-in-sync)', 'STATUS=ready']);
    off();
    // Nothing holds VRRP back (no sync, no ruleset-dist, or no VRRP): READY at once.
    const sent2: string[] = [];
    reportReadiness(new SystemdNotifier({ NOTIFY_SOCKET: '/x' }, undefined, (_s, m) => void sent2.push(m)), undefined, () => 'ready (no VRRP)');
    assert.deepEqual(sent2, [`READY=1\nSTATUS=ready (no VRRP)\nMAINPID=${process.pid}`]);
  });
});
