/**
 * The Debian package (npm run package:deb) installs into a fresh Debian root and works
 * there: `hafw --version`, `hafw node --check` of the sample config, its unit passes
 * `systemd-analyze verify`, its man pages render, and it purges cleanly.
 *
 * Run by `npm run test:package` (builds the package first), not by `npm test`: it needs
 * root (chroot) and a minimal Debian tree, made once by scripts/deb-test-root.sh
 * (mmdebstrap, about 2 minutes) and unpacked afresh for each run (seconds).
 *
 * Node.js in the fresh root is this machine's binary, registered with dpkg by a stub
 * package that provides `nodejs (= <its version>)` (what equivs does for a Node installed
 * from a tarball): Debian 12 itself has only nodejs 18, which the package's Depends refuses.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ASSETS } from '../../console/index.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const VERSION = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? process.env, timeout: 60_000 });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

describe('Debian package (npm run package:deb)', function () {
  this.timeout(120_000);
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  const deb = path.join(process.env.HAFW_DEB_OUT ?? path.join(REPO, 'dist'), `hafw_${VERSION}_${arch}.deb`);
  let work: string;
  let root: string;

  before(function () {
    if (process.getuid?.() !== 0) this.skip(); // chroot and dpkg into a root tree
    assert.ok(existsSync(deb), `${deb} missing: npm run package:deb`);
    const tarball = execFileSync('bash', [path.join(REPO, 'scripts/deb-test-root.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
    work = mkdtempSync('/var/tmp/hafw-deb-test-');
    root = path.join(work, 'root');
    mkdirSync(root);
    execFileSync('tar', ['-xf', tarball, '-C', root]);
    // This machine's Node, and a stub package telling dpkg it is there.
    mkdirSync(path.join(root, 'usr/local/bin'), { recursive: true });
    copyFileSync(process.execPath, path.join(root, 'usr/local/bin/node'));
    chmodSync(path.join(root, 'usr/local/bin/node'), 0o755);
    const stub = path.join(work, 'stub');
    mkdirSync(path.join(stub, 'DEBIAN'), { recursive: true });
    writeFileSync(path.join(stub, 'DEBIAN/control'), `Package: hafw-test-local-nodejs\nVersion: ${process.versions.node}\nArchitecture: all\nProvides: nodejs (= ${process.versions.node})\nMaintainer: hafw tests <hafw@localhost>\nDescription: Node.js installed in /usr/local (test stub)\n`);
    execFileSync('dpkg-deb', ['--root-owner-group', '--build', stub, path.join(root, 'tmp/local-nodejs.deb')], { stdio: 'ignore' });
    copyFileSync(deb, path.join(root, 'tmp/hafw.deb'));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const inRoot = (...args: string[]) => run('chroot', [root, ...args], { env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', LANG: 'C.UTF-8', HOME: '/root' } });

  it('declares its dependencies and conffiles, and ships no tests, lab, benchmarks or dev modules', () => {
    const info = run('dpkg-deb', ['-f', deb, 'Package', 'Version', 'Architecture', 'Depends']);
    assert.equal(info.code, 0, info.err);
    assert.match(info.out, /^Package: hafw$/m);
    assert.match(info.out, new RegExp(`^Version: ${VERSION.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(info.out, /^Depends: nodejs \(>= 20\.19\), iproute2$/m);
    // "mode owner size date time ./path[ -> target]" per entry.
    const list = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter(Boolean).map((l) => l.split(/\s+/)[5]!);
    for (const f of ['./usr/bin/hafw', './usr/lib/hafw/build/Release/hafw_native.node', './usr/lib/hafw/dist/node/cli/main.js', './usr/lib/hafw/dist/build-info.json',
      './etc/hafw/hafw.yaml', './etc/hafw/ruleset.nft', './usr/lib/systemd/system/hafw.service', './usr/lib/modules-load.d/hafw.conf',
      './usr/share/man/man8/hafw.8.gz', './usr/share/man/man8/hafw-node.8.gz', './usr/share/man/man8/hafw-ruleset.8.gz', './usr/lib/hafw/node_modules/fastify/package.json', './usr/share/bash-completion/completions/hafw']) {
      assert.ok(list.includes(f), `missing ${f}`);
    }
    // Every file the web console serves (console/assets.ts), where the installed node looks for it.
    const where = { web: './usr/lib/hafw/console/web/', lib: './usr/lib/hafw/dist/console/', modules: './usr/lib/hafw/node_modules/' };
    for (const a of Object.values(ASSETS)) assert.ok(list.includes(where[a.base] + a.file), `console file missing: ${where[a.base] + a.file}`);
    assert.deepEqual(list.filter((f) => /^\.\/usr\/lib\/hafw\/dist\/(.*\.test\.js(\.map)?|bench\/.*|fuzz\/.*)$/.test(f)), []);
    assert.deepEqual(list.filter((f) => /^\.\/usr\/lib\/hafw\/node_modules\/(mocha|typescript|@types|@seriousme)\//.test(f)), [], 'devDependencies');
    assert.deepEqual(list.filter((f) => f.startsWith('./usr/lib/hafw/dist/cluster-tests/') && f.endsWith('.js')).sort(), ['./usr/lib/hafw/dist/cluster-tests/tools/drill-agent.js', './usr/lib/hafw/dist/cluster-tests/tools/traffic.js']);
    const conffiles = spawnSync('sh', ['-c', `dpkg-deb --ctrl-tarfile '${deb}' | tar -xO ./conffiles`], { encoding: 'utf8' }).stdout;
    assert.deepEqual(conffiles.trim().split('\n'), ['/etc/hafw/hafw.yaml', '/etc/hafw/ruleset.nft']);
  });

  it('installs into a fresh Debian root; hafw --version and node --check of the sample config work there', () => {
    const bare = inRoot('dpkg', '-i', '/tmp/hafw.deb');
    assert.notEqual(bare.code, 0, 'without Node.js >= 20.19 registered, dpkg refuses it');
    assert.match(bare.err, /depends on nodejs \(>= 20\.19\)/);
    const i = inRoot('dpkg', '-i', '/tmp/local-nodejs.deb', '/tmp/hafw.deb');
    assert.equal(i.code, 0, i.err + i.out);
    const v = inRoot('hafw', '--version');
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, new RegExp(`^hafw ${VERSION.replace(/\./g, '\\.')} \\(commit ([0-9a-f]{12}(-dirty)?|unknown), Node\\.js ${process.versions.node}\\)\\n$`));
    const c = inRoot('hafw', 'node', '--config', '/etc/hafw/hafw.yaml', '--check');
    assert.equal(c.code, 0, c.err);
    assert.match(c.out, /^\/etc\/hafw\/hafw\.yaml: ok: node fw1; ruleset \/etc\/hafw\/ruleset\.nft: 1 tables, 1 chains, 3 rules, 0 sets$/m);
    // And a broken one is refused with its place, in the installed tree too.
    writeFileSync(path.join(root, 'tmp/bad.yaml'), 'node:\n  name: fw1\ndatapath:\n  batchSize: 0\n');
    const b = inRoot('hafw', 'node', '--config', '/tmp/bad.yaml', '--check');
    assert.equal(b.code, 1);
    assert.match(b.err, /^\/tmp\/bad\.yaml:4: datapath\.batchSize: /m);
  });

  it('its unit passes systemd-analyze verify and its man pages render with man -l', function () {
    if (!existsSync(path.join(root, 'usr/lib/hafw'))) this.skip(); // the install above failed
    if (run('systemd-analyze', ['--version']).code === 0) {
      // systemd-analyze checks ExecStart= paths and runs man for Documentation=: point
      // both into the installed tree (the unit's only change).
      const unit = path.join(work, 'hafw.service');
      writeFileSync(unit, readFileSync(path.join(root, 'usr/lib/systemd/system/hafw.service'), 'utf8').replaceAll('/usr/bin/hafw', path.join(root, 'usr/bin/hafw')));
      const v = run('systemd-analyze', ['verify', unit], { env: { ...process.env, MANPATH: path.join(root, 'usr/share/man') } });
      assert.equal(v.code, 0, v.err);
      assert.equal(v.err.trim(), '');
    }
    if (run('man', ['--version']).code === 0) {
      for (const page of ['hafw', 'hafw-node', 'hafw-ruleset']) {
        const m = run('man', ['-l', path.join(root, `usr/share/man/man8/${page}.8.gz`)], { env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100' } });
        assert.equal(m.code, 0, m.err);
        assert.equal(m.err, '', page);
        const text = m.out.replace(/.\x08/g, '');
        assert.match(text, new RegExp(`^NAME\\n\\s+${page} - `, 'm'), page);
        if (page === 'hafw-node') assert.match(text, /--check\s+only check FILE/);
        if (page === 'hafw-ruleset') assert.match(text, /^ {3}hafw ruleset check$/m, 'each subcommand has its section');
      }
    }
  });

  it('purges cleanly: program, config and state gone', function () {
    if (!existsSync(path.join(root, 'usr/lib/hafw'))) this.skip();
    const p = inRoot('dpkg', '--purge', 'hafw');
    assert.equal(p.code, 0, p.err);
    for (const d of ['usr/lib/hafw', 'etc/hafw', 'usr/bin/hafw', 'usr/lib/systemd/system/hafw.service']) assert.ok(!existsSync(path.join(root, d)), d);
  });
});
