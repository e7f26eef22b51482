/**
 * Verdict statements: accept, drop, continue, return, jump CHAIN, goto CHAIN
 * (nft(8) VERDICT STATEMENT). `jump` pushes a return point, `goto` does not; `return`
 * resumes after the last jump (or applies the base chain's policy). Jump/goto edges are
 * recorded for the one-walk loop check.
 */
import type { Stmt, VerdictJ } from '../ast.js';
import { POS, mark } from '../errors.js';
import { onlyKey } from '../registry.js';
import type { Registry, StatementModule } from '../registry.js';

const SIMPLE = ['accept', 'drop', 'continue', 'return'] as const;

const verdictFns = new Map<number, () => number>();

export function isVerdict(v: unknown): v is VerdictJ {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const k = onlyKey(v);
  if (k === undefined) return false;
  const body = (v as Record<string, unknown>)[k];
  if ((SIMPLE as readonly string[]).includes(k)) return body === null;
  if (k === 'jump' || k === 'goto') {
    return body !== null && typeof body === 'object' && typeof (body as { target?: unknown }).target === 'string';
  }
  return false;
}

export function verdictText(v: VerdictJ): string {
  if ('jump' in v) return `jump ${v.jump.target}`;
  if ('goto' in v) return `goto ${v.goto.target}`;
  return Object.keys(v)[0];
}

const verdictModule: StatementModule = {
  name: 'verdict',
  keywords: ['accept', 'drop', 'continue', 'return', 'jump', 'goto'],
  jsonKeys: ['accept', 'drop', 'continue', 'return', 'jump', 'goto'],
  help:
    'accept: let the packet pass this base chain; drop: discard it; continue: go on with the next rule; ' +
    'return: back to the calling chain; jump CHAIN: run CHAIN then come back; goto CHAIN: run CHAIN without coming back',
  params: [{ name: 'target', type: 'chain', help: 'chain name (jump and goto only)' }],
  families: ['ip', 'ip6', 'inet'],
  terminal: true,
  parse(r, first) {
    // Literal objects per verdict (a computed key takes V8's slow literal path, per rule),
    // with the position slot the parser fills (errors.ts POS).
    switch (first.text) {
      case 'accept':
        return { accept: null, [POS]: mark(first) } as Stmt;
      case 'drop':
        return { drop: null, [POS]: mark(first) } as Stmt;
      case 'continue':
        return { continue: null, [POS]: mark(first) } as Stmt;
      case 'return':
        return { return: null, [POS]: mark(first) } as Stmt;
      case 'jump':
        return { jump: { target: r.expectName('chain').text }, [POS]: mark(first) } as Stmt;
      default:
        return { goto: { target: r.expectName('chain').text }, [POS]: mark(first) } as Stmt;
    }
  },
  print(stmt, p) {
    return p.verdict(stmt as VerdictJ);
  },
  checkJson(stmt) {
    return isVerdict(stmt) ? null : 'malformed verdict';
  },
  validate(stmt, env) {
    const v = stmt as VerdictJ;
    if ('jump' in v || 'goto' in v) {
      const target = 'jump' in v ? v.jump.target : v.goto.target;
      if (!env.hasChain(target)) env.errors.add(env.pos, `unknown chain '${target}'`);
      else if (env.isBaseChain(target)) env.errors.add(env.pos, `cannot jump or goto base chain '${target}'`);
      else env.edge(target, 'goto' in v);
    }
  },
  compile(stmt, env) {
    const code = env.verdictCode(stmt as VerdictJ);
    // One function per code, shared by every rule that ends in it (most rules end in
    // accept or drop): a full load makes no closure per verdict.
    let fn = verdictFns.get(code);
    if (fn === undefined) verdictFns.set(code, (fn = () => code));
    return fn;
  },
};

export function registerVerdicts(r: Registry): void {
  r.registerStatement(verdictModule);
}

