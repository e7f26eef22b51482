/**
 * deploy/systemd/hafw.service: systemd accepts it, and it grants what the node needs
 * (sandboxing that forgets /dev/net/tun or SCHED_RR breaks the node only at start on a host).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const UNIT = path.join(ROOT, 'deploy/systemd/hafw.service');

/** key -> every value it is given (a key may repeat). */
function settings(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const x = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (x) m.set(x[1]!, [...(m.get(x[1]!) ?? []), x[2]!]);
  }
  return m;
}

describe('systemd unit (deploy/systemd/hafw.service)', () => {
  const text = readFileSync(UNIT, 'utf8');
  const s = settings(text);
  const one = (k: string): string | undefined => s.get(k)?.[0];

  it('passes systemd-analyze verify', function () {
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) this.skip();
    // /usr/bin/hafw is the package's (the .deb test verifies the installed unit with its
    // man pages): here the checkout's launcher stands in for it.
    const dir = mkdtempSync(path.join(tmpdir(), 'hafw-unit-'));
    try {
      const copy = path.join(dir, 'hafw.service');
      writeFileSync(copy, text.replaceAll('/usr/bin/hafw', path.join(ROOT, 'bin/hafw.js')));
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is Type=notify with a watchdog, checks the config first and stops the node alone', () => {
    assert.equal(one('Type'), 'notify');
    assert.equal(one('NotifyAccess'), 'main');
    assert.match(one('WatchdogSec') ?? '', /^\d+s$/);
    assert.match(one('ExecStartPre') ?? '', / node --config \S+ --check$/);
    assert.equal(one('KillMode'), 'mixed');
  });

  it('grants what the node uses: TUN, net admin, raw sockets, SCHED_RR, /proc/sys/net, /run/hafw', () => {
    assert.deepEqual(one('CapabilityBoundingSet')?.split(' ').sort(), ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_SYS_NICE']);
    assert.equal(one('DevicePolicy'), 'closed');
    assert.equal(one('DeviceAllow'), '/dev/net/tun rw');
    assert.ok(s.get('ReadWritePaths')?.includes('/proc/sys/net'));
    assert.equal(one('RuntimeDirectory'), 'hafw', 'the control socket directory (HAFW_RUN_DIR default /run/hafw)');
    assert.equal(one('StateDirectory'), 'hafw', 'ruleset.stateDir default /var/lib/hafw/<node>');
    for (const f of ['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_PACKET']) assert.ok(one('RestrictAddressFamilies')?.split(' ').includes(f), f);
    // Options that would break the node must stay off.
    assert.equal(s.get('RestrictRealtime'), undefined);
    assert.equal(s.get('MemoryDenyWriteExecute'), undefined);
    assert.equal(s.get('PrivateDevices'), undefined);
    assert.equal(s.get('PrivateNetwork'), undefined);
  });
});
