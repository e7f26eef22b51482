/** Every fuzz target, in the order a full run takes them. */
import type { FuzzTarget } from '../target.js';
import { syncWire } from './sync-wire.js';
import { rulesetDist } from './ruleset-dist.js';
import { vrrp } from './vrrp.js';
import { packet } from './packet.js';
import { defrag } from './defrag.js';
import { rulesetText, rulesetJson } from './ruleset.js';
import { config } from './config.js';
import { api } from './api.js';

export const TARGETS: readonly FuzzTarget[] = [syncWire, rulesetDist, vrrp, packet, defrag, rulesetText, rulesetJson, config, api];

export function targetNamed(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target '${name}' (targets: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}
