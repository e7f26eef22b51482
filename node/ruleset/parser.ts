/**
 * Text -> commands. Parses the nft language subset into libnftables JSON commands
 * (`{add: {table: ...}}`, `{add: {rule: ...}}`, `{delete: {rule: ...}}` ...): a plain
 * `table x { ... }` block is a list of `add`s, so loading a file and applying a
 * transaction are the same operation downstream. Matches and statements are found in
 * the registry; the parser itself knows only the structure (tables, chains, sets, rules,
 * values) and records each object's line:col.
 */
import type {
  ChainJ, Command, ElemJ, Family, HookName, RuleJ, Selector, SetJ, Stmt, TableJ, Value, VerdictJ, ChainType, Policy,
} from './ast.js';
import { CHAIN_TYPES, FAMILIES, HOOKS, SET_TYPEOF, type SetTypeof } from './ast.js';
import type { ObjJ, ObjKind } from './ast.js';
import { stmtToSpec } from './objects.js';
import type { FlowtableJ } from './ast.js';
import { FT_COUNTER_REFUSED, HW_OFFLOAD_REFUSED } from './flowtables.js';
import { POS, RulesetError, mark, setPos } from './errors.js';
import { Lexer, Tok } from './lexer.js';
import type { Token } from './lexer.js';
import type { DataType } from './data-types.js';
import { parseInteger } from './data-types.js';
import type { Registry, TextReader } from './registry.js';
import { parseDuration } from './durations.js';
import { PRIORITY_NAMES, PRIORITY_RANGE, isPriority } from './priorities.js';
import { SET_SIZE_RANGE, isSetSize } from './set-attrs.js';
import { layer2Family, layer2Hook, layer2Type, layer2Word } from './layer3-only.js';
import { FIB_REFUSED } from './modules/fib.js';
import { routingFieldRefusal } from './modules/ip6-exthdr.js';
import { notSupported } from './not-supported.js';
import { NFT_KEYWORDS } from './nft-keywords.js';
import { ELEM_STMT_KEYS } from './elem-exprs.js';

/** Tokens of a `$variable` being expanded. */
interface Frame {
  toks: Token[];
  i: number;
  /** The `$name` token this expansion replaces (for errors). */
  use: Token;
}

class Parser implements TextReader {
  /** The text's tokens, read on demand. */
  private readonly lex: Lexer;
  /** Variable expansions in progress, innermost last (empty: reading the text itself). */
  private readonly stack: Frame[] = [];
  private readonly defines = new Map<string, Token[]>();
  /** Define values whose braces balance and never close more than they opened. */
  private readonly balanced = new WeakSet<Token[]>();
  /** Sets declared so far in this text ("family table name"), for element commands. */
  private readonly declared = new Map<string, SetJ>();
  /**
   * Tokens replayed by variable expansions so far. A define's value is stored expanded, so
   * `define a1 = { $a0, $a0 }` copies a0 twice: nested defines double at each level, and
   * thirty levels of a one-kilobyte file would make a billion tokens. Counting tokens, not
   * expansions, bounds that work (and its memory) linearly.
   */
  private expandedTokens = 0;
  /** Cap on expandedTokens (RulesetLimits.maxExpandedTokens). */
  maxExpandedTokens = Number.POSITIVE_INFINITY;
  /** The family of the table whose rule is being read (TextReader.tableFamily). */
  tableFamily: Family = 'ip';

  constructor(readonly registry: Registry, text: string, readonly file = '<input>') {
    this.lex = new Lexer(text, file);
  }

  // ---- token access (with `$var` expansion) ----

  peek(): Token {
    if (this.stack.length === 0) {
      // Reading the text itself (no variable being expanded): the common case.
      const t = this.lex.peekAt(0);
      if (t.kind !== Tok.Word || t.text.charCodeAt(0) !== 36) return t;
    }
    for (;;) {
      let t: Token | undefined;
      const f = this.stack.length > 0 ? this.stack[this.stack.length - 1] : undefined;
      if (f !== undefined) {
        t = f.toks[f.i];
        if (t === undefined) {
          this.stack.pop();
          continue;
        }
      } else t = this.lex.peekAt(0);
      if (t.kind === Tok.Word && t.text.charCodeAt(0) === 36) {
        // `$name`: replay the define's tokens in its place
        const v = this.defines.get(t.text.slice(1));
        if (!v) this.error(`undefined variable '${t.text}'`, t);
        // Counted before the copy is made, so the doubling that would cross the cap never runs.
        this.expandedTokens += v.length;
        if (this.expandedTokens > this.maxExpandedTokens) this.expansionTooLarge(t);
        if (f !== undefined) f.i++;
        else this.lex.advance();
        this.stack.push({ toks: v, i: 0, use: t });
        continue;
      }
      return t;
    }
  }

  next(): Token {
    const t = this.peek();
    if (t.kind !== Tok.Eof) {
      if (this.stack.length > 0) this.stack[this.stack.length - 1].i++;
      else this.lex.advance();
    }
    return t;
  }

  /** Points at the `$name` written in the text (the outermost expansion), not inside a define. */
  private expansionTooLarge(t: Token): never {
    const use = this.stack.length > 0 ? this.stack[0]!.use : t;
    return this.error(
      `variable expansion too large: ${use.text} makes the ruleset expand to more than ${this.maxExpandedTokens} tokens (ruleset.maxExpandedTokens; nested defines multiply)`,
      use,
    );
  }

  error(message: string, tok?: Token): never {
    throw RulesetError.at(this.file, tok ?? this.peek(), message);
  }

  isWord(text?: string): boolean {
    const t = this.peek();
    return t.kind === Tok.Word && (text === undefined || t.text === text);
  }

  acceptWord(text: string): boolean {
    if (this.isWord(text)) {
      this.next();
      return true;
    }
    return false;
  }

  expectWord(text?: string): Token {
    const t = this.peek();
    if (t.kind !== Tok.Word || (text !== undefined && t.text !== text)) {
      this.error(text ? `expected '${text}', got ${describe(t)}` : `expected a word, got ${describe(t)}`, t);
    }
    return this.next();
  }

  /** A table, chain, set, object or flowtable name, or a jump target: not one of nft's keywords. */
  expectName(what: string): Token {
    const t = this.expectWord();
    if (NFT_KEYWORDS.has(t.text)) {
      this.error(`'${t.text}' is an nft keyword and cannot name a ${what} (nft 1.0.6: syntax error, unexpected ${t.text}, expecting string): rename it`, t);
    }
    return t;
  }

  private isPunct(p: string): boolean {
    const t = this.peek();
    return t.kind === Tok.Punct && t.text === p;
  }

  acceptPunct(p: string): boolean {
    if (this.isPunct(p)) {
      this.next();
      return true;
    }
    return false;
  }

  expectPunct(p: string): Token {
    if (!this.isPunct(p)) this.error(`expected '${p}', got ${describe(this.peek())}`);
    return this.next();
  }

  private skipEols(): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === Tok.Eol || (t.kind === Tok.Punct && t.text === ';')) this.next();
      else return;
    }
  }

  private skipNewlines(): void {
    while (this.peek().kind === Tok.Eol) this.next();
  }

  string(): string {
    const t = this.peek();
    if (t.kind === Tok.String || t.kind === Tok.Word) return this.next().text;
    return this.error(`expected a string, got ${describe(t)}`, t);
  }

  integer(): number {
    const t = this.expectWord();
    const neg = t.text.charCodeAt(0) === 45;
    const v = neg && !t.text.startsWith('-0x') ? parseInteger(t.text.slice(1)) : parseInteger(t.text);
    if (v === undefined) this.error(`expected a number, got '${t.text}'`, t);
    return neg ? -v : v;
  }

  atRuleEnd(): boolean {
    const t = this.peek();
    return t.kind === Tok.Eol || t.kind === Tok.Eof || (t.kind === Tok.Punct && (t.text === ';' || t.text === '}'));
  }

  // ---- top level ----

  parse(): Command[] {
    const out: Command[] = [];
    for (;;) {
      this.skipEols();
      const t = this.peek();
      if (t.kind === Tok.Eof) return out;
      if (t.kind !== Tok.Word) this.error(`expected a command, got ${describe(t)}`, t);
      this.command(out);
    }
  }

  private command(out: Command[]): void {
    const t = this.next();
    switch (t.text) {
      case 'define':
        return this.define();
      case 'include':
        return this.includeRefused(t);
      case 'table':
        return this.tableCmd(out, 'add', t);
      case 'add':
      case 'create':
      case 'insert':
      case 'replace':
      case 'delete':
      case 'flush':
        return this.verbCmd(out, t.text, t);
      default:
        // nft lets `add` be omitted before a table/chain/rule at top level only for `table`.
        this.error(`unknown command '${t.text}' (expected table, define, add, insert, replace, delete, flush)`, t);
    }
  }

  private define(): void {
    const name = this.expectWord();
    this.expectPunct('=');
    let toks: Token[] = [];
    let depth = 0;
    let minDepth = 0;
    for (;;) {
      // `$name` of a balanced define, read from the text: copied whole (native concat), not
      // token by token. Equivalent, since such a value neither ends this define nor changes
      // its depth; and it keeps refusing a define bomb well inside its time budget.
      if (this.stack.length === 0) {
        const raw = this.lex.peekAt(0);
        const v = raw.kind === Tok.Word && raw.text.charCodeAt(0) === 36 ? this.defines.get(raw.text.slice(1)) : undefined;
        if (v !== undefined && this.balanced.has(v)) {
          this.expandedTokens += v.length;
          if (this.expandedTokens > this.maxExpandedTokens) this.expansionTooLarge(raw);
          this.lex.advance();
          toks = toks.concat(v);
          continue;
        }
      }
      const t = this.peek();
      if (t.kind === Tok.Eof) break;
      if (depth === 0 && (t.kind === Tok.Eol || (t.kind === Tok.Punct && t.text === ';'))) break;
      if (t.kind === Tok.Punct && t.text === '{') depth++;
      if (t.kind === Tok.Punct && t.text === '}') minDepth = Math.min(minDepth, --depth);
      toks.push(this.next());
    }
    if (toks.length === 0) this.error(`define ${name.text} has no value`, name);
    if (depth === 0 && minDepth === 0) this.balanced.add(toks);
    this.defines.set(name.text, toks);
  }


  /**
   * `include` never reaches the parser from a file: includes.ts splices the files in first.
   * Here it is text from the API or a transaction, which must not make the node read files.
   */
  private includeRefused(at: Token): never {
    if (this.peek().kind !== Tok.String) this.error(`expected a quoted file name after include, got ${describe(this.peek())}`);
    return this.error(
      'include reads files, so it is expanded only where a ruleset is read from a file (ruleset.file, SIGHUP, hafw ruleset check/convert/apply -f, which send the expanded text); text sent to the node (API, transactions) cannot include',
      at,
    );
  }

  /**
   * `{ packets N bytes N }`, `{ [over] N UNIT [used N UNIT] }`, `{ rate ... }`: the body of
   * a named object is its statement's text after the keyword, read by that module.
   */
  private objBody(kind: ObjKind, family: Family, table: string, name: Token): ObjJ {
    if (kind === 'ct helper') return this.helperBody(family, table, name);
    const open = this.peek();
    // `add counter inet t c` (nft's form without a body): a counter from zero.
    if (kind === 'counter' && this.atRuleEnd()) return setPos({ family, table, name: name.text, packets: 0, bytes: 0 }, name);
    this.expectPunct('{');
    this.skipEols();
    const at = this.peek();
    const mod = this.registry.statements.find((m) => m.name === kind);
    if (!mod) this.error(`unknown object kind '${kind}'`, open);
    if (kind === 'limit' && !this.isWord('rate')) this.error(`expected 'rate' in limit '${name.text}' (e.g. rate 10/second)`, at);
    const stmt = mod.parse(this, at);
    this.skipEols();
    let comment: string | undefined;
    if (this.acceptWord('comment')) {
      comment = this.string();
      this.skipEols();
    }
    this.expectPunct('}');
    const j: ObjJ = setPos({ family, table, name: name.text, ...stmtToSpec(kind, stmt) }, name);
    if (comment !== undefined) j.comment = comment;
    return j;
  }

  /** `{ type "ftp" protocol tcp; [l3proto inet;] [comment "..."] }`: a ct helper (checked in objects.ts). */
  private helperBody(family: Family, table: string, name: Token): ObjJ {
    this.expectPunct('{');
    const j: ObjJ = setPos({ family, table, name: name.text }, name);
    for (;;) {
      this.skipEols();
      if (this.acceptPunct('}')) break;
      const t = this.expectWord();
      if (t.text === 'type' && j.type === undefined) {
        const at = this.peek();
        j.type = this.string();
        this.expectWord('protocol');
        const p = this.expectWord();
        if (p.text !== 'tcp' && p.text !== 'udp') this.error(`expected tcp or udp after protocol, got '${p.text}'`, p);
        j.protocol = p.text;
        if (at.kind !== Tok.String) this.error(`the helper type is a quoted string (type "ftp"), got ${describe(at)}`, at);
      } else if (t.text === 'l3proto' && j.l3proto === undefined) {
        const l3 = this.expectWord();
        if (l3.text !== 'ip' && l3.text !== 'ip6' && l3.text !== 'inet') this.error(`expected ip, ip6 or inet after l3proto, got '${l3.text}'`, l3);
        j.l3proto = l3.text;
      } else if (t.text === 'comment' && j.comment === undefined) {
        j.comment = this.string();
      } else {
        this.error(`expected type, l3proto or comment in ct helper '${name.text}', got '${t.text}'`, t);
      }
    }
    if (j.type === undefined) this.error(`ct helper '${name.text}' needs a type (type "ftp" protocol tcp)`, name);
    return j;
  }

  /**
   * `{ hook ingress priority P; devices = { a, b }; }` (flowtables.ts). The priority is a
   * number or `filter [+|- N]`: netdev's one named priority, as nft reads it here.
   */
  private flowtableBody(family: Family, table: string, name: Token): FlowtableJ {
    const j: FlowtableJ = setPos({ family, table, name: name.text }, name);
    this.expectPunct('{');
    for (;;) {
      this.skipEols();
      if (this.acceptPunct('}')) break;
      if (this.acceptPunct(';')) continue;
      const t = this.expectWord();
      switch (t.text) {
        case 'hook': {
          const h = this.expectWord();
          if (h.text !== 'ingress') this.error(`a flowtable's hook is 'ingress' (the only one the kernel offers), got '${h.text}'`, h);
          j.hook = 'ingress';
          this.expectWord('priority');
          const p = this.expectWord();
          let prio: number;
          if (/^-?\d+$/.test(p.text)) prio = Number(p.text);
          else if (p.text === 'filter') prio = 0;
          else this.error(`'${p.text}' is not a flowtable priority (a number, or filter [+|- N])`, p);
          if (this.acceptPunct('+')) prio! += this.integer();
          else if (this.acceptWord('-')) prio! -= this.integer();
          if (!isPriority(prio!)) this.error(`priority must be ${PRIORITY_RANGE}`, p);
          j.prio = prio!;
          break;
        }
        case 'devices': {
          this.expectPunct('=');
          const devs: string[] = [];
          if (this.acceptPunct('{')) {
            for (;;) {
              this.skipEols();
              devs.push(this.string());
              this.skipEols();
              if (this.acceptPunct('}')) break;
              this.expectPunct(',');
            }
          } else devs.push(this.string());
          const all = typeof j.dev === 'string' ? [j.dev, ...devs] : [...(j.dev ?? []), ...devs];
          j.dev = all.length === 1 ? all[0] : all;
          break;
        }
        case 'flags': {
          const f = this.expectWord();
          this.error(f.text === 'offload' ? HW_OFFLOAD_REFUSED : `unknown flowtable flag '${f.text}' (nft knows offload)`, f);
          break;
        }
        case 'counter':
          this.error(FT_COUNTER_REFUSED, t);
          break;
        default:
          this.error(`expected hook, devices or flags in flowtable '${name.text}', got '${t.text}'`, t);
      }
    }
    return j;
  }

  private familyAndName(): { family: Family; name: Token } {
    const a = this.expectWord();
    if ((FAMILIES as readonly string[]).includes(a.text) && this.isWord()) {
      return { family: a.text as Family, name: this.expectName('table') };
    }
    const l2 = layer2Family(a.text);
    if (l2) this.error(l2, a);
    if (NFT_KEYWORDS.has(a.text)) this.error(`'${a.text}' is an nft keyword and cannot name a table (nft 1.0.6: syntax error, unexpected ${a.text}, expecting string): rename it`, a);
    return { family: 'ip', name: a };
  }

  private tableCmd(out: Command[], verb: 'add' | 'create' | 'delete' | 'flush', at: Token): void {
    const { family, name } = this.familyAndName();
    const table: TableJ = setPos({ family, name: name.text }, name);
    if (verb === 'delete' || verb === 'flush') {
      out.push(setPos({ [verb]: { table } }, at));
      return;
    }
    out.push(setPos({ [verb]: { table } }, at));
    if (this.acceptPunct('{')) this.tableBody(out, table);
  }

  /**
   * A table block's commands in the order nft expands them (nft 1.0.6): its chains, then
   * its named objects, then its sets and maps, then its flowtables, then the chains' rules.
   * The kernel numbers them in that order (per-table handles), so `nft -a list ruleset` and
   * hafw agree.
   */
  private tableBody(out: Command[], table: TableJ): void {
    const objs: Command[] = [];
    const sets: Command[] = [];
    const flowtables: Command[] = [];
    const rules: Command[] = [];
    for (;;) {
      this.skipEols();
      if (this.acceptPunct('}')) {
        out.push(...objs, ...sets, ...flowtables, ...rules);
        return;
      }
      const t = this.expectWord();
      if (t.text === 'chain') {
        const name = this.expectName('chain');
        const chain: ChainJ = setPos({ family: table.family, table: table.name, name: name.text }, name);
        const cmd: Command = setPos({ add: { chain } }, t);
        out.push(cmd);
        this.expectPunct('{');
        this.chainBody(rules, chain);
      } else if (t.text === 'set' || t.text === 'map') {
        const name = this.expectName(t.text);
        this.expectPunct('{');
        const set = this.setBody(table.family, table.name, name, t.text === 'map');
        sets.push(setPos(t.text === 'map' ? { add: { map: set } } : { add: { set } }, t));
      } else if (t.text === 'include') {
        this.includeRefused(t);
      } else if (t.text === 'counter' || t.text === 'quota' || t.text === 'limit') {
        const name = this.expectName(t.text);
        objs.push(setPos({ add: { [t.text]: this.objBody(t.text, table.family, table.name, name) } } as Command, t));
      } else if (t.text === 'ct' && this.isWord('helper')) {
        this.next();
        const name = this.expectName('ct helper');
        objs.push(setPos({ add: { 'ct helper': this.helperBody(table.family, table.name, name) } } as Command, t));
      } else if (t.text === 'flowtable') {
        const name = this.expectName('flowtable');
        flowtables.push(setPos({ add: { flowtable: this.flowtableBody(table.family, table.name, name) } } as Command, t));
      } else if (t.text === 'comment') {
        table.comment = this.string();
      } else if (t.text === 'flags') {
        this.expectWord();
      } else {
        this.error(`expected chain, set, map, counter, quota, limit, ct helper, flowtable or comment in table, got '${t.text}'`, t);
      }
    }
  }

  private chainBody(out: Command[], chain: ChainJ): void {
    for (;;) {
      this.skipEols();
      if (this.acceptPunct('}')) return;
      const t = this.peek();
      if (t.kind === Tok.Word && t.text === 'type' && chain.type === undefined && !this.lookaheadIsRule()) {
        this.next();
        const ty = this.expectWord();
        if (!(CHAIN_TYPES as readonly string[]).includes(ty.text)) this.error(`unknown chain type '${ty.text}' (${CHAIN_TYPES.join(', ')})`, ty);
        chain.type = ty.text as ChainType;
        this.expectWord('hook');
        const h = this.expectWord();
        if (!(HOOKS as readonly string[]).includes(h.text)) this.error(layer2Hook(h.text) ?? `unknown hook '${h.text}' (${HOOKS.join(', ')})`, h);
        chain.hook = h.text as HookName;
        this.expectWord('priority');
        chain.prio = this.priority();
        if (!this.atRuleEnd()) this.error(`expected ';' after the chain's priority`);
        continue;
      }
      if (t.kind === Tok.Word && t.text === 'policy') {
        this.next();
        const p = this.expectWord();
        if (p.text !== 'accept' && p.text !== 'drop') this.error(`policy must be accept or drop, got '${p.text}'`, p);
        chain.policy = p.text as Policy;
        continue;
      }
      if (t.kind === Tok.Word && t.text === 'comment' && this.peekAt(1)?.kind === Tok.String && this.isEndAt(2)) {
        this.next();
        chain.comment = this.string();
        continue;
      }
      if (t.kind === Tok.Word && t.text === 'include') this.includeRefused(this.next());
      // The rule carries the position (its first token, this same t); the command needs none.
      out.push({ add: { rule: this.rule(chain.family, chain.table, chain.name) } });
    }
  }

  /** Tokens ahead in the current frame (no variable expansion), for small lookaheads. */
  peekAt(k: number): Token | undefined {
    this.peek();
    if (this.stack.length === 0) return this.lex.peekAt(k);
    const f = this.stack[this.stack.length - 1];
    return f.toks[f.i + k];
  }

  private isEndAt(k: number): boolean {
    const t = this.peekAt(k);
    return !t || t.kind === Tok.Eol || t.kind === Tok.Eof || (t.kind === Tok.Punct && (t.text === ';' || t.text === '}'));
  }

  private lookaheadIsRule(): boolean {
    return this.peekAt(1)?.text !== 'filter' && this.peekAt(1)?.text !== 'nat' && this.peekAt(1)?.text !== 'route';
  }

  private priority(): number {
    const t = this.expectWord();
    let base: number;
    if (/^-?\d+$/.test(t.text)) base = Number(t.text);
    else if (Object.hasOwn(PRIORITY_NAMES, t.text)) base = PRIORITY_NAMES[t.text]; // not `in`: 'toString' is in every object
    else this.error(`unknown priority '${t.text}' (a number or ${Object.keys(PRIORITY_NAMES).join(', ')})`, t);
    // `filter + 10` / `filter - 5` (nft(8) CHAIN PRIORITIES): '+' is a token, '-' a word.
    if (this.acceptPunct('+')) base! += this.integer();
    else if (this.acceptWord('-')) base! -= this.integer();
    // Past 2^31 it is not an nft priority, and past 2^53 it prints as 1e+21, which this refuses.
    if (!isPriority(base!)) this.error(`priority must be ${PRIORITY_RANGE}`, t);
    return base!;
  }

  private setBody(family: Family, table: string, name: Token, isMap: boolean): SetJ {
    const set: SetJ = setPos({ family, table, name: name.text, type: '' }, name);
    let typeTok: Token | undefined;
    for (;;) {
      this.skipEols();
      if (this.acceptPunct('}')) break;
      const t = this.expectWord();
      switch (t.text) {
        case 'type': {
          typeTok = t;
          const parts = [this.expectWord().text];
          while (this.acceptWord('.')) parts.push(this.expectWord().text);
          for (const p of parts) if (!this.registry.type(p)) this.error(layer2Type(p) ?? `unknown data type '${p}'`, t);
          set.type = parts.length === 1 ? parts[0] : parts;
          if (isMap) {
            this.expectWord(':');
            // One data type, or a concatenation (`ipv4_addr . inet_service`: a NAT target), named as nft's JSON names it.
            const data = [this.expectWord()];
            while (this.acceptWord('.')) data.push(this.expectWord());
            for (const d of data) if ((d.text !== 'verdict' || data.length > 1) && !this.registry.type(d.text)) this.error(`unknown map data type '${d.text}'`, d);
            set.map = data.map((d) => d.text).join(' . ');
          }
          break;
        }
        case 'typeof': {
          typeTok = t;
          const selAt = this.peek();
          const sels = this.selectorExpr();
          if (hasParams(sels)) this.error(`typeof ${selAt.text} is not supported: give the set a type (e.g. type mark)`, selAt);
          const types = this.typesOf(sels);
          set.type = types.length === 1 ? types[0].name : types.map((x) => x.name);
          const declared: SetTypeof = { key: sels };
          if (isMap) {
            this.expectWord(':');
            if (this.acceptWord('verdict')) set.map = 'verdict';
            else {
              // `typeof ... : meta mark` style data, or a concatenation (`: ip daddr . tcp dport`): the selectors' types.
              const d = this.peek();
              const sel = this.trySelectorExpr();
              if (!sel) this.error(`unknown map data '${d.text}'`, d);
              set.map = this.typesOf(sel).map((x) => x.name).join(' . ');
              declared.data = sel;
            }
          }
          // Listed back as written, as nft lists it (ast.ts SET_TYPEOF).
          set[SET_TYPEOF] = declared;
          break;
        }
        case 'flags': {
          const flags: string[] = [];
          do {
            const f = this.expectWord();
            if (!['interval', 'timeout', 'constant', 'dynamic'].includes(f.text)) this.error(`unknown set flag '${f.text}'`, f);
            flags.push(f.text);
          } while (this.acceptPunct(','));
          set.flags = flags;
          break;
        }
        case 'timeout': {
          const d = this.expectWord();
          const s = parseDuration(d.text);
          if (s === undefined) this.error(`'${d.text}' is not a time (e.g. 30s, 1h30m)`, d);
          set.timeout = s;
          break;
        }
        case 'size': {
          const at = this.peek();
          const n = this.integer();
          if (!isSetSize(n)) this.error(`set size must be ${SET_SIZE_RANGE}, got ${n}`, at);
          set.size = n;
          break;
        }
        case 'policy': {
          const p = this.expectWord();
          if (p.text !== 'performance' && p.text !== 'memory') this.error(`set policy must be performance or memory, got '${p.text}'`, p);
          // A hint for the kernel's choice of structure: hafw picks its own (hash, interval or
          // box) from the elements either way, so it is kept only to be listed back as nft does.
          if (p.text === 'memory') set.policy = 'memory';
          else delete set.policy;
          break;
        }
        case 'auto-merge':
          if (isMap) this.error('auto-merge applies to sets, not maps', t);
          set['auto-merge'] = true;
          break;
        case 'comment':
          set.comment = this.string();
          break;
        case 'include':
          return this.includeRefused(t);
        case 'elements': {
          if (!typeTok) this.error(`set '${name.text}': 'type' or 'typeof' must come before elements`, t);
          this.expectPunct('=');
          set.elem = this.elementList(this.setTypes(set), set.map);
          break;
        }
        default:
          this.error(`unexpected '${t.text}' in set (type, typeof, flags, timeout, size, policy, auto-merge, comment, elements)`, t);
      }
    }
    if (!typeTok) this.error(`set '${name.text}' needs a type`, name);
    this.declared.set(`${family} ${table} ${name.text}`, set);
    return set;
  }

  setTypes(set: SetJ): DataType[] {
    const names = Array.isArray(set.type) ? set.type : [set.type];
    return names.map((n) => {
      const t = this.registry.type(n);
      if (!t) this.error(`unknown data type '${n}'`);
      return t;
    });
  }

  /** `{ e1, e2 timeout 30s comment "x", k : v }` for named sets/maps and element commands. */
  private elementList(types: DataType[], mapData?: string): SetJ['elem'] & object {
    this.expectPunct('{');
    const out: NonNullable<SetJ['elem']> = [];
    for (;;) {
      this.skipNewlines();
      if (this.acceptPunct('}')) break;
      const at = this.peek();
      const key = this.element(types, false);
      let item: Value | [Value, Value | VerdictJ] = key;
      if (this.acceptWord(':')) {
        if (!mapData) this.error('a set element cannot have data (this is not a map)', at);
        const data = mapData === 'verdict' ? this.verdict() : this.value(this.registry.dataTypes(mapData)!);
        item = [key, data];
      } else if (mapData) {
        this.error(`map element needs ': ${mapData}'`, at);
      }
      setPos(item as object, at);
      out.push(item);
      this.skipNewlines();
      if (!this.acceptPunct(',')) {
        this.skipNewlines();
        this.expectPunct('}');
        break;
      }
    }
    return out;
  }

  /** One element with its options (statements, timeout, expires, comment). */
  private element(types: DataType[], anonymous: boolean): Value {
    const val = this.concatValue(types, true);
    const elem: ElemJ = { val };
    let opts = false;
    for (;;) {
      // A named set's element may carry its own counter, limit, quota or ct count (as a
      // dynamic set's listing shows them): `192.0.2.1 counter packets 3 bytes 180`.
      const w = this.peek();
      if (!anonymous && w.kind === Tok.Word && (ELEM_STMT_KEYS.includes(w.text) || (w.text === 'ct' && this.peekAt(1)?.text === 'count'))) {
        const st = this.statement();
        const k = Object.keys(st)[0];
        if (!ELEM_STMT_KEYS.includes(k) || typeof (st as Record<string, unknown>)[k] === 'string') this.error(`'${w.text}' cannot be kept per element: only ${ELEM_STMT_KEYS.join(', ')} can`, w);
        if (k in elem) this.error(`the element has a ${k} already`, w);
        (elem as unknown as Record<string, unknown>)[k] = (st as Record<string, unknown>)[k];
        opts = true;
      } else if (this.acceptWord('timeout')) {
        const d = this.expectWord();
        const s = parseDuration(d.text);
        if (s === undefined) this.error(`'${d.text}' is not a time (e.g. 30s, 1h30m)`, d);
        elem.timeout = s;
        opts = true;
      } else if (this.acceptWord('expires')) {
        const d = this.expectWord();
        const s = parseDuration(d.text);
        if (s === undefined) this.error(`'${d.text}' is not a time`, d);
        elem.expires = s;
        opts = true;
      } else if (!anonymous && this.isWord('comment')) {
        this.next();
        elem.comment = this.string();
        opts = true;
      } else break;
    }
    return opts ? { elem } : val;
  }

  private verbCmd(out: Command[], verb: 'add' | 'create' | 'insert' | 'replace' | 'delete' | 'flush', at: Token): void {
    const word = this.expectWord();
    // `add ct helper inet t NAME { ... }`: an object named by two words.
    const obj = word.text === 'ct' && this.isWord('helper') ? { ...word, text: `ct ${this.next().text}` } : word;
    switch (obj.text) {
      case 'ruleset':
        if (verb !== 'flush') this.error(`'${verb} ruleset' is not a command (flush ruleset)`, obj);
        out.push(setPos({ flush: { ruleset: null } }, at));
        return;
      case 'table':
        if (verb === 'insert' || verb === 'replace') this.error(`cannot ${verb} a table`, obj);
        return this.tableCmd(out, verb as 'add', at);
      case 'chain': {
        const { family, name: table } = this.familyAndName();
        const name = this.expectName('chain');
        const chain: ChainJ = setPos({ family, table: table.text, name: name.text }, name);
        out.push(setPos({ [verb === 'create' ? 'add' : verb]: { chain } }, at));
        if ((verb === 'add' || verb === 'create') && this.acceptPunct('{')) this.chainBody(out, chain);
        return;
      }
      case 'set':
      case 'map': {
        const { family, name: table } = this.familyAndName();
        const name = this.expectName(obj.text);
        if (verb === 'add' || verb === 'create') {
          this.expectPunct('{');
          const set = this.setBody(family, table.text, name, obj.text === 'map');
          out.push(setPos(obj.text === 'map' ? { add: { map: set } } : { add: { set } }, at));
        } else {
          const set = setPos({ family, table: table.text, name: name.text, type: '' } as SetJ, name);
          out.push(setPos({ [verb]: obj.text === 'map' ? { map: set } : { set } }, at));
        }
        return;
      }
      case 'element': {
        if (verb !== 'add' && verb !== 'delete' && verb !== 'create') this.error(`cannot ${verb} an element`, obj);
        const { family, name: table } = this.familyAndName();
        const name = this.expectName('set');
        const set = this.declared.get(`${family} ${table.text} ${name.text}`) ?? this.setDecl?.(family, table.text, name.text);
        const types = set ? this.setTypes(set) : this.error(`element command needs the set '${name.text}' declared earlier in the same input`, name);
        const elem = this.elementList(types, verb === 'delete' ? undefined : set!.map);
        out.push(setPos({ [verb === 'create' ? 'add' : verb]: { element: { family, table: table.text, name: name.text, elem } } }, at));
        return;
      }
      case 'rule': {
        const { family, name: table } = this.familyAndName();
        const chain = this.expectName('chain');
        let handle: number | undefined;
        let position: number | undefined;
        let index: number | undefined;
        if (this.acceptWord('handle')) handle = this.integer();
        else if (this.acceptWord('position')) position = this.integer();
        else if (this.acceptWord('index')) index = this.integer();
        if (verb === 'delete') {
          if (handle === undefined) this.error('delete rule needs a handle: delete rule FAMILY TABLE CHAIN handle N', obj);
          const rule: RuleJ = setPos({ family, table: table.text, chain: chain.text, handle, expr: [] }, chain);
          out.push(setPos({ delete: { rule } }, at));
          return;
        }
        if (verb === 'replace' && handle === undefined) this.error('replace rule needs a handle', obj);
        if (verb === 'flush') this.error(`cannot flush a rule (flush chain)`, obj);
        const rule = this.rule(family, table.text, chain.text);
        // nft: in `add|insert rule ... handle H`, H names the rule to add after / insert
        // before (the same as `position H`); only `replace` targets the rule itself.
        if (handle !== undefined && verb !== 'replace') position = handle;
        else if (handle !== undefined) rule.handle = handle;
        if (position !== undefined) rule.position = position;
        if (index !== undefined) rule.index = index;
        out.push(setPos({ [verb === 'create' ? 'add' : verb]: { rule } }, at));
        return;
      }
      case 'counter':
      case 'quota':
      case 'limit':
      case 'ct helper': {
        if (verb !== 'add' && verb !== 'create' && verb !== 'delete') this.error(`cannot ${verb} a ${obj.text}`, obj);
        const { family, name: table } = this.familyAndName();
        const name = this.expectName(obj.text);
        if (verb === 'delete') {
          out.push(setPos({ delete: { [obj.text]: setPos({ family, table: table.text, name: name.text }, name) } } as Command, at));
          return;
        }
        out.push(setPos({ [verb]: { [obj.text]: this.objBody(obj.text as ObjKind, family, table.text, name) } } as Command, at));
        return;
      }
      case 'flowtable': {
        if (verb !== 'add' && verb !== 'create' && verb !== 'delete') this.error(`cannot ${verb} a flowtable`, obj);
        const { family, name: table } = this.familyAndName();
        const name = this.expectName('flowtable');
        if (verb === 'delete') {
          out.push(setPos({ delete: { flowtable: setPos({ family, table: table.text, name: name.text }, name) } } as Command, at));
          return;
        }
        out.push(setPos({ [verb]: { flowtable: this.flowtableBody(family, table.text, name) } } as Command, at));
        return;
      }
      default:
        this.error(`unknown object '${obj.text}' (table, chain, rule, set, map, element, counter, quota, limit, ct helper, flowtable, ruleset)`, obj);
    }
  }

  /** Looks a set declaration up (for element commands): set by the caller that knows the state. */
  setDecl?: (family: Family, table: string, name: string) => SetJ | undefined;

  // ---- rules ----

  /** Statements of the rule being read; copied out at its end into an exact-size array. */
  private readonly stmts: Stmt[] = [];

  rule(family: Family, table: string, chain: string): RuleJ {
    const start = this.peek();
    this.tableFamily = family;
    const stmts = this.stmts;
    const base = stmts.length; // a rule inside a rule (none today) would stack above
    let comment: string | undefined;
    while (!this.atRuleEnd()) {
      const t = this.peek();
      if (t.kind !== Tok.Word) this.error(`expected a match or statement, got ${describe(t)}`, t);
      if (t.text === 'comment') {
        this.next();
        comment = this.string();
        continue;
      }
      stmts.push(setPos(this.statement(), t));
    }
    if (stmts.length === base) this.error('empty rule', start);
    const expr = stmts.slice(base);
    stmts.length = base;
    // The position is a slot of the literal: setPos on a new object costs a property array.
    const rule = { family, table, chain, expr, [POS]: mark(start) } as RuleJ;
    if (comment !== undefined) rule.comment = comment;
    return rule;
  }

  statement(): Stmt {
    const t = this.peek();
    // Statements named by two words (`ct count`) before the selectors they start like.
    const t1 = t.kind === Tok.Word && this.registry.startsTwoWordStatement(t.text) ? this.peekAt(1) : undefined;
    if (t1 !== undefined && t1.kind === Tok.Word) {
      // Three words (`ct helper set`) before two: `ct helper "ftp"` is a match.
      const t2 = this.peekAt(2);
      const three = t2 !== undefined && t2.kind === Tok.Word ? this.registry.statementForWord(`${t.text} ${t1.text} ${t2.text}`) : undefined;
      if (three) {
        this.next();
        this.next();
        this.next();
        return three.parse(this, t);
      }
      const two = this.registry.statementForWord(`${t.text} ${t1.text}`);
      if (two) {
        this.next();
        this.next();
        return two.parse(this, t);
      }
    }
    const sel = this.trySelectorExpr();
    if (sel) {
      const n = this.peek();
      if (n.kind === Tok.Word) {
        const after = this.registry.statementAfterSelector(n.text);
        if (after) {
          this.next();
          return after.parse(this, n, sel);
        }
      }
      return this.match(sel, t);
    }
    const mod = this.registry.statementForWord(t.text);
    if (!mod) this.error(layer2Word(t.text) ?? notSupported(this.wordsAhead(4)) ?? `unknown match or statement '${t.text}'`, t);
    this.next();
    return mod.parse(this, t);
  }

  private match(sel: Selector, at: Token): Stmt {
    const types = this.typesOf(sel);
    if (this.acceptPunct('&')) return this.maskedMatch(sel, types, at);
    let op: string = '==';
    let explicit = false;
    const o = this.peek();
    const written = o.kind === Tok.Punct ? PUNCT_OPS.get(o.text) : o.kind === Tok.Word ? WORD_OPS.get(o.text) : undefined;
    if (written !== undefined) {
      this.next();
      explicit = true;
      op = written;
    }
    if (this.atRuleEnd()) this.error(`expected a value after ${this.selectorText(sel)}`, at);
    let right = this.value(types);
    // `ct state established | related`: nft's listing of an exact comparison with a flag
    // combination (`== established,related`); read back as that comparison.
    if (types.length === 1 && types[0].bitmask && !Array.isArray(right) && (typeof right === 'string' || typeof right === 'number') && this.isPunct('|')) {
      const flags: Value[] = [right];
      while (this.acceptPunct('|')) flags.push(this.scalarOrInterval(types[0]));
      right = flags as Value;
      explicit = true;
    }
    let left: Selector = sel;
    if (types.length === 1 && types[0].bitmask && this.acceptWord('/')) {
      const mask = this.value(types);
      left = { '&': [sel, mask] };
      if (op === '==' && Array.isArray(right) && right.length > 1) this.error('use one flag list before / (the wanted bits)', at);
    }
    // A bare flag value or list means "any of these bits is set" (nft's implicit flag
    // comparison); an explicit == compares the whole field.
    if (!explicit && types.length === 1 && types[0].bitmask && !('&' in left) && typeof right !== 'object') op = 'in';
    if (!explicit && Array.isArray(right)) op = 'in';
    // A time-of-day range across midnight ("22:00"-"06:00"): nft reads it as the day
    // outside the reversed range, and lists it so (`!= "06:00"-"22:00"`).
    if (types.length === 1 && types[0].name === 'hour' && (op === '==' || op === '!=') && right !== null && typeof right === 'object' && 'range' in right) {
      const [a, b] = right.range as [string, string];
      if (a > b) return { match: { op: op === '==' ? '!=' : '==', left, right: { range: [b, a] } }, [POS]: mark(at) } as Stmt;
    }
    return { match: { op, left, right }, [POS]: mark(at) } as Stmt;
  }

  /**
   * `SELECTOR & MASK [==|!=] VALUE` (nft's bitwise form, e.g. `tcp flags & (fin|syn|rst|ack)
   * == syn`, `ct mark & 0xff == 0x1`): the field's bits under MASK compared with VALUE.
   * Flag lists may be written `a|b`, `(a|b)` or `a,b`.
   */
  private maskedMatch(sel: Selector, types: DataType[], at: Token): Stmt {
    const maskAt = this.peek();
    const mask = this.bitsExpr(types);
    if (mask !== null && typeof mask === 'object' && !Array.isArray(mask)) this.error('a mask is one value, not a set, range or prefix', maskAt);
    let op = '==';
    const o = this.peek();
    const written = o.kind === Tok.Punct ? PUNCT_OPS.get(o.text) : o.kind === Tok.Word ? WORD_OPS.get(o.text) : undefined;
    const flags = types.length === 1 && types[0].bitmask === true;
    if (written !== undefined) {
      // Flags have no order; addresses and integers do (`ip saddr & 0.0.0.255 < 0.0.0.127`).
      if (flags && written !== '==' && written !== '!=') this.error(`after a mask of flags only == or != compare, not ${o.text}`, o);
      this.next();
      op = written;
    }
    if (this.atRuleEnd()) this.error(`expected a value after ${this.selectorText(sel)} & ...`, at);
    const right = flags && !this.isPunct('{') ? this.bitsExpr(types) : this.value(types);
    return { match: { op, left: { '&': [sel, mask] }, right }, [POS]: mark(at) } as Stmt;
  }

  /** A value, or flags joined by `|` (optionally in parentheses): a list is their OR. */
  private bitsExpr(types: DataType[]): Value {
    const paren = this.acceptPunct('(');
    const parts: Value[] = [];
    const add = (v: Value) => (Array.isArray(v) ? parts.push(...(v as Value[])) : parts.push(v));
    add(this.value(types));
    while (this.acceptPunct('|')) add(this.value(types));
    if (paren) this.expectPunct(')');
    return parts.length === 1 ? parts[0]! : (parts as Value);
  }

  /** The next n tokens' texts (fewer at the end), for naming a construct in an error. */
  private wordsAhead(n: number): string[] {
    const out: string[] = [];
    for (let k = 0; k < n; k++) {
      const a = this.peekAt(k);
      if (!a || a.kind === Tok.Eof) break;
      out.push(a.text);
    }
    return out;
  }

  private selectorText(sel: Selector): string {
    return this.registry.matchForLeft(sel)?.keywords.join(' ') ?? 'selector';
  }

  /** A selector (or a concatenation `a . b`) if the next words name one. */
  trySelectorExpr(): Selector | undefined {
    const first = this.trySelector();
    if (!first) return undefined;
    if (!this.isWord('.')) return first;
    const parts: Selector[] = [first];
    while (this.acceptWord('.')) {
      const s = this.trySelector();
      if (!s) this.error(layer2Word(this.peek().text) ?? 'expected a selector after . (concatenation)', this.peek());
      parts.push(s);
    }
    return { concat: parts };
  }

  private selectorExpr(): Selector {
    const s = this.trySelectorExpr();
    if (!s) this.error(layer2Word(this.peek().text) ?? `expected a selector (e.g. ip saddr, tcp dport), got ${describe(this.peek())}`, this.peek());
    return s;
  }

  private trySelector(): Selector | undefined {
    const t = this.peek();
    if (t.kind !== Tok.Word) return undefined;
    const cands = this.registry.matchesStartingWith(t.text);
    if (!cands) return undefined;
    for (let c = 0; c < cands.length; c++) {
      const m = cands[c];
      let ok = true;
      for (let k = 1; k < m.keywords.length; k++) {
        const a = this.peekAt(k);
        if (!a || a.kind !== Tok.Word || a.text !== m.keywords[k]) {
          ok = false;
          break;
        }
      }
      if (ok) {
        for (let k = 0; k < m.keywords.length; k++) this.next();
        if (m.parseParams) return m.parseParams(this, t);
        return m.left; // shared and never mutated: selectors are values
      }
    }
    // `ct` alone, `ip` alone...: a known prefix with an unknown field.
    const b = this.peekAt(1);
    const known = cands.map((c) => c.keywords.join(' ')).join(', ');
    if (t.text === 'fib') this.error(FIB_REFUSED, t);
    const routing = b?.kind === Tok.Word ? routingFieldRefusal(t.text, b.text) : undefined;
    if (routing) this.error(routing, b);
    const why = notSupported(this.wordsAhead(4));
    if (why) this.error(why, t);
    if (cands[0].keywords.length > 1) this.error(`unknown field '${b?.text ?? ''}' after '${t.text}' (known: ${known})`, b);
    return undefined;
  }

  typesOf(sel: Selector): DataType[] {
    if ('concat' in sel) return sel.concat.flatMap((s) => this.typesOf(s));
    if ('&' in sel) return this.typesOf(sel['&'][0]);
    const m = this.registry.matchForLeft(sel);
    if (!m) this.error(`unknown selector ${JSON.stringify(sel)}`);
    return this.registry.keyTypes(m);
  }

  // ---- values ----

  value(types: DataType[]): Value {
    const t = this.peek();
    if (t.kind === Tok.Punct && t.text === '{') {
      this.next();
      const items: Value[] = [];
      for (;;) {
        this.skipNewlines();
        if (this.acceptPunct('}')) break;
        items.push(this.element(types, true));
        this.skipNewlines();
        if (!this.acceptPunct(',')) {
          this.skipNewlines();
          this.expectPunct('}');
          break;
        }
      }
      if (items.length === 0) this.error('empty set', t);
      return { set: items };
    }
    if (t.kind === Tok.Word && t.text.startsWith('@')) {
      this.next();
      if (t.text.length < 2) this.error('expected a set name after @', t);
      return t.text;
    }
    return this.concatValue(types, false);
  }

  private concatValue(types: DataType[], inBraces: boolean): Value {
    if (types.length === 1) {
      // One key type (nearly every value): no parts list.
      const v = this.single(types[0], inBraces);
      if (this.isWord('.')) this.error(`too many parts: the key is ${types[0].name}`);
      return v;
    }
    const parts: Value[] = [];
    for (let i = 0; i < types.length; i++) {
      if (i > 0 && !this.acceptWord('.')) this.error(`expected '.' and a ${types[i].name} (the key is ${types.map((x) => x.name).join(' . ')})`);
      parts.push(this.single(types[i], inBraces));
    }
    if (this.isWord('.')) this.error(`too many parts: the key is ${types.map((x) => x.name).join(' . ')}`);
    return parts.length === 1 ? parts[0] : { concat: parts };
  }

  private single(type: DataType, inBraces: boolean): Value {
    const first = this.scalarOrInterval(type);
    if (!type.bitmask || inBraces || !this.isPunct(',')) return first;
    const list: Value[] = [first];
    while (this.acceptPunct(',')) list.push(this.scalarOrInterval(type));
    return list as Value;
  }

  private scalarOrInterval(type: DataType): Value {
    const t = this.peek();
    if (t.kind !== Tok.Word && t.kind !== Tok.String) this.error(`expected a ${type.name}, got ${describe(t)}`, t);
    this.next();
    const w = t.text;
    try {
      if (t.kind === Tok.String && type.ordered && this.isWord('-') && this.peekAt(1)?.kind === Tok.String) {
        // `"08:00"-"17:00"`: a range of quoted values (times of day, dates).
        this.next();
        const hi = this.next();
        return { range: [type.fromText(w), type.fromText(hi.text)] };
      }
      if (t.kind === Tok.String || type.symbols?.has(w)) return type.fromText(w);
      if (type.prefix && w.includes('/')) {
        const k = w.lastIndexOf('/');
        const len = w.slice(k + 1);
        if (!/^\d+$/.test(len) || Number(len) > type.bits) throw `invalid prefix length '/${len}' for ${type.name} (0-${type.bits})`;
        return { prefix: { addr: type.fromText(w.slice(0, k)) as string, len: Number(len) } };
      }
      if (type.ordered && w.indexOf('-') > 0) {
        // Names may hold '-' too (`1-microsoft-ds`): the first split whose two sides read.
        const k = w.indexOf('-');
        for (let j = w.indexOf('-', k + 1); j > 0; j = w.indexOf('-', j + 1)) {
          try {
            return { range: [type.fromText(w.slice(0, j)), type.fromText(w.slice(j + 1))] };
          } catch {
            // another split
          }
        }
        return { range: [type.fromText(w.slice(0, k)), type.fromText(w.slice(k + 1))] };
      }
      return type.fromText(w);
    } catch (e) {
      if (typeof e === 'string') this.error(e, t);
      throw e;
    }
  }

  verdict(): VerdictJ {
    const t = this.expectWord();
    if (t.text === 'jump' || t.text === 'goto') {
      const target = this.expectName('chain').text;
      return t.text === 'jump' ? { jump: { target } } : { goto: { target } };
    }
    if (['accept', 'drop', 'continue', 'return'].includes(t.text)) return { [t.text]: null } as VerdictJ;
    return this.error(`expected a verdict (accept, drop, continue, return, jump CHAIN, goto CHAIN), got '${t.text}'`, t);
  }

  /**
   * Map data of up to types.length parts (`192.0.2.10 . 8080` or `192.0.2.10` for a NAT map):
   * one part is a plain value, more a concatenation; the statement checks which it needs.
   */
  private dataParts(types: DataType[]): Value {
    const parts: Value[] = [this.scalarOrInterval(types[0]!)];
    while (parts.length < types.length && this.acceptWord('.')) parts.push(this.scalarOrInterval(types[parts.length]!));
    if (this.isWord('.')) this.error(`too many parts: the data is ${types.map((x) => x.name).join(' . ')}`);
    return parts.length === 1 ? parts[0]! : { concat: parts };
  }

  mapData(types: DataType[], data?: DataType | DataType[]): string | { set: [Value, VerdictJ | Value][] } {
    const t = this.peek();
    if (t.kind === Tok.Word && t.text.startsWith('@')) {
      this.next();
      return t.text;
    }
    this.expectPunct('{');
    const out: [Value, VerdictJ | Value][] = [];
    for (;;) {
      this.skipNewlines();
      if (this.acceptPunct('}')) break;
      const k = this.concatValue(types, true);
      this.expectWord(':');
      out.push([k, data === undefined ? this.verdict() : Array.isArray(data) ? this.dataParts(data) : this.scalarOrInterval(data)]);
      this.skipNewlines();
      if (!this.acceptPunct(',')) {
        this.skipNewlines();
        this.expectPunct('}');
        break;
      }
    }
    return { set: out };
  }
}

/** Written comparison operators -> the JSON op (`!` alone means `!=`). */
const PUNCT_OPS = new Map([['==', '=='], ['!=', '!='], ['<', '<'], ['>', '>'], ['<=', '<='], ['>=', '>='], ['!', '!=']]);
const WORD_OPS = new Map([['eq', '=='], ['ne', '!='], ['lt', '<'], ['gt', '>'], ['le', '<='], ['ge', '>=']]);

function describe(t: Token): string {
  switch (t.kind) {
    case Tok.Eof:
      return 'end of input';
    case Tok.Eol:
      return 'end of line';
    case Tok.String:
      return `"${t.text}"`;
    default:
      return `'${t.text}'`;
  }
}

/** Does the selector hold numgen, jhash or symhash? */
function hasParams(sel: Selector): boolean {
  if ('concat' in sel) return sel.concat.some(hasParams);
  return 'numgen' in sel || 'jhash' in sel || 'symhash' in sel;
}

/** Parses a whole text into commands. Throws RulesetError with file:line:col. */
export function parseText(registry: Registry, text: string, file = '<input>', setDecl?: Parser['setDecl'], maxExpandedTokens = Number.POSITIVE_INFINITY): Command[] {
  const p = new Parser(registry, text, file);
  p.setDecl = setDecl;
  p.maxExpandedTokens = maxExpandedTokens;
  return p.parse();
}
