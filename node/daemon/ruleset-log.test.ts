import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { writeRulesetLog } from './ruleset-log.js';

function capture(level = 'info') {
  const out: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) out.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level }, stream), out };
}

describe('ruleset log lines in the node log (pino)', () => {
  it('one structured record per line, at the statement\'s level, with the kernel\'s text as msg', async () => {
    const { log, out } = capture();
    writeRulesetLog(log, { prefix: 'x: ', level: 'warn', line: 'IN=lan OUT=wan SRC=10.0.0.5 PROTO=UDP DPT=514', fields: { IN: 'lan', SRC: '10.0.0.5', DPT: '514' } });
    writeRulesetLog(log, { prefix: '', level: 'crit', line: 'IN=lan', fields: { IN: 'lan' } });
    writeRulesetLog(log, { prefix: '', level: 'notice', line: 'IN=wan', fields: { IN: 'wan' } });
    writeRulesetLog(log, { prefix: '', level: 'debug', line: 'IN=dmz', fields: {} });
    await new Promise(setImmediate);
    assert.equal(out.length, 3, 'debug is below the node log level info');
    assert.deepEqual({ ...out[0], time: undefined, pid: undefined, hostname: undefined }, {
      level: 40, time: undefined, pid: undefined, hostname: undefined,
      event: 'ruleset.log', prefix: 'x: ', nftLevel: 'warn', fields: { IN: 'lan', SRC: '10.0.0.5', DPT: '514' },
      msg: 'x: IN=lan OUT=wan SRC=10.0.0.5 PROTO=UDP DPT=514',
    });
    assert.deepEqual(out.slice(1).map((r) => [r.level, r.nftLevel]), [[60, 'crit'], [30, 'notice']]);
  });
});
