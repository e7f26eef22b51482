/**
 * Preloaded into the lab's nodes by the sync bench only (`--import` of this file through
 * HAFW_NODE_ARGS, see bench/sync-bench.ts): in the datapath thread it starts the bench
 * injector on the thread's real table, watching HAFW_SYNC_BENCH_INJECT=<directory>. In every
 * other thread (main, sync worker) the registration is never called.
 */
import { onDatapathStart } from '../node/datapath/worker/extensions.js';
import { BenchInjector } from './sync-injector.js';

const dir = process.env.HAFW_SYNC_BENCH_INJECT;
if (dir) {
  onDatapathStart(({ ct, bridge }) => {
    if (bridge) new BenchInjector(ct, bridge, dir).start();
  });
}
