import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfigText } from './config.js';
import { SecretError, readApiToken, readNodeSecrets, readSyncKey } from './secrets.js';

const HEX_KEY = 'c0ffee'.repeat(11).slice(0, 64);
const TOKEN = 'token-0123456789abcdef';

describe('secret files (sync key, API token)', () => {
  let dir: string;
  let warnings: { obj: object }[];
  const log = { warn: (obj: object) => void warnings.push({ obj }) };

  /** A file with exactly `mode`, whatever the umask. */
  function file(name: string, text: string | Buffer, mode: number): string {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    chmodSync(f, mode);
    return f;
  }

  function config(extra: string): ReturnType<typeof parseConfigText> {
    return parseConfigText(`node: {name: fwa}\n${extra}`, 'fwa.yaml');
  }

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-secrets-'));
    warnings = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a 0644 key file with a message naming the setting, the file and its mode', async () => {
    const f = file('sync.key', `${HEX_KEY}\n`, 0o644);
    const c = config(`sync:\n  interface: sync\n  keyFile: ${f}\n`);
    await assert.rejects(() => readNodeSecrets(c, log), (err: unknown) => {
      assert.ok(err instanceof SecretError);
      assert.match(err.message, new RegExp(`^sync\\.keyFile ${f.replace(/[.]/g, '\\.')}: mode 0644 gives its group and other users access \\(chmod 600 `));
      assert.match(err.message, /security\.secretFileMode: warn/);
      assert.ok(!err.message.includes(HEX_KEY.slice(0, 16)), 'no key content');
      return true;
    });
    assert.equal(warnings.length, 0);
  });

  it('refuses a 0666 token file, and a 0640 one (group access is access)', async () => {
    const f = file('api.token', `${TOKEN}\n`, 0o666);
    await assert.rejects(() => readApiToken(f, 'refuse', log), /^Error: api\.tokenFile .*api\.token: mode 0666 gives its group and other users access/);
    chmodSync(f, 0o640);
    await assert.rejects(() => readApiToken(f, 'refuse', log), /mode 0640 gives its group access/);
  });

  it('reads 0600 (and 0400) secret files without a word', async () => {
    const k = file('sync.key', `${HEX_KEY}\n`, 0o600);
    const t = file('api.token', `${TOKEN}\n`, 0o400);
    const s = await readNodeSecrets(config(`sync:\n  interface: sync\n  keyFile: ${k}\napi:\n  listen: 127.0.0.1:8470\n  tokenFile: ${t}\n`), log);
    assert.deepEqual(Buffer.from(s.syncKey!).toString('hex'), HEX_KEY);
    assert.equal(s.apiToken, TOKEN);
    assert.equal(warnings.length, 0);
  });

  it('with security.secretFileMode: warn, starts with a warning naming each file and its mode', async () => {
    const k = file('sync.key', `${HEX_KEY}\n`, 0o644);
    const t = file('api.token', `${TOKEN}\n`, 0o666);
    const c = config(`security:\n  secretFileMode: warn\nsync:\n  interface: sync\n  keyFile: ${k}\napi:\n  listen: 127.0.0.1:8470\n  tokenFile: ${t}\n`);
    const s = await readNodeSecrets(c, log);
    assert.equal(Buffer.from(s.syncKey!).toString('hex'), HEX_KEY);
    assert.equal(s.apiToken, TOKEN);
    assert.equal(warnings.length, 2);
    assert.deepEqual(warnings.map((w) => w.obj), [
      { event: 'security.secretFileMode', setting: 'sync.keyFile', file: k, mode: '0644', uid: process.getuid!() },
      { event: 'security.secretFileMode', setting: 'api.tokenFile', file: t, mode: '0666', uid: process.getuid!() },
    ]);
  });

  it('a config file holding sync.key inline is a secret file too', async () => {
    const cf = file('fwa.yaml', `node: {name: fwa}\nsync:\n  interface: sync\n  key: ${HEX_KEY}\n`, 0o644);
    const c = config(`sync:\n  interface: sync\n  key: ${HEX_KEY}\n`);
    await assert.rejects(() => readNodeSecrets(c, log, cf), /config file \(it holds sync\.key\) .*fwa\.yaml: mode 0644/);
    chmodSync(cf, 0o600);
    assert.equal(Buffer.from((await readNodeSecrets(c, log, cf)).syncKey!).toString('hex'), HEX_KEY);
  });

  it('a malformed key is described by its length, never shown', async () => {
    const secretish = 'hunter2-correct-horse';
    const f = file('sync.key', `${secretish}\n`, 0o600);
    const s = config(`sync:\n  interface: sync\n  keyFile: ${f}\n`).sync!;
    await assert.rejects(() => readSyncKey(s, 'refuse', log), (err: unknown) => {
      assert.match((err as Error).message, /needs at least 32 bytes .*has 22 bytes$/);
      assert.ok(!(err as Error).message.includes('hunter2'), (err as Error).message);
      return true;
    });
    // Hex digits only, one short: meant as hex, refused (not taken as 63 raw bytes).
    writeFileSync(f, HEX_KEY.slice(0, 63));
    await assert.rejects(() => readSyncKey(s, 'refuse', log), (err: unknown) => {
      assert.match((err as Error).message, /has 63 characters$/);
      assert.ok(!(err as Error).message.includes(HEX_KEY.slice(0, 12)));
      return true;
    });
    // Inline in the config: the config error gives the length only.
    const bad = `${'9f'.repeat(31)}zz`;
    assert.throws(() => config(`sync:\n  interface: sync\n  key: "${bad}"\n`), (err: unknown) => {
      assert.match((err as Error).message, /^fwa\.yaml:4: sync\.key: expected at least 32 bytes in hex .*got a string of 64 characters \(not shown: it is a secret\)$/);
      assert.ok(!(err as Error).message.includes('9f9f9f'), (err as Error).message);
      return true;
    });
  });

  it('security.secretFileMode takes refuse (default) or warn', () => {
    assert.equal(config('').security.secretFileMode, 'refuse');
    assert.throws(() => config('security:\n  secretFileMode: ignore\n'), /fwa\.yaml:3: security\.secretFileMode: expected one of refuse, warn, got "ignore"/);
  });
});
