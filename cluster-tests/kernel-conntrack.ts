/**
 * Linux conntrack as an oracle: runs crafted packets through a throwaway namespace
 * (hafw-ctref) where nftables counts `ct state` per packet (tools/ct-oracle.ts), and
 * returns the kernel's state for each packet. The differential test compares these with
 * `hafw replay` on the same packets.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { COMPILED_ROOT } from './lab.js';
import { sh, shQuiet } from './exec.js';

const CTREF_NS = 'hafw-ctref';
const ORACLE = path.join(COMPILED_ROOT, 'cluster-tests', 'tools', 'ct-oracle.js');

export type KernelCtState = 'new' | 'established' | 'related' | 'invalid' | 'untracked' | 'none';

/** Each run gets a fresh namespace, hence a fresh conntrack table. */
export async function kernelCtStates(packets: Uint8Array[], opts: { loose?: boolean } = {}): Promise<KernelCtState[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hafw-ctref-'));
  const file = path.join(dir, 'packets.hex');
  await writeFile(file, packets.map((p) => Buffer.from(p).toString('hex')).join('\n') + '\n');
  await shQuiet(['ip', 'netns', 'del', CTREF_NS]);
  try {
    await sh(['ip', 'netns', 'add', CTREF_NS]);
    await sh(['ip', '-n', CTREF_NS, 'link', 'set', 'lo', 'up']);
    const out = await sh([process.execPath, ORACLE, file, ...(opts.loose ? ['--loose'] : [])], { ns: CTREF_NS, timeoutMs: 120000 });
    const states = out
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => (JSON.parse(l) as { ct: KernelCtState }).ct);
    if (states.length !== packets.length) throw new Error(`ct oracle answered ${states.length} of ${packets.length} packets`);
    return states;
  } finally {
    await shQuiet(['ip', 'netns', 'del', CTREF_NS]);
    await rm(dir, { recursive: true, force: true });
  }
}
