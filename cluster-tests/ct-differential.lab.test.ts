/**
 * @lab differential test of connection tracking: the same crafted TCP / UDP / ICMP
 * sequences (ct-scenarios.ts) go through Linux's conntrack (a throwaway namespace with
 * nftables `ct state` counters, kernel-conntrack.ts) and through `hafw replay --json` (the
 * real command, as a child process, on a pcap file); both must name the same state for
 * every packet. Strict and loose TCP pickup are both checked. Needs root (namespaces, TUN).
 *
 * Deliberate differences are listed in DIFFERENCES with their reason (and in
 * docs/conntrack.md); the test asserts them exactly, so a change on either side shows.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { writePcap } from '../node/packet/pcap.js';
import { HAFW_BIN } from './lab.js';
import { kernelCtStates, type KernelCtState } from './kernel-conntrack.js';
import { allScenarios, fragmentScenarios, randomTcpScenarios, type Scenario } from './ct-scenarios.js';

const run = promisify(execFile);

interface Difference {
  reason: string;
  hafw: string[];
  kernel: string[];
}

/** Scenario name -> the states each side gives, where they differ on purpose. */
const DIFFERENCES: Record<string, Difference> = {
  // None at the moment. Fragments used to be one: hafw now reassembles as Linux does.
};

/**
 * The same state under two names: a fragment held for reassembly is `pending` in hafw's
 * replay, and in the kernel no rule sees it (`none`).
 */
const SAME: Record<string, string> = { pending: 'none' };

async function replayStates(packets: Uint8Array[], loose: boolean, dir: string): Promise<string[]> {
  const file = path.join(dir, `scenarios-${loose ? 'loose' : 'strict'}.pcap`);
  const t0 = 1_700_000_000n * 1_000_000_000n;
  // 1 ms apart, as the oracle writes them: no timeout comes into play.
  await writeFile(file, writePcap(packets.map((data, k) => ({ data, tsNs: t0 + BigInt(k) * 1_000_000n }))));
  const { stdout } = await run(process.execPath, [HAFW_BIN, 'replay', '--pcap', file, '--json', ...(loose ? ['--loose'] : [])], { maxBuffer: 64 << 20 });
  const rows = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { i: number; ct: string });
  rows.forEach((r, k) => assert.equal(r.i, k + 1, 'replay rows are numbered 1..n in capture order'));
  return rows.map((r) => r.ct);
}

/**
 * Differences found by the randomised runs and not yet explained (so not yet fixed on
 * either side). Asserted exactly, so the test notices when they go away or change.
 */
const OPEN_DIFFERENCES: Record<string, Difference> = {
  // None at the moment. Seeds 9 and 17 (loose) used to differ on a bare RST after a
  // simultaneous open; fixed in node/conntrack (tcp-tracker.ts, RST shortcut).
};

interface Mismatch {
  scenario: string;
  packet: number;
  hafw: string;
  kernel: string;
}

function compare(scenarios: Scenario[], hafw: string[], kernel: KernelCtState[]): { mismatches: Mismatch[]; documented: string[] } {
  const mismatches: Mismatch[] = [];
  const documented: string[] = [];
  let at = 0;
  for (const s of scenarios) {
    const h = hafw.slice(at, at + s.packets.length);
    const k = kernel.slice(at, at + s.packets.length);
    at += s.packets.length;
    const diff = DIFFERENCES[s.name] ?? OPEN_DIFFERENCES[s.name];
    if (diff) {
      assert.deepEqual({ hafw: h, kernel: k }, { hafw: diff.hafw, kernel: diff.kernel }, `${s.name}: the documented difference changed (${diff.reason})`);
      documented.push(s.name);
      continue;
    }
    h.forEach((state, j) => {
      if ((SAME[state] ?? state) !== k[j]) mismatches.push({ scenario: s.name, packet: j + 1, hafw: state, kernel: k[j]! });
    });
  }
  return { mismatches, documented };
}

describe('@lab conntrack agrees with Linux, packet by packet', function () {
  this.timeout(300000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-ct-diff-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const loose of [false, true]) {
    it(`${loose ? 'loose' : 'strict'} TCP pickup: every scenario's states match the kernel's, fragments included`, async () => {
      const scenarios = [...allScenarios(), ...fragmentScenarios()].filter((s) => !s.only || s.only === (loose ? 'loose' : 'strict'));
      const packets = scenarios.flatMap((s) => s.packets);
      const [hafw, kernel] = await Promise.all([replayStates(packets, loose, dir), kernelCtStates(packets, { loose })]);
      assert.equal(hafw.length, packets.length);
      const { mismatches, documented } = compare(scenarios, hafw, kernel);
      const table = mismatches.map((m) => `  ${m.scenario} #${m.packet}: hafw ${m.hafw}, linux ${m.kernel}`).join('\n');
      assert.equal(mismatches.length, 0, `hafw and Linux disagree on ${mismatches.length} of ${packets.length} packets:\n${table}`);
      if (!loose) assert.deepEqual(documented, Object.keys(DIFFERENCES));
      // The scenarios are not trivially all-new or all-invalid: every state shows up.
      for (const st of ['new', 'established', 'related', 'invalid']) assert.ok(kernel.includes(st as KernelCtState), `no packet was ${st}`);
    });
  }

  // Random TCP conversations (handshakes cut short, random flags from either side, seq/ack
  // numbers right, a little off or far off): the cases nobody thinks of. Fixed seeds, so a
  // failure can be replayed with randomTcpScenarios(seed, 40, 12).
  for (const [seed, loose] of [
    [1, false],
    [2, false],
    [9, true],
    [17, true],
  ] as const) {
    it(`random TCP conversations (seed ${seed}, ${loose ? 'loose' : 'strict'}): states match the kernel's`, async () => {
      const scenarios = randomTcpScenarios(seed, 40, 12);
      const packets = scenarios.flatMap((s) => s.packets);
      const [hafw, kernel] = await Promise.all([replayStates(packets, loose, dir), kernelCtStates(packets, { loose })]);
      const { mismatches } = compare(scenarios, hafw, kernel);
      const table = mismatches.map((m) => `  ${m.scenario} #${m.packet}: hafw ${m.hafw}, linux ${m.kernel}`).join('\n');
      assert.equal(mismatches.length, 0, `hafw and Linux disagree on ${mismatches.length} of ${packets.length} packets:\n${table}`);
      assert.ok(new Set(kernel).size >= 3, 'the random conversations exercise several states');
    });
  }
});
