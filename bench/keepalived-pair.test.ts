import assert from 'node:assert/strict';
import { countBecameMaster } from './keepalived-pair.js';

describe('takeover bench: counting entries into master state in a VRRP log', () => {
  it('keepalived: counts "(VI_1) Entering MASTER STATE" only', () => {
    const log = [
      'Mon Dec  7 19:40:01 2026: (VI_1) Entering BACKUP STATE (init)',
      'Mon Dec  7 19:40:02 2026: (VI_1) Receive advertisement timeout',
      'Mon Dec  7 19:40:02 2026: (VI_1) Entering MASTER STATE',
      'Mon Dec  7 19:40:02 2026: (VI_1) setting VIPs.',
      'Mon Dec  7 19:40:03 2026: (VI_1) Master received advert from 192.0.2.2 with higher priority 200, ours 100',
      'Mon Dec  7 19:40:03 2026: (VI_1) Entering BACKUP STATE',
      'Mon Dec  7 19:40:04 2026: (VI_1) Entering MASTER STATE',
    ];
    assert.equal(countBecameMaster(log, 'keepalived'), 2);
  });
  it('hafw: counts vrrp.state events to master, not takeover summaries or other transitions', () => {
    const log = [
      '{"level":30,"node":"fwb","event":"vrrp.state","from":"initialize","to":"backup","msg":"vrrp initialize -> backup"}',
      '{"level":30,"node":"fwb","event":"vrrp.state","from":"backup","to":"master","reason":"masterDown","msg":"vrrp backup -> master"}',
      '{"level":30,"node":"fwb","reason":"masterDown","total_ms":6.7,"msg":"vrrp takeover"}',
      '{"level":30,"node":"fwb","event":"vrrp.state","from":"master","to":"backup","msg":"vrrp master -> backup"}',
      'Error: something printed by hand "to":"master"',
      '{"level":30,"event":"vrrp.state","to":"mas',
    ];
    assert.equal(countBecameMaster(log, 'hafw'), 1);
  });
});
