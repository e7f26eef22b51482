import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildUdp } from '../packet/build.js';
import { RulesetEngine } from './engine.js';
import { expandIncludes, MAX_INCLUDE_DEPTH, type IncludeOptions } from './includes.js';
import { Verdict } from './context.js';
import { verdict } from './modules/rule-test-kit.js';
import { refusal } from './test-refusal.js';

const v4 = (src: string): Uint8Array => buildUdp({ src, dst: '198.51.100.1', sport: 1, dport: 53, payload: 8 });
const v6 = (src: string): Uint8Array => buildUdp({ src, dst: '2001:db8:1::1', sport: 1, dport: 53, payload: 8 });

/** Loads `file` as the node does: includes expanded, errors mapped back. */
function load(file: string, text: string, opts: IncludeOptions = {}): RulesetEngine {
  const x = expandIncludes(text, file, opts);
  const e = new RulesetEngine();
  e.load(x.text, file, x.sources);
  return e;
}

describe('include', () => {
  let dir: string;
  const put = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hafw-include-'));
    mkdirSync(join(dir, 'etc'));
    mkdirSync(join(dir, 'rules.d'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('splices an included chain body where it is written, and its rules decide IPv4 and IPv6 packets', () => {
    put('blocked.nft', 'ip saddr 192.0.2.9 drop\nip6 saddr 2001:db8::9 drop\n');
    const main = put('main.nft', `table inet t {\n  chain fw {\n    type filter hook forward priority 0; policy accept;\n    include "${dir}/blocked.nft"\n    ip saddr 192.0.2.10 drop\n  }\n}\n`);
    const e = load(main, `table inet t {\n  chain fw {\n    type filter hook forward priority 0; policy accept;\n    include "${dir}/blocked.nft"\n    ip saddr 192.0.2.10 drop\n  }\n}\n`);
    assert.equal(verdict(e, v4('192.0.2.9')), Verdict.Drop);
    assert.equal(verdict(e, v4('192.0.2.10')), Verdict.Drop);
    assert.equal(verdict(e, v4('192.0.2.11')), Verdict.Accept);
    assert.equal(verdict(e, v6('2001:db8::9')), Verdict.Drop);
    assert.equal(verdict(e, v6('2001:db8::a')), Verdict.Accept);
    // The listing is the expanded ruleset (as nft lists it): it loads back the same, and so does its JSON.
    const listed = e.list();
    assert.match(listed, /ip saddr 192\.0\.2\.9 drop\n\t\tip6 saddr 2001:db8::9 drop\n\t\tip saddr 192\.0\.2\.10 drop/);
    const again = new RulesetEngine();
    again.load(listed);
    assert.equal(again.list(), listed);
    const fromJson = new RulesetEngine();
    fromJson.load(e.toJSON());
    assert.equal(fromJson.list(), listed);
    void main;
  });

  it('looks a plain name up in the include path (first directory holding it), ./ relative to the working directory', () => {
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'defs.nft'), 'define bad = 192.0.2.1\n');
    writeFileSync(join(dir, 'etc', 'defs.nft'), 'define bad = 192.0.2.2\n');
    const text = 'include "defs.nft"\ntable ip t { chain c { type filter hook forward priority 0; ip saddr $bad drop } }\n';
    const first = load(join(dir, 'main.nft'), text, { includePath: [other, join(dir, 'etc')] });
    assert.equal(verdict(first, v4('192.0.2.1')), Verdict.Drop);
    assert.equal(verdict(first, v4('192.0.2.2')), Verdict.Accept);
    const second = load(join(dir, 'main.nft'), text, { includePath: [join(dir, 'etc')] });
    assert.equal(verdict(second, v4('192.0.2.2')), Verdict.Drop);
    // As nft: a plain name is not looked for next to the including file.
    assert.match(refusal(() => load(join(other, 'main.nft'), text, { includePath: [join(dir, 'rules.d')] })), /main\.nft:1:1: File not found: defs\.nft \(searched the include path: .*rules\.d\)/);
    // ./ is the working directory's.
    const rel = load('main.nft', 'include "./other/defs.nft"\ntable ip t { chain c { type filter hook forward priority 0; ip saddr $bad drop } }\n', { cwd: dir });
    assert.equal(verdict(rel, v4('192.0.2.1')), Verdict.Drop);
  });

  it('includes a glob\'s matches in sorted order, never dot files; a glob matching nothing is fine', () => {
    // The later define wins, so the order is visible: 10-b after 02-a.
    writeFileSync(join(dir, 'rules.d', '10-b.nft'), 'define x = 192.0.2.2\n');
    writeFileSync(join(dir, 'rules.d', '02-a.nft'), 'define x = 192.0.2.1\n');
    writeFileSync(join(dir, 'rules.d', '.99-hidden.nft'), 'this would not parse\n');
    writeFileSync(join(dir, 'rules.d', 'README'), 'not matched either\n');
    mkdirSync(join(dir, 'rules.d', 'sub.nft'));
    const text = `include "${dir}/rules.d/*.nft"\ninclude "${dir}/empty.d/*.nft"\ninclude "${dir}/rules.d/[0-9][0-9]-?.nft"\ntable ip t { chain c { type filter hook forward priority 0; ip saddr $x drop } }\n`;
    const x = expandIncludes(text, 'main.nft');
    assert.deepEqual(x.files.map((f) => f.replace(dir, 'D')), ['main.nft', 'D/rules.d/02-a.nft', 'D/rules.d/10-b.nft', 'D/rules.d/02-a.nft', 'D/rules.d/10-b.nft']);
    const e = load('main.nft', text);
    assert.equal(verdict(e, v4('192.0.2.2')), Verdict.Drop);
    assert.equal(verdict(e, v4('192.0.2.1')), Verdict.Accept);
  });

  it('refuses a plain file that does not exist, at the include', () => {
    const text = `table ip t {\n  chain c {\n    include "${dir}/missing.nft"\n  }\n}\n`;
    assert.equal(refusal(() => load('main.nft', text)), `main.nft:3:5: File not found: ${dir}/missing.nft`);
  });

  it('reports an error in an included file at that file\'s line:col, a semantic one too', () => {
    const inc = put('bad.nft', '# a comment\nip saddr 192.0.2.1 acept\n');
    const msg = refusal(() => load('main.nft', `table ip t {\n  chain c {\n    include "${inc}"; ip saddr 192.0.2.3 drop\n  }\n}\n`));
    assert.equal(msg, `${inc}:2:20: unknown match or statement 'acept'`);
    const inc2 = put('jump.nft', 'ip saddr 192.0.2.1 jump nowhere\n');
    const msg2 = refusal(() => load('main.nft', `table ip t {\n  chain c {\n    include "${inc2}"\n    ip saddr 192.0.2.1 jump alsonowhere\n  }\n}\n`));
    assert.equal(msg2, `${inc2}:1:20: unknown chain 'nowhere'\nmain.nft:4:24: unknown chain 'alsonowhere'`);
    // Text after an include on its line keeps its column.
    const ok = put('ok.nft', 'ip saddr 192.0.2.1 drop\n');
    const msg3 = refusal(() => load('main.nft', `table ip t {\n  chain c {\n    include "${ok}"; ip saddr 192.0.2.1 frobnicate\n  }\n}\n`));
    assert.equal(msg3, `main.nft:3:${`    include "${ok}"; ip saddr 192.0.2.1 `.length + 1}: unknown match or statement 'frobnicate'`);
  });

  it('refuses an include cycle and nesting deeper than nft\'s 16 levels', () => {
    const a = join(dir, 'a.nft');
    const b = put('b.nft', `include "${a}"\n`);
    put('a.nft', `include "${b}"\n`);
    assert.match(refusal(() => expandIncludes(`include "${a}"\n`, 'main.nft')), new RegExp(`^${b}:1:1: include cycle: '${a}' is already being included`));
    // A chain of 17 distinct files.
    for (let i = 0; i <= MAX_INCLUDE_DEPTH + 1; i++) put(`d${i}.nft`, i === MAX_INCLUDE_DEPTH + 1 ? '\n' : `include "${dir}/d${i + 1}.nft"\n`);
    assert.match(refusal(() => expandIncludes(`include "${dir}/d1.nft"\n`, 'main.nft')), /d16\.nft:1:1: include nested too deeply: more than 16 levels/);
    assert.doesNotThrow(() => expandIncludes(`include "${dir}/d2.nft"\n`, 'main.nft'));
  });

  it('counts included text against ruleset.maxBytes before parsing it', () => {
    const big = put('big.nft', `# ${'x'.repeat(5000)}\n`);
    const text = `include "${big}"\ninclude "${big}"\n`;
    assert.match(refusal(() => expandIncludes(text, 'main.nft', { maxBytes: 8000 })), /main\.nft:2:1: with '.*big\.nft' the included files make the ruleset text more than ruleset\.maxBytes \(8000 bytes\)/);
    assert.doesNotThrow(() => expandIncludes(text, 'main.nft', { maxBytes: 12000 }));
  });

  it('is refused in text that does not come from a file (API, transactions), with the reason', () => {
    const e = new RulesetEngine();
    assert.match(refusal(() => e.load('include "/etc/passwd"\n', '<api>')), /^<api>:1:1: include reads files, so it is expanded only where a ruleset is read from a file/);
    assert.match(refusal(() => e.load('table ip t { chain c { include "/etc/passwd" } }', '<api>')), /^<api>:1:24: include reads files/);
    // An include in a string or a comment is not one.
    assert.doesNotThrow(() => load('main.nft', 'table ip t { comment "include \\"x\\""; } # include "y"\n'));
  });
});
