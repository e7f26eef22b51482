import assert from 'node:assert/strict';
import { engine, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { ClassifyContext, Hook, Verdict } from '../context.js';
import { parsePacket } from '../../packet/parse.js';
import { buildUdp } from '../../packet/build.js';

const V4 = buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 2 });
const V6 = buildUdp({ src: '2001:db8::1', dst: '2001:db8:1::1', sport: 1, dport: 2 });

/** Does `RULE drop` drop the packet classified at `nowMs` (wall-clock ms, as the datapath's clock)? */
function dropsAt(rule: string, nowMs: number, pkt: Uint8Array = V4): boolean {
  const e = engine(`${rule} drop`);
  const ctx = new ClassifyContext();
  const copy = pkt.slice();
  parsePacket(ctx.pkt, copy, 0, copy.length, 0);
  ctx.nowMs = nowMs;
  return e.compiled.classify(ctx, Hook.Forward) === Verdict.Drop;
}

function loadError(rule: string): string {
  try {
    new RulesetEngine().load(`table inet t { chain c { type filter hook forward priority 0;\n${rule}\n} }`, 'x.nft');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

/** Runs `f` with the process in time zone `tz` (TZ is read at each conversion). */
function inZone(tz: string, f: () => void): void {
  const old = process.env.TZ;
  process.env.TZ = tz;
  try {
    f();
  } finally {
    if (old === undefined) delete process.env.TZ;
    else process.env.TZ = old;
  }
}

// Monday 7 December 2026, 09:30:15 UTC.
const MON_0930_UTC = Date.UTC(2026, 11, 7, 9, 30, 15);

describe('meta hour, meta day, meta time (the node\'s local time)', () => {
  for (const [fam, pkt] of [['IPv4', V4], ['IPv6', V6]] as const) {
    it(`in UTC: time of day, day of week, date (${fam})`, () => {
      inZone('UTC', () => {
        assert.equal(dropsAt('meta hour "08:00"-"17:00"', MON_0930_UTC, pkt), true);
        assert.equal(dropsAt('meta hour "09:31"-"17:00"', MON_0930_UTC, pkt), false);
        assert.equal(dropsAt('meta hour < "09:30:16"', MON_0930_UTC, pkt), true);
        assert.equal(dropsAt('meta hour < "09:30:15"', MON_0930_UTC, pkt), false);
        assert.equal(dropsAt('meta day "Monday"', MON_0930_UTC, pkt), true);
        assert.equal(dropsAt('meta day 1', MON_0930_UTC, pkt), true);
        assert.equal(dropsAt('meta day { "Saturday", "Sunday" }', MON_0930_UTC, pkt), false);
        assert.equal(dropsAt('meta time "2026-01-01 00:00:00"-"2026-12-31 23:59:59"', MON_0930_UTC, pkt), true);
        assert.equal(dropsAt('meta time < "2026-12-07 09:30:15"', MON_0930_UTC, pkt), false);
        assert.equal(dropsAt('meta time >= "2026-12-07"', MON_0930_UTC, pkt), true);
      });
    });
  }

  it('in the node\'s zone: Europe/Berlin is UTC+1 in December, UTC+2 in July; Pacific/Kiritimati is on Tuesday already', () => {
    inZone('Europe/Berlin', () => {
      assert.equal(dropsAt('meta hour "10:30"-"10:31"', MON_0930_UTC), true, '09:30 UTC is 10:30 in Berlin');
      assert.equal(dropsAt('meta hour "09:30"-"09:31"', MON_0930_UTC), false);
      assert.equal(dropsAt('meta hour "11:30"-"11:31"', Date.UTC(2026, 6, 6, 9, 30, 15)), true, 'summer time');
      // The date is local too: midnight in Berlin is 23:00 UTC the day before.
      assert.equal(dropsAt('meta time >= "2026-12-07"', Date.UTC(2026, 11, 6, 23, 0, 0)), true);
      assert.equal(dropsAt('meta time >= "2026-12-07"', Date.UTC(2026, 11, 6, 22, 59, 59)), false);
    });
    inZone('Pacific/Kiritimati', () => {
      assert.equal(dropsAt('meta day "Tuesday"', Date.UTC(2026, 11, 7, 11, 0, 0)), true, 'UTC+14');
    });
  });

  it('a range across midnight is the rest of the day, read and listed as nft does', () => {
    inZone('UTC', () => {
      const night = 'meta hour "22:00"-"06:00"';
      assert.equal(dropsAt(night, Date.UTC(2026, 11, 7, 23, 0, 0)), true);
      assert.equal(dropsAt(night, Date.UTC(2026, 11, 7, 5, 0, 0)), true);
      assert.equal(dropsAt(night, Date.UTC(2026, 11, 7, 12, 0, 0)), false);
    });
    assert.deepEqual(roundTrips('meta hour "22:00"-"06:00" drop', 'meta hour != "06:00"-"22:00" drop')[0], {
      match: { op: '!=', left: { meta: { key: 'hour' } }, right: { range: ['06:00', '22:00'] } },
    });
  });

  it('listed and written as nft 1.0.6 lists them', () => {
    const meta = (key: string) => ({ meta: { key } });
    assert.deepEqual(roundTrips('meta hour "08:00"-"17:00" accept')[0], { match: { op: '==', left: meta('hour'), right: { range: ['08:00', '17:00'] } } });
    assert.deepEqual(roundTrips('meta hour < "06:30" drop')[0], { match: { op: '<', left: meta('hour'), right: '06:30' } });
    assert.deepEqual(roundTrips('meta day 3 drop', 'meta day "Wednesday" drop')[0], { match: { op: '==', left: meta('day'), right: 'Wednesday' } });
    assert.deepEqual(roundTrips('meta day { "Sunday", "Saturday" } drop')[0], { match: { op: '==', left: meta('day'), right: { set: ['Sunday', 'Saturday'] } } });
    assert.deepEqual(roundTrips('meta time < "2026-06-01" drop', 'meta time < "2026-06-01 00:00:00" drop')[0], { match: { op: '<', left: meta('time'), right: '2026-06-01 00:00:00' } });
    assert.deepEqual(roundTrips('meta time "2026-01-01 00:00:00"-"2026-12-31 23:59:59" accept')[0], {
      match: { op: '==', left: meta('time'), right: { range: ['2026-01-01 00:00:00', '2026-12-31 23:59:59'] } },
    });
  });

  it('refuses what is no time, day or date, at its place', () => {
    assert.match(loadError('meta hour "25:00" drop'), /^x\.nft:2:11: '25:00' is not a time of day/);
    assert.match(loadError('meta day "Funday" drop'), /^x\.nft:2:10: 'Funday' is not a day of the week/);
    assert.match(loadError('meta day 7 drop'), /^x\.nft:2:10: '7' is not a day of the week/);
    assert.match(loadError('meta time "2026-02-30" drop'), /^x\.nft:2:11: '2026-02-30' is not a date/);
    assert.match(loadError('meta time "yesterday" drop'), /^x\.nft:2:11: 'yesterday' is not a date/);
  });
});
