import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PcapWriter } from './pcap-writer.js';

describe('PcapWriter (log.pcapFile)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'hafw-pcapw-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the previous start\'s file as FILE.1 and starts a new one; timestamps from the wall clock', () => {
    const file = path.join(dir, 'r.pcap');
    writeFileSync(file, 'old');
    const w = new PcapWriter(file, 1 << 20, () => 1_700_000_000_123);
    assert.equal(readFileSync(`${file}.1`, 'utf8'), 'old');
    assert.equal(w.add(Uint8Array.from([9, 9, 0x45, 1, 2, 3]), 2, 4), true);
    w.close();
    const p = readFileSync(file);
    assert.equal(p.length, 24 + 16 + 4);
    assert.deepEqual([p.readUInt32LE(24), p.readUInt32LE(28)], [1_700_000_000, 123_000]);
    assert.deepEqual([...p.subarray(40)], [0x45, 1, 2, 3]);
  });

  it('refuses packets once the file would pass its cap, and after it was closed', () => {
    const w = new PcapWriter(path.join(dir, 'r.pcap'), 24 + 16 + 4);
    const pkt = new Uint8Array(4);
    assert.deepEqual([w.add(pkt, 0, 4), w.add(pkt, 0, 4)], [true, false]);
    w.close();
    assert.equal(w.add(pkt, 0, 4), false);
    assert.deepEqual([w.packets, w.refused], [1, 2]);
  });
});
