import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { setThreadNice, threadNiceOf } from './thread-priority.js';

/** Runs the datapath in a worker thread (thread-priority-fixture.ts) with datapath.nice = `nice`. */
async function datapathThread(nice: number | undefined): Promise<{ ready: { nice?: { nice: number; error?: string } }; tid: number; nice: number }> {
  const w = new Worker(new URL('./thread-priority-fixture.js', import.meta.url), { workerData: { nice } });
  try {
    const [m] = (await Promise.race([
      new Promise((resolve, reject) => { w.once('message', (x) => resolve([x])); w.once('error', reject); }),
      new Promise((_r, reject) => setTimeout(() => reject(new Error('no answer from the datapath thread')), 15000)),
    ])) as [{ ready: { nice?: { nice: number; error?: string } }; tid: number; nice: number }];
    return m;
  } finally {
    await w.terminate();
  }
}

describe('datapath thread priority (datapath.nice)', () => {
  it('sets the datapath thread\'s own nice value, leaving the control thread\'s alone, and says so in its ready message', async () => {
    const mine = threadNiceOf('thread-self');
    // Raising the value needs no privilege, so the test runs as any user.
    const want = Math.min(19, mine + 3);
    const r = await datapathThread(want);
    assert.equal(r.nice, want, 'the datapath thread runs at datapath.nice');
    assert.deepEqual(r.ready.nice, { nice: want });
    assert.equal(threadNiceOf('thread-self'), mine, 'the control thread keeps its own');
  });

  it('leaves the thread as it was started when no value is given', async () => {
    const mine = threadNiceOf('thread-self');
    const r = await datapathThread(undefined);
    assert.equal(r.nice, mine);
    assert.equal(r.ready.nice, undefined);
  });

  it('reports a value the system refused, with the value in force, instead of failing the start', () => {
    const r = setThreadNice(-10, () => { throw new Error('EACCES: permission denied'); }, () => 0);
    assert.deepEqual(r, { nice: 0, error: 'EACCES: permission denied' });
  });
});
