import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(ROOT, 'bin/hafw.js');

function hafw(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, HAFW_RUN_DIR: '/nonexistent-hafw-test' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('hafw command line', () => {
  it('lists the commands with --help and exits 0', () => {
    const r = hafw('--help');
    assert.equal(r.code, 0);
    assert.match(r.out, /^usage: hafw <command>/);
    for (const c of ['node', 'status', 'lab', 'demo', 'metrics']) assert.match(r.out, new RegExp(`^  ${c} `, 'm'));
  });

  it('has --help on every command', () => {
    for (const c of ['node', 'status', 'lab', 'demo', 'metrics']) {
      const r = hafw(c, '--help');
      assert.equal(r.code, 0, c);
      assert.match(r.out, new RegExp(`^usage: hafw ${c}`), c);
    }
  });

  it('exits 2 on an unknown command or option, naming it', () => {
    const a = hafw('frobnicate');
    assert.equal(a.code, 2);
    assert.match(a.err, /unknown command 'frobnicate'/);
    const b = hafw('status', '--bogus');
    assert.equal(b.code, 2);
    assert.match(b.err, /--bogus/);
  });

  it("says which command or option was meant ('did you mean'), exit 2", () => {
    const a = hafw('stauts');
    assert.equal(a.code, 2);
    assert.match(a.err, /^hafw: unknown command 'stauts' \(did you mean 'status'\?\)$/m);
    const b = hafw('status', '--jsno');
    assert.equal(b.code, 2);
    assert.match(b.err, /^hafw status: unknown option '--jsno' \(did you mean '--json'\?\)$/m);
    const c = hafw('ruleset', 'chekc', 'x.nft');
    assert.equal(c.code, 2);
    assert.match(c.err, /unknown subcommand 'chekc' \(did you mean 'check'\?\)/);
    const d = hafw('node', '--config', 'x.yaml', '--chek');
    assert.match(d.err, /unknown option '--chek' \(did you mean '--check'\?\)/);
    assert.doesNotMatch(hafw('frobnicate').err, /did you mean/);
  });

  it('names a missing file the same way in every command, as JSON too when --json was asked', () => {
    for (const args of [['ruleset', 'check', '/nonexistent/r.nft'], ['replay', '--pcap', '/nonexistent/c.pcap']]) {
      const file = args.find((a) => a.startsWith('/nonexistent'))!;
      const t = hafw(...args);
      assert.equal(t.code, 1, args.join(' '));
      assert.match(t.err, new RegExp(`^hafw ${args[0]}: ${file}: no such file$`, 'm'), args.join(' '));
      const j = hafw(...args, '--json');
      assert.equal(j.code, 1, args.join(' '));
      assert.deepEqual(JSON.parse(j.out), { ok: false, error: `${file}: no such file` });
    }
    const s = hafw('status', '--json');
    assert.equal(s.code, 1);
    assert.match((JSON.parse(s.out) as { error: string }).error, /no hafw node is running/);
  });

  it('exits 1 with advice when no node runs in this namespace', () => {
    const r = hafw('status');
    assert.equal(r.code, 1);
    assert.match(r.err, /no hafw node is running in this network namespace/);
  });

  it('node refuses a bad config file and names the setting', () => {
    const r = hafw('node', '--config', '/nonexistent/hafw.yaml');
    assert.equal(r.code, 1);
    assert.match(r.err, /\/nonexistent\/hafw\.yaml: \(top level\): cannot read config/);
  });

  it('node lists every error of a bad config at once, each with its line, and starts nothing', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hafw-cfg-'));
    try {
      const file = path.join(dir, 'bad.yaml');
      writeFileSync(file, 'node:\n  name: fwa\ndatapath:\n  batchSize: 0\nconntrack:\n  tcpLoose: maybe\n');
      const r = hafw('node', '--config', file);
      assert.equal(r.code, 1);
      assert.match(r.err, /2 errors in the config:/);
      assert.match(r.err, new RegExp(`${file.replace(/[.]/g, '\\.')}:4: datapath\\.batchSize: expected an integer`));
      assert.match(r.err, new RegExp(`${file.replace(/[.]/g, '\\.')}:6: conntrack\\.tcpLoose: expected true or false`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hafw --version', () => {
  const pkgVersion = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version as string;

  it('prints the package version, the build commit and the Node.js version, exit 0', () => {
    for (const args of [['--version'], ['-V'], ['version']]) {
      const r = hafw(...args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.out, new RegExp(`^hafw ${pkgVersion.replace(/\./g, '\\.')} \\(commit ([0-9a-f]{12}(-dirty)?|unknown), Node\\.js ${process.versions.node}\\)\\n$`), args.join(' '));
    }
    const j = hafw('version', '--json');
    assert.equal(j.code, 0);
    const v = JSON.parse(j.out) as { version: string; commit: string | null; node: string };
    assert.equal(v.version, pkgVersion);
    assert.equal(v.node, process.versions.node);
  });

  it('records the commit at build time (scripts/write-build-info.mjs), read back without git', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hafw-bi-'));
    try {
      const out = path.join(dir, 'build-info.json');
      const w = spawnSync(process.execPath, [path.join(ROOT, 'scripts/write-build-info.mjs'), out], { encoding: 'utf8' });
      assert.equal(w.status, 0, w.stderr);
      const rec = JSON.parse(readFileSync(out, 'utf8')) as { version: string; commit: string | null };
      assert.equal(rec.version, pkgVersion);
      const head = spawnSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
      // In a checkout the commit is HEAD's; elsewhere (no git) none is recorded.
      if (head.status === 0) assert.match(rec.commit ?? '', new RegExp(`^${head.stdout.trim()}(-dirty)?$`));
      else assert.equal(rec.commit, null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hafw --help texts', () => {
  it('explain every option their usage lines name', () => {
    const top = hafw('--help').out;
    const pages: [string, string][] = [];
    for (const [, c] of top.matchAll(/^ {2}(\S+)\s{2,}/gm)) {
      const h = hafw(c!, '--help').out;
      pages.push([c!, h]);
      const subs = (h.split('\nsubcommands:\n')[1] ?? '').split('\n\n')[0]!.split('\n').map((l) => /^ {2}(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x);
      for (const s of subs) pages.push([`${c} ${s}`, hafw(c!, s, '--help').out]);
    }
    assert.ok(pages.length > 15);
    const unexplained: string[] = [];
    for (const [name, h] of pages) {
      const lines = h.split('\n');
      const isUsage = (l: string, i: number): boolean => i === 0 || /^\s+hafw /.test(l);
      const opts = new Set(lines.filter(isUsage).join(' ').match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? []);
      const body = lines.filter((l, i) => !isUsage(l, i)).join('\n');
      for (const o of opts) if (o !== '--help' && o !== '--version' && !new RegExp(`(^|[\\s,(])${o}\\b`, 'm').test(body)) unexplained.push(`${name}: ${o}`);
    }
    assert.deepEqual(unexplained, []);
  });
});
