import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildUdp } from '../packet/build.js';
import { writePcap } from '../packet/pcap.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/hafw.js');

/**
 * `hafw ARGS | head -n 1` in bash, with a real pipe as the shell makes it: the CLI's exit
 * status (PIPESTATUS) and what it wrote to stderr.
 */
function pipedIntoHead(args: string[]): { code: number; err: string; out: string } {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const r = spawnSync('bash', ['-c', `${quoted} 2>"$ERRFILE" | head -n 1; echo "status=\${PIPESTATUS[0]}" >&2`], {
    encoding: 'utf8',
    env: { ...process.env, HAFW_RUN_DIR: '/nonexistent-hafw-test', ERRFILE: path.join(errDir, 'stderr') },
    timeout: 60_000,
  });
  const m = /status=(\d+)/.exec(r.stderr);
  return { code: m ? Number(m[1]) : -1, err: readFileSync(path.join(errDir, 'stderr'), 'utf8'), out: r.stdout };
}

let errDir = '';

describe('CLI output closed early (hafw ... | head)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-epipe-'));
    errDir = dir;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('hafw replay stops quietly with status 0 when its reader goes away, no EPIPE stack trace', () => {
    // Far more output than a pipe buffer holds (about 80 bytes a line).
    const packets = [];
    for (let i = 0; i < 20_000; i++) packets.push({ data: buildUdp({ src: '192.0.2.100', dst: '198.51.100.100', sport: 1024 + (i % 60000), dport: 53, payload: 8 }), tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1000n });
    const pcap = path.join(dir, 'many.pcap');
    writeFileSync(pcap, writePcap(packets));
    for (const mode of [[], ['--json']]) {
      const r = pipedIntoHead(['replay', '--pcap', pcap, ...mode]);
      assert.match(r.out, /^( +1 |\{"i":1,)/, 'head printed the first line');
      assert.equal(r.err, '', 'nothing on stderr');
      assert.equal(r.code, 0);
    }
  });

  it('any command: hafw ruleset convert of a large ruleset into a closed pipe', () => {
    const lines = ['table inet t {', '  chain c {'];
    for (let i = 0; i < 5000; i++) lines.push(`    ip saddr 192.0.2.${i % 250} tcp dport ${1 + i} accept`);
    lines.push('  }', '}');
    const file = path.join(dir, 'big.nft');
    writeFileSync(file, lines.join('\n') + '\n');
    const r = pipedIntoHead(['ruleset', 'convert', '--to', 'json', file]);
    assert.equal(r.err, '', 'nothing on stderr');
    assert.equal(r.code, 0);
  });
});
