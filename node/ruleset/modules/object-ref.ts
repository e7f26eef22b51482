/**
 * A rule's reference to a named stateful object (objects.ts): `counter name "c1"`,
 * `quota name "q1"`, `limit name "l1"`; in JSON `{"counter": "c1"}` as libnftables writes
 * it. Shared by the counter, quota and limit modules, which handle the inline forms.
 */
import type { ObjKind, Stmt } from '../ast.js';
import { OBJECT_MAP_REFUSED } from '../objects.js';
import type { CompileEnv, StmtFn, TextReader, ValidateEnv } from '../registry.js';
import { Tok } from '../lexer.js';

/** After the keyword: `name "x"` gives the reference; anything else is the inline statement (undefined). */
export function namedObjectParse(r: TextReader, kind: ObjKind): Stmt | undefined {
  if (!r.isWord('name')) return undefined;
  const at = r.next();
  // `counter name ip saddr map { ... : "c1" }`: a selector where the name would be.
  const a = r.peek();
  if (a.kind === Tok.Word && r.trySelectorExpr() !== undefined) r.error(OBJECT_MAP_REFUSED, a);
  const t = r.peek();
  if (t.kind !== Tok.String && t.kind !== Tok.Word) r.error(`expected the ${kind}'s name after 'name'`, at);
  return { [kind]: r.string() } as Stmt;
}

/** For checkJson: undefined when not a reference, else null (fine) or the error. */
export function namedObjectCheck(v: unknown): string | null | undefined {
  if (typeof v === 'string') return v === '' ? 'an object reference needs a name' : null;
  if (v !== null && typeof v === 'object' && 'map' in v) return OBJECT_MAP_REFUSED;
  return undefined;
}

export function namedObjectValidate(stmt: Stmt, kind: ObjKind, env: ValidateEnv): void {
  const name = (stmt as Record<string, unknown>)[kind];
  if (typeof name !== 'string') return;
  if (!env.findObject(kind, name)) env.errors.add(env.pos, `unknown ${kind} '${name}' (declare it in the table: ${kind} ${name} { ... })`);
}

export function namedObjectCompile(stmt: Stmt, kind: ObjKind, env: CompileEnv): StmtFn | undefined {
  const name = (stmt as Record<string, unknown>)[kind];
  if (typeof name !== 'string') return undefined;
  const o = env.object(kind, name);
  if (!o) throw new Error(`unknown ${kind} '${name}'`);
  return o.fn;
}
