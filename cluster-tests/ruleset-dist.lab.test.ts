/**
 * @lab ruleset distribution between the two nodes of the lab pair (VRRP + sync): a
 * transaction on the master reaches the backup; a backup stopped while the cluster moved
 * on comes back at the current version before it counts as ready for VRRP; a ruleset
 * changed on the backup behind the cluster's back is reported as drift and repaired; a
 * rollback reaches both nodes. Times are printed (the figures go to docs), never asserted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab, STRICT_RULESET } from './lab.js';
import { until } from './lab-poll.js';

/** A node's log line; the facts are the structured fields (`event` names what happened). */
interface LogLine {
  time: number;
  event?: string;
  via?: string;
  repair?: boolean;
  drift?: boolean;
  version?: number;
  inSync?: boolean;
  to?: string;
  [k: string]: unknown;
}

interface VersionStatus {
  version: number;
  hash: string;
  ready: boolean;
  drift: boolean;
  nodes: { name: string; version: number; hash: string }[];
}

describe('@lab ruleset-dist: cluster-wide ruleset versions on the VRRP pair', function () {
  this.timeout(180000);
  let lab: Lab;
  let dir: string;

  const version = async (fw: string): Promise<VersionStatus> => {
    const out = await lab.hafw(fw, ['ruleset', 'show', '--cluster', '--json']).catch((e: Error & { stdout?: string }) => e.stdout ?? '');
    return JSON.parse(out) as VersionStatus;
  };
  const logLines = async (fw: string, since = 0): Promise<LogLine[]> =>
    (await readFile(lab.node(fw).logFile, 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine & { time: number | string })
      // pino writes ISO times here; compare as ms.
      .map((l) => ({ ...l, time: typeof l.time === 'string' ? Date.parse(l.time) : l.time }))
      .filter((l) => l.time >= since);

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hafw-dist-lab-'));
    for (const fw of ['fwa', 'fwb']) await writeFile(path.join(dir, `${fw}.nft`), STRICT_RULESET);
    lab = await Lab.up({
      nodes: 2,
      vrrp: true,
      extraConfig: (fw) => `ruleset:\n  file: ${path.join(dir, `${fw.name}.nft`)}\n  stateDir: ${path.join(dir, `state-${fw.name}`)}\n  driftGraceMs: 5000\n`,
    });
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
  });
  after(async () => {
    await Lab.down();
    await rm(dir, { recursive: true, force: true });
  });

  it('a transaction applied on the master appears on the backup (UPDATE), same version and hash', async () => {
    const before = await version('fwa');
    // An UPDATE applies only on its base: a backup still proving its startup version (a
    // fetch in flight on a loaded machine) would rightly fetch instead. Start from a settled pair.
    await until('backup settled at the master\'s version', () => version('fwb'), (s) => s.ready && s.version === before.version && s.hash === before.hash);
    const out = await lab.hafw('fwa', ['ruleset', 'apply', 'add rule inet filter forward tcp dport 5001 accept']);
    const m = /version (\d+)/.exec(out);
    assert.ok(m, out);
    const v = Number(m[1]);
    assert.equal(v, before.version + 1);
    const b = await until('backup at the new version', () => version('fwb'), (s) => s.version === v);
    const a = await version('fwa');
    assert.equal(b.hash, a.hash);
    assert.match(await lab.hafw('fwb', ['ruleset', 'show']), /tcp dport 5001 accept/);
    // Commit on the master to apply on the backup, from both nodes' logs (same clock).
    const t0 = Date.now() - 60_000;
    const made = (await logLines('fwa', t0)).find((l) => l.event === 'ruleset-dist.version' && l.via === 'local' && l.version === v)!;
    const applied = (await logLines('fwb', t0)).find((l) => l.event === 'ruleset-dist.version' && l.via === 'update' && l.version === v);
    const backupLog = async () => (await logLines('fwb', t0)).filter((l) => String(l.event ?? l.msg ?? '').includes('ruleset-dist')).map((l) => JSON.stringify(l)).join('\n');
    assert.ok(applied, `the backup applied the UPDATE (not a fetch); its ruleset-dist log:\n${applied ? '' : await backupLog()}`);
    console.log(`      master commit -> backup applied: ${applied.time - made.time} ms`);
  });

  it('the backup refuses a transaction with the master\'s name (exit 1)', async () => {
    await assert.rejects(lab.hafw('fwb', ['ruleset', 'apply', 'add rule inet filter forward tcp dport 5009 accept']), /not the ruleset writer.*fwa/s);
  });

  it('a backup stopped during two transactions comes back with the current version before it is ready for VRRP', async () => {
    await lab.stopNode('fwb');
    await lab.hafw('fwa', ['ruleset', 'apply', 'add rule inet filter forward tcp dport 5002 accept']);
    const out = await lab.hafw('fwa', ['ruleset', 'apply', 'add rule inet filter forward tcp dport 5003 accept']);
    const v = Number(/version (\d+)/.exec(out)![1]);
    const restartAt = Date.now();
    await lab.startNode('fwb');
    await lab.waitReady('fwb');
    await until('backup at the current version', () => version('fwb'), (s) => s.version === v && s.ready);
    const lines = await logLines('fwb', restartAt - 1000);
    const fetched = lines.findIndex((l) => l.event === 'ruleset-dist.version' && l.via === 'fetch' && !l.repair && l.version === v);
    const ready = lines.findIndex((l) => l.event === 'ruleset-dist.ready');
    assert.ok(fetched >= 0, 'fetched the current version');
    assert.ok(ready > fetched, 'ready only after the current version was applied');
    assert.equal(lines[ready]!.version, v);
    // No VRRP transition before that point may claim readiness.
    for (const l of lines.slice(0, ready)) if (l.event === 'vrrp.state') assert.notEqual(l.to, 'master', JSON.stringify(l));
    console.log(`      restarted backup: start -> current version ${lines[fetched]!.time - restartAt} ms`);
    assert.match(await lab.hafw('fwb', ['ruleset', 'show']), /tcp dport 5003 accept/);
  });

  it('another file given to the backup with SIGHUP is reported as drift, then repaired from the master', async () => {
    const since = Date.now();
    await writeFile(path.join(dir, 'fwb.nft'), STRICT_RULESET.replace('policy drop', 'policy accept'));
    process.kill(lab.node('fwb').pid, 'SIGHUP');
    const isRepair = (l: LogLine): boolean => l.event === 'ruleset-dist.version' && l.via === 'fetch' && l.repair === true;
    const lines = await until('drift reported and repaired', () => logLines('fwb', since), (ls) => ls.some(isRepair));
    const drift = lines.findIndex((l) => l.event === 'ruleset-dist.drift' && l.drift === true);
    const repaired = lines.findIndex(isRepair);
    assert.ok(drift >= 0 && repaired > drift, lines.map((l) => JSON.stringify(l)).join('\n'));
    console.log(`      drift: SIGHUP -> detected ${lines[drift]!.time - since} ms, -> repaired ${lines[repaired]!.time - since} ms`);
    const [a, b] = [await version('fwa'), await version('fwb')];
    assert.equal(b.hash, a.hash);
    assert.equal(b.drift, false);
    assert.match(await lab.hafw('fwb', ['ruleset', 'show']), /policy drop/);
    const metrics = await lab.hafw('fwb', ['metrics']);
    assert.match(metrics, /^hafw_ruleset_drift_detected_total\{[^}]*\} [1-9]/m);
    assert.match(metrics, /^hafw_ruleset_drift\{[^}]*\} 0$/m, 'repaired: the drift gauge is back to 0');
  });

  it('rollback on the master is a new version on both nodes', async () => {
    const out = await lab.hafw('fwa', ['ruleset', 'rollback', '1']);
    const v = Number(/version (\d+)/.exec(out)![1]);
    const b = await until('backup rolled back', () => version('fwb'), (s) => s.version === v);
    assert.equal(b.hash, (await version('fwa')).hash);
    assert.doesNotMatch(await lab.hafw('fwb', ['ruleset', 'show']), /tcp dport 500[123]/);
    assert.match(await lab.hafw('fwa', ['ruleset', 'history']), new RegExp(`^\\* ${v} .* rollback to 1$`, 'm'));
  });
});
