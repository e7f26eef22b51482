#!/usr/bin/env node
// npm run package:deb: dist/hafw_<version>_<arch>.deb, built with dpkg-deb from the
// compiled tree (npm run build first; the npm script does). What ships follows the
// Dockerfile's rules: the compiled node and CLI without the lab, benchmarks, fuzzers and
// tests; production node_modules only (from package-lock.json, nothing downloaded); the
// built native addon. Layout:
//   /usr/lib/hafw                    package.json, bin/, dist/, console/web/, build/Release/hafw_native.node, node_modules/
//   /usr/bin/hafw                    -> ../lib/hafw/bin/hafw.js
//   /etc/hafw/hafw.yaml, ruleset.nft samples (conffiles: an upgrade keeps the operator's)
//   /usr/lib/systemd/system/hafw.service, /usr/lib/modules-load.d/hafw.conf
//   /usr/share/man/man8/hafw.8.gz, hafw-<command>.8.gz (from the shipped CLI's --help texts)
//   /usr/share/bash-completion/completions/hafw (hafw completion bash)
//   /usr/share/doc/hafw/             README.md, docs/*.md, copyright
// Env: HAFW_DEB_OUT=DIR (default dist/), SOURCE_DATE_EPOCH (man page date, file times).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (m) => process.stderr.write(`package-deb: ${m}\n`);
const fail = (m) => {
  say(m);
  process.exit(1);
};

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const version = pkg.version;
const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
const addon = path.join(ROOT, 'build/Release/hafw_native.node');
if (!existsSync(path.join(ROOT, 'dist/node/cli/main.js'))) fail('dist/ is not built: run npm run build (npm run package:deb does)');
if (!existsSync(addon)) fail('build/Release/hafw_native.node is missing: build the addon (npm ci, or npm run install)');
const nodeMin = /^>=\s*([\d.]+)$/.exec(pkg.engines?.node ?? '')?.[1] ?? fail('package.json engines.node must be ">=X.Y"');
const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? Math.floor(Date.now() / 1000));
const date = new Date(epoch * 1000).toISOString().slice(0, 10);

const work = mkdtempSync(path.join(tmpdir(), 'hafw-deb-'));
const root = path.join(work, 'root');
const lib = path.join(root, 'usr/lib/hafw');
try {
  // --- the program ---
  mkdirSync(lib, { recursive: true });
  cpSync(path.join(ROOT, 'package.json'), path.join(lib, 'package.json'));
  cpSync(path.join(ROOT, 'bin'), path.join(lib, 'bin'), { recursive: true });
  mkdirSync(path.join(lib, 'build/Release'), { recursive: true });
  cpSync(addon, path.join(lib, 'build/Release/hafw_native.node'));
  // dist/ as the Dockerfile ships it: no lab, benchmarks, fuzzers or tests, except the two
  // traffic tools of the compose stack; never an earlier package lying in dist/.
  const keepTools = new Set(['dist/cluster-tests/tools/traffic.js', 'dist/cluster-tests/tools/drill-agent.js']);
  cpSync(path.join(ROOT, 'dist'), path.join(lib, 'dist'), {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(ROOT, src);
      if (rel === 'dist') return true;
      if (/\.deb$/.test(rel) || /\.test\.js(\.map)?$/.test(rel)) return false;
      if (rel === 'dist/bench' || rel.startsWith('dist/bench/') || rel === 'dist/fuzz' || rel.startsWith('dist/fuzz/')) return false;
      if (rel.startsWith('dist/cluster-tests')) {
        if (lstatSync(src).isDirectory()) return rel === 'dist/cluster-tests' || rel === 'dist/cluster-tests/tools';
        return keepTools.has(rel);
      }
      return true;
    },
  });
  // The web console's pages (console/web: served as written, no build step); its compiled
  // modules are in dist/console, its browser libraries in the production node_modules.
  cpSync(path.join(ROOT, 'console/web'), path.join(lib, 'console/web'), { recursive: true });
  copyProductionModules(path.join(lib, 'node_modules'));

  // --- commands, config, units ---
  mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  symlinkSync('../lib/hafw/bin/hafw.js', path.join(root, 'usr/bin/hafw'));
  chmodSync(path.join(lib, 'bin/hafw.js'), 0o755);
  const etc = path.join(root, 'etc/hafw');
  mkdirSync(etc, { recursive: true });
  cpSync(path.join(ROOT, 'deploy/debian/hafw.yaml'), path.join(etc, 'hafw.yaml'));
  cpSync(path.join(ROOT, 'deploy/debian/ruleset.nft'), path.join(etc, 'ruleset.nft'));
  const unitDir = path.join(root, 'usr/lib/systemd/system');
  mkdirSync(unitDir, { recursive: true });
  cpSync(path.join(ROOT, 'deploy/systemd/hafw.service'), path.join(unitDir, 'hafw.service'));
  mkdirSync(path.join(root, 'usr/lib/modules-load.d'), { recursive: true });
  cpSync(path.join(ROOT, 'deploy/modules-load.d/hafw.conf'), path.join(root, 'usr/lib/modules-load.d/hafw.conf'));

  // --- man pages and bash completion, from the shipped tree's own --help ---
  await writeManPages(path.join(root, 'usr/share/man/man8'));
  const completions = path.join(root, 'usr/share/bash-completion/completions');
  mkdirSync(completions, { recursive: true });
  const compl = spawnSync(process.execPath, [path.join(lib, 'bin/hafw.js'), 'completion', 'bash'], { encoding: 'utf8', env: { ...process.env, HAFW_DIST: '' } });
  if (compl.status !== 0) fail(`hafw completion bash failed: ${compl.stderr}`);
  writeFileSync(path.join(completions, 'hafw'), compl.stdout);

  // --- documentation ---
  const doc = path.join(root, 'usr/share/doc/hafw');
  mkdirSync(doc, { recursive: true });
  cpSync(path.join(ROOT, 'README.md'), path.join(doc, 'README.md'));
  for (const f of readdirSync(path.join(ROOT, 'docs'))) if (/\.(md|svg)$/.test(f)) cpSync(path.join(ROOT, 'docs', f), path.join(doc, f));
  writeFileSync(path.join(doc, 'copyright'), `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: hafw\n\nFiles: *\nLicense: ${pkg.license}\n\nFiles: usr/lib/hafw/node_modules/*\nComment: each module's own license file is shipped in its directory.\n`);

  // --- control ---
  const debian = path.join(root, 'DEBIAN');
  mkdirSync(debian);
  for (const s of ['postinst', 'prerm', 'postrm']) {
    cpSync(path.join(ROOT, 'deploy/debian', s), path.join(debian, s));
    chmodSync(path.join(debian, s), 0o755);
  }
  writeFileSync(path.join(debian, 'conffiles'), '/etc/hafw/hafw.yaml\n/etc/hafw/ruleset.nft\n');
  const installedKb = Number(execFileSync('du', ['-sk', '--exclude=DEBIAN', root], { encoding: 'utf8' }).split('\t')[0]);
  writeFileSync(path.join(debian, 'control'), [
    'Package: hafw',
    `Version: ${version}`,
    `Architecture: ${arch}`,
    'Maintainer: hafw developers <hafw@localhost>',
    `Installed-Size: ${installedKb}`,
    // The addon is N-API (one build serves every Node from 20.19 on). Debian 13 ships
    // nodejs 20.19; on Debian 12 take NodeSource's nodejs 20/22 package (docs/deploy-hosts.md).
    `Depends: nodejs (>= ${nodeMin}), iproute2`,
    'Suggests: conntrack, nftables',
    'Section: net',
    'Priority: optional',
    `Homepage: file:///usr/share/doc/hafw/README.md`,
    'Description: high-availability firewall cluster node',
    ' A user-space stateful packet filter on a TUN device with an nftables-style rule',
    ' language, connection tracking and NAT replicated to the standby node, and VRRPv3',
    ' takeover of the virtual addresses, so established connections survive a failover.',
    '',
  ].join('\n'));

  // Same tree, same package: fixed times (dpkg-deb keeps them), owners root.
  for (const f of walk(root)) utimesSync(f, epoch, epoch);
  const outDir = path.resolve(process.env.HAFW_DEB_OUT ?? path.join(ROOT, 'dist'));
  mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `hafw_${version}_${arch}.deb`);
  const r = spawnSync('dpkg-deb', ['--root-owner-group', '-Zxz', '-z3', '--build', root, out], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });
  if (r.status !== 0) fail(`dpkg-deb failed (${r.status})`);
  say(`${out}: ${(statSync(out).size / 1e6).toFixed(1)} MB, installed ${(installedKb / 1024).toFixed(1)} MB`);
  console.log(out);
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** Every file and directory under dir (symlinks not followed). */
function* walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    if (!e.isSymbolicLink()) yield p;
  }
  yield dir;
}

/**
 * The packages package-lock.json marks as needed at run time (not "dev"), copied from the
 * installed node_modules; an optional one absent here (another platform's build) is skipped.
 * Each is copied without its nested node_modules, which are entries of their own.
 */
function copyProductionModules(dest) {
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const installed = realpathSync(path.join(ROOT, 'node_modules'));
  let count = 0;
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    if (!key.startsWith('node_modules/') || entry.dev || entry.devOptional || entry.link) continue;
    const src = path.join(installed, key.slice('node_modules/'.length));
    if (!existsSync(src)) {
      if (entry.optional) continue;
      fail(`${key} is in package-lock.json but not installed: run npm ci`);
    }
    const to = path.join(dest, key.slice('node_modules/'.length));
    cpSync(src, to, { recursive: true, filter: (p) => !path.relative(src, p).split(path.sep).includes('node_modules') });
    count++;
  }
  say(`${count} production modules`);
}

/** hafw(8) and hafw-<command>(8) from the staged tree's --help (what the package runs). */
async function writeManPages(dir) {
  mkdirSync(dir, { recursive: true });
  const { manPage, listedCommands } = await import(pathToFileURL(path.join(ROOT, 'dist/node/cli/man-page.js')).href);
  const help = (...args) => {
    const r = spawnSync(process.execPath, [path.join(lib, 'bin/hafw.js'), ...args, '--help'], { encoding: 'utf8', env: { ...process.env, HAFW_DIST: '' } });
    return r.status === 0 ? r.stdout : undefined;
  };
  const top = help() ?? fail('the staged hafw --help failed');
  const commands = listedCommands(top, 'commands:');
  const shipped = commands.filter((c) => help(c.name) !== undefined);
  const gz = (name, text) => writeFileSync(path.join(dir, `${name}.8.gz`), gzipSync(text, { level: 9 }));
  gz('hafw', manPage({ name: 'hafw', section: 8, summary: 'high-availability firewall node and tools', help: top, version, date, seeAlso: shipped.map((c) => `hafw-${c.name}(8)`) }));
  for (const c of shipped) {
    const text = help(c.name);
    const subsections = listedCommands(text, 'subcommands:').flatMap((s) => {
      const h = help(c.name, s.name);
      return h ? [{ title: `hafw ${c.name} ${s.name}`, help: h }] : [];
    });
    gz(`hafw-${c.name}`, manPage({ name: `hafw-${c.name}`, section: 8, summary: c.summary, help: text, subsections, version, date, seeAlso: ['hafw(8)'] }));
  }
  const skipped = commands.filter((c) => !shipped.includes(c)).map((c) => c.name);
  say(`man pages: hafw and ${shipped.length} commands${skipped.length ? ` (no page for ${skipped.join(', ')}: not in the package)` : ''}`);
}
