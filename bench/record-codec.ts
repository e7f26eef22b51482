/**
 * In-process micro-bench of the per-connection record paths (no lab, no namespaces):
 * `node dist/bench/record-codec.js [rounds] [distRoot]` prints CPU ns per record, best and
 * median of `rounds` passes over 100,000 records (a quarter IPv6, a fifth NATed), for the
 * ring slot writer and readers, the sync worker's mirror, the CBOR size, writers and
 * reader. With `distRoot` (another build's dist/, e.g. of the previous commit) it measures
 * that build's code the same way, so two versions can be compared on one machine: run
 * both alternately, the machine's load varies.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const N = 100_000;
const BATCH = 32;

interface Codec {
  ring: {
    SLOT_BYTES: number;
    writeSlot(v: DataView, b: Uint8Array, o: number, r: unknown): void;
    readSlot(v: DataView, b: Uint8Array, o: number): { stamp: number };
    SlotReader: new () => { read(v: DataView, b: Uint8Array, o: number): { stamp: number } };
  };
  RecordWriter: new () => { write(r: readonly unknown[]): Uint8Array; writeSlots(v: DataView, b: Uint8Array, at: readonly number[], kinds: readonly number[]): Uint8Array };
  readRecords(b: Uint8Array): unknown[] | undefined;
  slotRecordSize(v: DataView, b: Uint8Array, o: number): number;
  StateMirror: new () => { noteSlot(v: DataView, b: Uint8Array, o: number, stamp: number, pin: boolean): number };
  makeRecord(i: number, kind: number, stamp: number, version?: number): Record<string, unknown> & { family: number; kind: number };
}

async function load(root: string): Promise<Codec> {
  const at = (p: string): string => pathToFileURL(path.join(root, p)).href;
  return {
    ring: await import(at('sync-protocol/ring.js')),
    RecordWriter: (await import(at('sync-protocol/record-writer.js'))).RecordWriter,
    readRecords: (await import(at('sync-protocol/record-reader.js'))).readRecords,
    slotRecordSize: (await import(at('sync-protocol/wire.js'))).slotRecordSize,
    StateMirror: (await import(at('sync-protocol/state-mirror.js'))).StateMirror,
    makeRecord: (await import(at('sync-protocol/testing/fixtures.js'))).makeRecord,
  };
}

export async function runRecordCodecBench(rounds: number, root: string): Promise<Record<string, { best: number; median: number }>> {
  const m = await load(root);
  const slotBytes = m.ring.SLOT_BYTES;
  const recs: Record<string, unknown>[] = [];
  for (let i = 0; i < N; i++) {
    let r = m.makeRecord(i, i % 3, 1e9 + i / 7, i);
    if (i % 4 === 0) {
      const a = new Uint8Array(16).fill(i & 255);
      r = { ...r, family: 6, origSrc: a, origDst: a.slice(), replySrc: a.slice(), replyDst: a.slice() };
    }
    if (i % 5 === 0) r = { ...r, nat: { kind: 1, addr: r.family === 4 ? Uint8Array.of(203, 0, 113, 1) : new Uint8Array(16).fill(7), port: 40000 + (i & 1023) } };
    recs.push(r);
  }
  const bytes = new Uint8Array(N * slotBytes);
  const view = new DataView(bytes.buffer);
  const at = recs.map((_, i) => i * slotBytes);
  const kinds = recs.map((r) => r.kind as number);
  const w = new m.RecordWriter();
  const reader = new m.ring.SlotReader();
  const encoded: Uint8Array[] = [];
  const slotBatches: [number[], number[]][] = [];
  const recBatches: Record<string, unknown>[][] = [];
  for (let i = 0; i < N; i += BATCH) {
    encoded.push(Uint8Array.from(w.write(recs.slice(i, i + BATCH))));
    slotBatches.push([at.slice(i, i + BATCH), kinds.slice(i, i + BATCH)]);
    recBatches.push(recs.slice(i, i + BATCH));
  }
  for (let i = 0; i < N; i++) m.ring.writeSlot(view, bytes, at[i]!, recs[i]);
  let sink = 0;
  const mirror = new m.StateMirror();
  const ops: Record<string, () => void> = {
    'slot write': () => { for (let i = 0; i < N; i++) m.ring.writeSlot(view, bytes, at[i]!, recs[i]); },
    'slot read (new record)': () => { for (let i = 0; i < N; i++) sink += m.ring.readSlot(view, bytes, at[i]!).stamp; },
    'slot read (reused record)': () => { for (let i = 0; i < N; i++) sink += reader.read(view, bytes, at[i]!).stamp; },
    // The sync worker's copy of the local table, following each event (hash, find, copy the slot).
    'mirror follows an event': () => { for (let i = 0; i < N; i++) mirror.noteSlot(view, bytes, at[i]!, i, false); },
    'CBOR size of a slot': () => { for (let i = 0; i < N; i++) sink += m.slotRecordSize(view, bytes, at[i]!); },
    'CBOR write from slots': () => { for (const [a, k] of slotBatches) sink += w.writeSlots(view, bytes, a, k).length; },
    'CBOR write from records': () => { for (const rb of recBatches) sink += w.write(rb).length; },
    'CBOR read': () => { for (const b of encoded) sink += m.readRecords(b)!.length; },
  };
  const out: Record<string, { best: number; median: number }> = {};
  for (const [name, f] of Object.entries(ops)) {
    const t: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // CPU time, not wall time: on a shared machine the wall clock mostly measures the others.
      const c0 = process.cpuUsage();
      f();
      const c = process.cpuUsage(c0);
      t.push(((c.user + c.system) * 1000) / N);
    }
    t.sort((a, b) => a - b);
    out[name] = { best: t[0]!, median: t[t.length >> 1]! };
  }
  if (sink === -1) console.log(sink); // keeps the results used
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rounds = Number(process.argv[2] ?? 20);
  const root = process.argv[3] ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const res = await runRecordCodecBench(rounds, root);
  console.log(`${'CPU ns per record'.padEnd(28)} best  median   (${N} records, ${rounds} rounds, ${root})`);
  for (const [k, v] of Object.entries(res)) console.log(`${k.padEnd(28)} ${v.best.toFixed(0).padStart(5)} ${v.median.toFixed(0).padStart(6)}`);
}
