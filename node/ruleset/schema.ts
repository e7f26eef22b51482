/**
 * `hafw schema [NAME] [--json]`: what the registry holds, as plain objects (for the API
 * and GUIs) and as text (for operators). Both come from the modules' own declarations.
 */
import type { Family, Selector } from './ast.js';
import { builtinRegistry } from './modules/index.js';
import type { ParamSchema, Registry } from './registry.js';

export interface ModuleSchema {
  kind: 'match' | 'statement' | 'type';
  name: string;
  help: string;
  families?: Family[];
  /** match: value type; type: its width in bits. */
  type?: string;
  bits?: number;
  /** match: libnftables JSON left-hand side. */
  json?: Selector | string[];
  syntax?: string;
  params?: ParamSchema[];
  symbols?: string[];
  writable?: boolean;
}

export function describeModules(name?: string, registry: Registry = builtinRegistry()): ModuleSchema[] {
  const out: ModuleSchema[] = [];
  for (const m of registry.matches) {
    out.push({
      kind: 'match',
      name: m.name,
      help: m.help,
      families: m.families,
      type: m.type.name,
      json: JSON.parse(JSON.stringify(m.left)) as Selector,
      syntax: `${m.keywords.join(' ')} [==|!=|<|>|<=|>=] ${m.type.name.toUpperCase()} | { ... } | @SET`,
      ...(m.store ? { writable: true } : {}),
    });
  }
  for (const s of registry.statements) {
    out.push({
      kind: 'statement',
      name: s.name,
      help: s.help,
      families: s.families,
      json: s.jsonKeys,
      syntax: s.afterSelector ? `SELECTOR ${s.afterSelector} ...` : s.keywords.length ? s.keywords.join('|') + (s.params.length ? ' ...' : '') : undefined,
      params: s.params,
    });
  }
  for (const t of registry.types.values()) {
    out.push({ kind: 'type', name: t.name, help: t.help, bits: t.bits, ...(t.symbols ? { symbols: [...t.symbols.keys()] } : {}) });
  }
  if (name === undefined) return out;
  return out.filter((m) => m.name === name || m.name.startsWith(name + ' '));
}

export function formatSchema(mods: ModuleSchema[]): string {
  if (mods.length === 0) return 'no such module\n';
  const lines: string[] = [];
  for (const kind of ['match', 'statement', 'type'] as const) {
    const list = mods.filter((m) => m.kind === kind);
    if (list.length === 0) continue;
    lines.push(kind === 'match' ? 'Matches:' : kind === 'statement' ? 'Statements:' : 'Types:');
    for (const m of list) {
      let head = `  ${m.name}`;
      if (m.type) head += ` (${m.type})`;
      if (m.bits !== undefined) head += ` (${m.bits} bits)`;
      lines.push(`${head.padEnd(28)} ${m.help}`);
      if (m.families && m.families.length < 3) lines.push(`      families: ${m.families.join(', ')}`);
      if (m.syntax && mods.length <= 3) lines.push(`      syntax: ${m.syntax}`);
      if (m.params && mods.length <= 3) for (const p of m.params) lines.push(`      ${p.name}${p.required ? '' : '?'}: ${p.type} - ${p.help}`);
      if (m.symbols && mods.length <= 3) lines.push(`      names: ${m.symbols.join(', ')}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
