/**
 * `hafw import keepalived|conntrackd`: a node config written from the files of the
 * nftables + conntrackd + keepalived pair it replaces (docs/migrating.md). The sources are
 * read with a small parser of their shared format (braces.ts), mapped into a draft
 * (keepalived.ts, conntrackd.ts), and the draft is written as YAML in the config's own
 * names, with what could not be mapped listed at the top, each with file:line and why.
 */
import { stringify } from 'yaml';
import { parseBraces } from './braces.js';
import { fromConntrackd } from './conntrackd.js';
import { emptyDraft, type ConfigDraft, type Finding } from './draft.js';
import { fromKeepalived } from './keepalived.js';

export { BracesError, parseBraces } from './braces.js';
export type { ConfigDraft, Finding } from './draft.js';

export interface ImportSources {
  keepalived?: { file: string; text: string };
  conntrackd?: { file: string; text: string };
  /** node.name; default: keepalived's router_id, else `fallbackName`. */
  name?: string;
  fallbackName: string;
  /** sync.keyFile of the written config (conntrackd has no key). */
  keyFile: string;
  /** ruleset.file of the written config, if given. */
  rulesetFile?: string;
}

export interface ImportResult {
  draft: ConfigDraft;
  yaml: string;
}

/** Reads the sources (throws BracesError at a syntax error) and builds the config. */
export function importConfig(src: ImportSources): ImportResult {
  const d = emptyDraft();
  if (src.keepalived) fromKeepalived(parseBraces(src.keepalived.text, src.keepalived.file), src.keepalived.file, d);
  if (src.conntrackd) fromConntrackd(parseBraces(src.conntrackd.text, src.conntrackd.file), src.conntrackd.file, d, src.keyFile);
  if (src.name !== undefined) d.name = src.name;
  d.name ??= src.fallbackName;
  if (src.rulesetFile !== undefined) d.rulesetFile = src.rulesetFile;
  return { draft: d, yaml: draftToYaml(d, src) };
}

function findingLine(f: Finding): string {
  return `${f.file}:${f.line}: ${f.setting}: ${f.reason}`;
}

/** Drops undefined fields and empty lists, so defaults stay defaults. */
function compact<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))) as Partial<T>;
}

/** The node config as YAML, in the order of docs/configuration.md, headed by the findings. */
export function draftToYaml(d: ConfigDraft, src: Pick<ImportSources, 'keepalived' | 'conntrackd'>): string {
  const doc: Record<string, unknown> = { node: { name: d.name } };
  if (d.interfaces.length > 0) doc.datapath = { interfaces: d.interfaces };
  if (d.rulesetFile !== undefined) doc.ruleset = { file: d.rulesetFile };
  if (d.sync) {
    const s = d.sync;
    doc.sync = compact({ interface: s.interface, address: s.address, group: s.group, port: s.port, peers: s.peers, keyFile: s.keyFile, resendQueueSize: s.resendQueueSize });
  }
  if (d.vrrp) {
    const v = d.vrrp;
    doc.vrrp = compact({
      interface: v.interface,
      vrid: v.vrid,
      priority: v.priority,
      advertIntervalMs: v.advertIntervalMs,
      preempt: v.preempt,
      preemptDelayMs: v.preemptDelayMs,
      vips: v.vips,
      unicastPeers: v.unicastPeers,
      track: v.track,
      syncInterface: d.sync?.interface,
      announceRepeat: v.announceRepeat,
      announceSpacingMs: v.announceSpacingMs,
      notify: v.notify,
    });
  }
  const from = [src.keepalived?.file, src.conntrackd?.file].filter((x) => x !== undefined).join(' and ');
  const head = [
    `# hafw node config written by 'hafw import' from ${from}.`,
    '# Check it before use: hafw node --config THIS_FILE --check (docs/configuration.md).',
  ];
  if (d.rulesetFile === undefined) head.push("# No ruleset: check yours with 'hafw ruleset check /etc/nftables.conf' and set ruleset.file.");
  if (d.unmapped.length > 0) head.push('#', '# Not mapped (decide what to do with each):', ...d.unmapped.map((f) => `#   ${findingLine(f)}`));
  if (d.notes.length > 0) head.push('#', '# Mapped with a difference:', ...d.notes.map((f) => `#   ${findingLine(f)}`));
  return `${head.map((l) => l.replace(/\n/g, ' ')).join('\n')}\n${stringify(doc, { lineWidth: 0 })}`;
}
