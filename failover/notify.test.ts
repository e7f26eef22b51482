import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotifyEvent, NotifyQueue, NotifyResult } from './notify.js';

function ev(state: string, previous: string): NotifyEvent {
  return { instance: 'vi1', vrid: 51, state, previous, reason: 'test', priority: 100 };
}

describe('notify', () => {
  let dir = '';
  const script = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'hafw-notify-')); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('runs hooks one at a time, in order, with the state as arguments and environment', async () => {
    const out = join(dir, 'out');
    // the first hook is slow: if runs overlapped, the second hook's line would come first
    const slow = script('slow', `sleep 0.1; echo "slow $1 $2 $HAFW_STATE $HAFW_VRID" >> ${out}`);
    const fast = script('fast', `echo "fast $1 $2 $3 $HAFW_PRIORITY" >> ${out}; echo hello`);
    const results: NotifyResult[] = [];
    const q = new NotifyQueue([{ path: slow }, { path: fast }], { onResult: (r) => results.push(r) });
    q.notify(ev('master', 'backup'));
    q.notify(ev('backup', 'master'));
    await q.idle();
    assert.deepEqual(readFileSync(out, 'utf8').trim().split('\n'), [
      'slow master backup master 51', 'fast master backup test 100',
      'slow backup master backup 51', 'fast backup master test 100',
    ]);
    assert.equal(results.length, 4);
    assert.equal(results[1]!.stdout, 'hello\n');
    assert.ok(results.every((r) => r.exitCode === 0 && !r.timedOut));
  });

  it('kills a hook that exceeds its timeout and goes on with the next', async () => {
    const out = join(dir, 'out');
    // no exec: the sleep is a grandchild that holds the output pipe open
    const hang = script('hang', 'sleep 5; echo late');
    const after = script('after', `echo ran >> ${out}`);
    const results: NotifyResult[] = [];
    const warned: object[] = [];
    const logger = { info: () => {}, warn: (o: object) => { warned.push(o); } };
    const q = new NotifyQueue([{ path: hang, timeoutMs: 100 }, { path: after }], { onResult: (r) => results.push(r), logger });
    const t0 = Date.now();
    q.notify(ev('master', 'backup'));
    await q.idle();
    assert.ok(Date.now() - t0 < 3_000, 'the whole process group was stopped');
    assert.equal(results[0]!.timedOut, true);
    assert.equal(results[0]!.signal, 'SIGTERM');
    assert.equal(results[0]!.stdout, '');
    assert.equal(readFileSync(out, 'utf8'), 'ran\n');
    assert.equal(warned.length, 1);
  });

  it('reports a missing executable and a failing exit code without stopping the queue', async () => {
    const fail = script('fail', 'echo oops >&2; exit 3');
    const results: NotifyResult[] = [];
    const q = new NotifyQueue([{ path: join(dir, 'missing') }, { path: fail }], { onResult: (r) => results.push(r) });
    q.notify(ev('backup', 'initialize'));
    await q.idle();
    assert.match(results[0]!.error ?? '', /ENOENT/);
    assert.equal(results[1]!.exitCode, 3);
    assert.equal(results[1]!.stderr, 'oops\n');
  });

  it('caps captured output', async () => {
    const loud = script('loud', 'head -c 100000 /dev/zero | tr "\\0" x');
    const results: NotifyResult[] = [];
    const q = new NotifyQueue([{ path: loud }], { maxOutputBytes: 1000, onResult: (r) => results.push(r) });
    q.notify(ev('master', 'backup'));
    await q.idle();
    assert.equal(results[0]!.stdout.length, 1000);
  });
});
