/**
 * A VRRP master whose main thread stalls: runs the node's VrrpService on one interface
 * (no peer, so it becomes master), then blocks the main thread with a busy loop as a
 * heavy ruleset parse/compile would, then resigns. Prints JSON lines with wall-clock
 * times (ms) so a capture elsewhere can be matched: {"event":"master"|"blockStart"|
 * "blockEnd"|"stopping"|"stopped", "at": ...}. Run inside a test's own namespace.
 *
 *   node vrrp-stall.js IFNAME VIP/PREFIX INTERVAL_MS BLOCK_MS|ruleset [STALL_LIMIT_MS]
 *
 * `ruleset` blocks with a real load instead: the largest set the default caps accept
 * (maxElements), parsed, validated and compiled on this thread as the node does.
 */
import { pino } from 'pino';
import { VrrpService } from '../../node/ha/vrrp-service.js';
import type { VrrpConfig } from '../../node/daemon/config.js';
import { DEFAULT_LIMITS, RulesetEngine } from '../../node/ruleset/index.js';

const [ifname, vip, intervalText, blockText, stallLimitText] = process.argv.slice(2);
if (!ifname || !vip || !intervalText || !blockText) {
  process.stderr.write('usage: vrrp-stall IFNAME VIP/PREFIX INTERVAL_MS BLOCK_MS\n');
  process.exit(2);
}
const intervalMs = Number(intervalText);
const blockMs = Number(blockText);

function largestSet(): string {
  const els: string[] = [];
  for (let i = 0; i < DEFAULT_LIMITS.maxElements; i++) els.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  return `table inet t {\n  set s {\n    type ipv4_addr\n    elements = { ${els.join(',\n')} }\n  }\n  chain c { type filter hook forward priority 0; ip saddr @s drop }\n}\n`;
}
const rulesetText = blockText === 'ruleset' ? largestSet() : '';
const say = (event: string): void => void process.stdout.write(`${JSON.stringify({ event, at: Date.now() })}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const cfg: VrrpConfig = {
  interface: ifname, vrid: 51, priority: 200, advertIntervalMs: intervalMs, preempt: true, preemptDelayMs: 0,
  vips: [{ interface: ifname, address: vip }], groups: [{ name: 'vrid51', vrid: 51, priority: 200, vips: [{ interface: ifname, address: vip }] }], unicastPeers: [], track: [], announceRepeat: 1, announceSpacingMs: 100,
  notify: [], checksum: 'pseudoHeader', realtimePriority: 0, nice: 0, controlStallLimitMs: Number(stallLimitText ?? 5000),
};
const vrrp = new VrrpService(cfg, pino({ level: 'warn' }, pino.destination(2)));
vrrp.on((e) => {
  if (e.type === 'state' && e.to === 'master') say('master');
});
await vrrp.start();
while (vrrp.status()?.state !== 'master') await sleep(10);
await sleep(5 * intervalMs);
say('blockStart');
// The stall under test: nothing on this thread runs until it ends.
if (rulesetText) new RulesetEngine({ limits: DEFAULT_LIMITS }).load(rulesetText, 'largest.nft');
else {
  const until = performance.now() + blockMs;
  while (performance.now() < until);
}
say('blockEnd');
await sleep(5 * intervalMs);
say('stopping');
await vrrp.stop();
say('stopped');
process.exit(0);
