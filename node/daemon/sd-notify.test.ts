import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { SystemdNotifier, reloadWithNotify, reportReadiness, startWatchdog } from './sd-notify.js';
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

/** The same receiver, also printing CLOCK_MONOTONIC (µs) when bound and at each datagram: systemd's clock. */
const CLOCKED_RECEIVER = `
import socket, sys, json, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('bound', time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000, flush=True)
s.settimeout(10)
for _ in range(int(sys.argv[2])):
    m = s.recv(4096).decode()
    print(json.dumps([m, time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000]), flush=True)
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

  it('frames a SIGHUP reload with RELOADING=1 and MONOTONIC_USEC on systemd\'s clock, then READY=1', async function () {
    if (!hasPython) this.skip();
    const name = path.join(dir, 'notify.sock');
    const child = spawn('python3', ['-c', CLOCKED_RECEIVER, name, '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (d: string) => (out += d));
      while (!out.includes('\n')) await Promise.race([new Promise((r) => setTimeout(r, 10)), once(child, 'exit').then(() => assert.fail('receiver exited'))]);
      const boundAt = Number(out.split('\n')[0]!.split(' ')[1]);
      const n = new SystemdNotifier({ NOTIFY_SOCKET: name });
      n.ready('ready: VRRP may take the VIPs');
      let reloaded = false;
      await reloadWithNotify(n, async () => void (reloaded = true))();
      assert.equal(reloaded, true);
      await once(child, 'exit');
      const got = out.split('\n').slice(1).filter(Boolean).map((l) => JSON.parse(l) as [string, number]);
      assert.equal(got.length, 3);
      const [msg, receivedAt] = got[1]!;
      const m = /^RELOADING=1\nSTATUS=reloading: [^\n]+\nMONOTONIC_USEC=(\d+)$/.exec(msg);
      assert.ok(m, msg);
      // The value lies between two readings of CLOCK_MONOTONIC by another process: the same clock.
      const usec = Number(m[1]);
      assert.ok(usec >= boundAt && usec <= receivedAt, `MONOTONIC_USEC ${usec} outside [${boundAt}, ${receivedAt}]`);
      assert.equal(got[2]![0], 'READY=1\nSTATUS=ready: VRRP may take the VIPs', 'READY=1 ends the reload, with the status from before');
    } finally {
      child.kill();
    }
  });

  it('reports reloads only between READY=1 and STOPPING=1, one at a time, also when the reload fails', async () => {
    const sent: string[] = [];
    const n = new SystemdNotifier({ NOTIFY_SOCKET: '/x' }, undefined, (_s, m) => void sent.push(m.replace(/MONOTONIC_USEC=\d+/, 'MONOTONIC_USEC=T')));
    let calls = 0;
    const reload = reloadWithNotify(n, async () => void calls++);
    await reload();
    assert.equal(calls, 1, 'the reload runs before READY too');
    assert.deepEqual(sent, [], 'but systemd hears nothing: READY=1 would claim a readiness the node lacks');
    n.status('waiting');
    n.ready('ready');
    sent.length = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = reloadWithNotify(n, async () => {
      await gate;
      throw new Error('ruleset rejected');
    });
    const first = slow();
    const second = slow();
    await new Promise((r) => setImmediate(r));
    assert.equal(sent.length, 1, 'the second reload waits for the first');
    release();
    await assert.rejects(first, /ruleset rejected/);
    await assert.rejects(second, /ruleset rejected/);
    const frame = ['RELOADING=1\nSTATUS=reloading: ruleset file and management listener certificate\nMONOTONIC_USEC=T', 'READY=1\nSTATUS=ready'];
    assert.deepEqual(sent, [...frame, ...frame]);
    sent.length = 0;
    assert.equal(n.stopping('stopping'), true);
    assert.equal(n.stopping('failing stop: again'), false, 'STOPPING=1 once');
    await reload();
    assert.deepEqual(sent, ['STOPPING=1\nSTATUS=stopping'], 'no RELOADING or READY once stopping');
  });
});
