import assert from 'node:assert/strict';
import { NotifyQueue, type NotifyResult } from '../../failover/index.js';
import { commandRunnerPid, runCommand, runHookCommand, startCommandRunner, stopCommandRunner } from './command-runner.js';

describe('command runner (external commands from a small helper process)', () => {
  after(() => stopCommandRunner());

  it('runs commands in this process until the helper is started', async () => {
    const r = await runCommand('sh', ['-c', 'echo $PPID']);
    assert.equal(r.code, 0);
    assert.equal(Number(r.stdout.trim()), process.pid);
  });

  it('runs them from the helper once started: output, exit code, stdin, and a missing command', async () => {
    await startCommandRunner();
    const pid = commandRunnerPid();
    assert.ok(pid !== undefined && pid !== process.pid);
    const parent = await runCommand('sh', ['-c', 'echo $PPID; echo oops >&2; exit 3']);
    assert.equal(Number(parent.stdout.trim()), pid, 'forked by the helper, not by this process');
    assert.equal(parent.stderr, 'oops\n');
    assert.equal(parent.code, 3);
    assert.equal((await runCommand('cat', [], 'line 1\nline 2\n')).stdout, 'line 1\nline 2\n');
    const missing = await runCommand('hafw-no-such-command', []);
    assert.equal(missing.error, 'ENOENT');
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => runCommand('echo', [String(i)])));
    assert.deepEqual(many.map((r) => r.stdout.trim()), Array.from({ length: 20 }, (_, i) => String(i)));
  });

  it('runs VRRP notify hooks from the helper: arguments, environment, and a timeout that kills the hook', async () => {
    await startCommandRunner();
    const pid = commandRunnerPid()!;
    const results: NotifyResult[] = [];
    const q = new NotifyQueue(
      [{ path: '/bin/sh', args: ['-c', 'echo "$PPID $HAFW_STATE $HAFW_VRID $1"', 'hook'] }, { path: '/bin/sh', args: ['-c', 'sleep 30'], timeoutMs: 100 }],
      { spawner: runHookCommand, killGraceMs: 100, onResult: (r) => results.push(r) },
    );
    q.notify({ instance: 'vi', vrid: 7, state: 'MASTER', previous: 'BACKUP', reason: 'test', priority: 100 });
    await q.idle();
    assert.equal(results.length, 2);
    assert.equal(results[0]!.exitCode, 0);
    assert.equal(results[0]!.stdout, `${pid} MASTER 7 MASTER\n`, 'forked by the helper, with the state in argv and env');
    assert.equal(results[1]!.timedOut, true);
    assert.ok(results[1]!.durationMs < 5000, `the hanging hook was killed after ${results[1]!.durationMs} ms`);
  });

  it('replaces a helper that died, and commands keep working meanwhile', async () => {
    await startCommandRunner();
    const first = commandRunnerPid()!;
    process.kill(first, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const r = await runCommand('echo', ['still here']);
    assert.equal(r.stdout, 'still here\n');
    await new Promise((r) => setTimeout(r, 300));
    const second = commandRunnerPid();
    assert.ok(second !== undefined && second !== first, 'a new helper');
  });
});
