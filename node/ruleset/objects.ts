/**
 * Named stateful objects: `counter NAME { packets N bytes N }`, `quota NAME { [over] N UNIT
 * [used N UNIT] }`, `limit NAME { rate [over] N/UNIT [burst N packets] }` in a table, used
 * by rules as `counter name "NAME"` (nft's objref). Every rule naming an object shares its
 * state: one counter, one budget, one token bucket.
 *
 * The object is the statement it names, compiled once: the `counter`, `quota` and `limit`
 * modules' own parse, check, print and compile serve both forms, so the object behaves
 * exactly as the anonymous statement does. The state lives in the ObjState, which commits
 * share by reference (like a rule's counter cells), so a transaction keeps the values; each
 * engine copy (the control thread's, the datapath thread's) holds its own.
 */
import type { Family, ObjJ, ObjKind, Stmt } from './ast.js';
import type { CompileEnv, CounterCell, Registry, StmtFn } from './registry.js';
import { CT_HELPER_PROTO, ctHelperId } from './ct-helpers.js';
import { CT_STATE_IN_CONNECTION } from '../ct-state/index.js';

/** IPS_CONFIRMED (`ct status confirmed`): the connection's first packet was accepted. */
const CT_STATUS_CONFIRMED = 8;

export interface ObjState {
  kind: ObjKind;
  /** As declared (the values it was loaded with); live values are in `cell`. */
  json: ObjJ;
  id: number;
  /** The statement's compiled function: every rule naming the object runs this one. */
  fn: StmtFn;
  /** Packets and bytes (counter), or bytes used (quota); absent for a limit and a ct helper. */
  cell?: CounterCell;
}

/** The key in TableState.objs: kinds have separate name spaces, as in nft. */
export function objKey(kind: ObjKind, name: string): string {
  return `${kind} ${name}`;
}

const UNIT_BYTES: Record<string, number> = { bytes: 1, kbytes: 1024, mbytes: 1024 ** 2, gbytes: 1024 ** 3 };

/** The anonymous statement an object's JSON stands for. */
export function objToStmt(kind: Exclude<ObjKind, 'ct helper'>, j: ObjJ): Stmt {
  switch (kind) {
    case 'counter':
      return { counter: { packets: j.packets ?? 0, bytes: j.bytes ?? 0 } } as Stmt;
    case 'quota': {
      const q: Record<string, unknown> = { val: j.bytes, val_unit: 'bytes' };
      if (j.used !== undefined && j.used > 0) Object.assign(q, { used: j.used, used_unit: 'bytes' });
      if (j.inv) q.inv = true;
      return { quota: q } as Stmt;
    }
    case 'limit': {
      const l: Record<string, unknown> = { rate: j.rate, per: j.per ?? 'second' };
      if (j.burst !== undefined) l.burst = j.burst;
      if (j.inv) l.inv = true;
      if (j.rate_unit !== undefined) l.rate_unit = j.rate_unit;
      if (j.burst_unit !== undefined) l.burst_unit = j.burst_unit;
      return { limit: l } as Stmt;
    }
  }
}

/** An object's spec fields from the statement its text body parses to. */
export function stmtToSpec(kind: Exclude<ObjKind, 'ct helper'>, stmt: Stmt): Partial<ObjJ> {
  const body = (stmt as Record<string, Record<string, unknown>>)[kind]!;
  switch (kind) {
    case 'counter':
      return { packets: body.packets as number, bytes: body.bytes as number };
    case 'quota': {
      const out: Partial<ObjJ> = { bytes: (body.val as number) * UNIT_BYTES[(body.val_unit as string) ?? 'bytes']! };
      out.used = body.used === undefined ? 0 : (body.used as number) * UNIT_BYTES[(body.used_unit as string) ?? 'bytes']!;
      if (body.inv) out.inv = true;
      return out;
    }
    case 'limit':
      return { ...(body as Partial<ObjJ>) };
  }
}

/** The object's fields (libnftables' names), checked as the statement's; null when fine. */
export function checkObjSpec(kind: ObjKind, j: ObjJ, registry: Registry): string | null {
  // The text form declares it as a bare word (`counter NAME {`): a name that is not one would not list back.
  if (!/^[A-Za-z_][A-Za-z0-9_.\-/]*$/.test(j.name)) return `the name must be a letter or _ followed by letters, digits, _ . - / (as nft's identifiers), got ${JSON.stringify(j.name)}`;
  if (j.comment !== undefined && typeof j.comment !== 'string') return '"comment" must be a string';
  if (kind === 'quota') {
    if (!Number.isSafeInteger(j.bytes) || j.bytes! < 0) return 'a quota object needs "bytes", a non-negative integer';
    if (j.used !== undefined && (!Number.isSafeInteger(j.used) || j.used < 0)) return 'quota "used" must be a non-negative integer';
    if (j.inv !== undefined && typeof j.inv !== 'boolean') return 'quota "inv" must be true or false';
  }
  if (kind === 'limit' && j.rate === undefined) return 'a limit object needs "rate"';
  if (kind === 'ct helper') return checkHelperSpec(j);
  const stmt = objToStmt(kind, j);
  return registry.statementForJson(stmt)?.checkJson?.(stmt) ?? null;
}

/** A new object with fresh state (the declared values as its start). */
export function makeObj(kind: ObjKind, json: ObjJ, id: number, registry: Registry, family: Family): ObjState {
  if (kind === 'ct helper') {
    // `ct helper set "NAME"` runs this: the connection the packet opens gets the helper.
    const helper = ctHelperId(json.type!) as number;
    const fn: StmtFn = (ctx) => {
      // As the kernel's nft_ct_helper_obj_eval: only a connection not yet confirmed (its
      // first packet) gets a helper; a packet without a conntrack entry gets none.
      if ((ctx.ctState & CT_STATE_IN_CONNECTION) === 0 || (ctx.ctStatus & CT_STATUS_CONFIRMED) !== 0) return 0;
      ctx.ctHelper = helper;
      ctx.ctHelperSet = true;
      return 0;
    };
    return { kind, json, id, fn };
  }
  const stmt = objToStmt(kind, json);
  let cell: CounterCell | undefined;
  // The statement modules compile without sets or chains; only `counter` is called back
  // (for the cell the listing reads). Nothing else of the environment is reached.
  const env = { family, registry, counter: (c: CounterCell) => void (cell = c) } as unknown as CompileEnv;
  const fn = registry.statementForJson(stmt)!.compile(stmt, env);
  return { kind, json, id, fn, cell };
}

/** The object's JSON with its current values (what `list` shows). */
export function liveObj(o: ObjState): ObjJ {
  const j = { ...o.json };
  if (o.kind === 'counter' && o.cell) {
    j.packets = o.cell.packets;
    j.bytes = o.cell.bytes;
  } else if (o.kind === 'quota' && o.cell) j.used = o.cell.bytes;
  return j;
}

/** The body nft prints between the object's braces (live: the current values, else as declared) (`packets 3 bytes 180`, `over 25 mbytes`, `rate 10/second`). */
export function objBodyText(o: ObjState, registry: Registry, live: boolean): string {
  if (o.kind === 'ct helper') return helperBodyText(o.json).join('\n\t\t');
  const stmt = objToStmt(o.kind, live ? liveObj(o) : o.json);
  const text = registry.statementForJson(stmt)!.print(stmt, undefined as never);
  return text.slice(o.kind.length + 1);
}

/** Why `counter name ip saddr map { ... }` (an object map) is refused. */
export const OBJECT_MAP_REFUSED =
  'a map from keys to named objects (counter|quota|limit name <selector> map { ... }) is not supported yet: use one rule per object, e.g. ip saddr 192.0.2.1 counter name "c1"';

/** nft's default l3proto: the table's family (an inet table's helper serves both). */
export function helperL3(j: ObjJ): string {
  return j.l3proto ?? (j.family === 'ip6' ? 'ip6' : j.family === 'inet' ? 'inet' : 'ip');
}

/** The lines nft lists in a ct helper's braces: `type "ftp" protocol tcp`, `l3proto inet`. */
export function helperBodyText(j: ObjJ): string[] {
  return [`type ${JSON.stringify(j.type)} protocol ${j.protocol}`, `l3proto ${helperL3(j)}`];
}

/** `ct helper` fields as libnftables names them: type, protocol, l3proto. */
function checkHelperSpec(j: ObjJ): string | null {
  if (typeof j.type !== 'string') return 'a ct helper needs "type" (the helper, "ftp")';
  const id = ctHelperId(j.type);
  if (typeof id === 'string') return id;
  if (j.protocol !== 'tcp' && j.protocol !== 'udp') return 'a ct helper needs "protocol": "tcp" or "udp"';
  if (j.protocol !== CT_HELPER_PROTO[id]) return `the ${j.type} helper runs on ${CT_HELPER_PROTO[id]}, not ${j.protocol}`;
  const l3 = helperL3(j);
  if (l3 !== 'ip' && l3 !== 'ip6' && l3 !== 'inet') return `"l3proto" must be ip, ip6 or inet, got ${JSON.stringify(j.l3proto)}`;
  if (j.family !== 'inet' && l3 !== j.family) return `l3proto ${l3} does not fit a table of family ${j.family}`;
  return null;
}
