/**
 * Linux nftables as an oracle: loads a ruleset into a throwaway namespace (hafw-nftref,
 * fresh for each ruleset, hence a fresh conntrack table), sends crafted packets through it
 * (tools/nft-oracle.ts) and returns what came out of its two interfaces for each packet,
 * with the kernel's own listings of the ruleset. The nftables differential test compares
 * these with hafw's datapath on the same packets and the same listings.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { COMPILED_ROOT } from './lab.js';
import { sh, shQuiet } from './exec.js';

const NFTREF_NS = 'hafw-nftref';
const ORACLE = path.join(COMPILED_ROOT, 'cluster-tests', 'tools', 'nft-oracle.js');

export interface KernelOutput {
  dev: 'lan' | 'wan';
  packet: Uint8Array;
}

export interface KernelRun {
  /** `nft list ruleset` after loading. */
  text: string;
  /** `nft -j list ruleset` after loading. */
  json: string;
  /** Per packet sent, what the kernel sent out of its interfaces. */
  outputs: KernelOutput[][];
}

export async function kernelNft(ruleset: string, packets: Uint8Array[]): Promise<KernelRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hafw-nftref-'));
  await writeFile(path.join(dir, 'ruleset.nft'), ruleset);
  await writeFile(path.join(dir, 'packets.hex'), packets.map((p) => Buffer.from(p).toString('hex')).join('\n') + '\n');
  await shQuiet(['ip', 'netns', 'del', NFTREF_NS]);
  try {
    await sh(['ip', 'netns', 'add', NFTREF_NS]);
    await sh(['ip', '-n', NFTREF_NS, 'link', 'set', 'lo', 'up']);
    const out = await sh([process.execPath, ORACLE, path.join(dir, 'ruleset.nft'), path.join(dir, 'packets.hex'), dir], { ns: NFTREF_NS, timeoutMs: 60000 });
    const outputs = out
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => (JSON.parse(l) as { out: { dev: 'lan' | 'wan'; hex: string }[] }).out.map((o) => ({ dev: o.dev, packet: new Uint8Array(Buffer.from(o.hex, 'hex')) })));
    if (outputs.length !== packets.length) throw new Error(`nft oracle answered ${outputs.length} of ${packets.length} packets`);
    return { text: await readFile(path.join(dir, 'listing.nft'), 'utf8'), json: await readFile(path.join(dir, 'listing.json'), 'utf8'), outputs };
  } finally {
    await shQuiet(['ip', 'netns', 'del', NFTREF_NS]);
    await rm(dir, { recursive: true, force: true });
  }
}
