/**
 * Typed reading of a parsed YAML/JSON document with errors that name the path of the bad
 * field and what was expected ("datapath.batchSize: expected an integer from 1 to 1024,
 * got "x""). Parse at the edge into typed values; nothing inward sees raw JSON.
 *
 * By default the first bad field throws. A Reader given an error list (`hafw node --check`)
 * records every bad field instead and goes on with a stand-in value (the default, the
 * lowest allowed, an empty list), so one run reports every mistake in the file, as
 * `nft -c` and `keepalived -t` do; its result is then only good for finding more errors.
 */
export class ConfigError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
    readonly file?: string,
    readonly line?: number,
  ) {
    super(`${file ? `${file}${line ? `:${line}` : ''}: ` : ''}${path || '(top level)'}: ${problem}`);
  }
}

type Obj = Record<string, unknown>;

function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

export class Reader {
  constructor(
    private readonly value: unknown,
    readonly path: string,
    /** Where errors go instead of being thrown (collecting mode); shared by child readers. */
    readonly errors?: ConfigError[],
    /** A parent was not a mapping: that one error says it all, its settings add nothing. */
    private quiet = false,
  ) {}

  /** Whether a setting was already found bad (collecting mode): checks that build on it keep still. */
  failed(path: string): boolean {
    return this.errors?.some((e) => e.path === path) ?? false;
  }

  /**
   * A bad field: throws, or (collecting) records it once and returns `standIn` so reading
   * goes on.
   */
  fail<T>(path: string, problem: string, standIn: T): T;
  fail(path: string, problem: string): void;
  fail<T>(path: string, problem: string, standIn?: T): T | undefined {
    if (!this.errors) throw new ConfigError(path, problem);
    if (this.quiet) return standIn;
    if (!this.errors.some((e) => e.path === path && e.problem === problem)) this.errors.push(new ConfigError(path, problem));
    return standIn;
  }

  private child(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  private obj(): Obj {
    if (this.value === undefined || this.value === null) return {};
    if (typeof this.value !== 'object' || Array.isArray(this.value)) {
      this.fail(this.path, `expected a mapping, got ${show(this.value)}`);
      this.quiet = true;
      return {};
    }
    return this.value as Obj;
  }

  /** Fails on keys the schema does not know: a typo must not be silently ignored. */
  onlyKeys(allowed: readonly string[]): this {
    for (const k of Object.keys(this.obj())) {
      if (!allowed.includes(k)) this.fail(this.child(k), `unknown setting (known here: ${allowed.join(', ')})`);
    }
    return this;
  }

  section(key: string): Reader {
    const v = this.obj()[key];
    // Reading the parent first: a parent that is not a mapping quiets its children.
    this.obj();
    return new Reader(v, this.child(key), this.errors, this.quiet);
  }

  has(key: string): boolean {
    return this.obj()[key] !== undefined;
  }

  string(key: string, def?: string, pattern?: RegExp, what?: string): string {
    const v = this.obj()[key];
    if (v === undefined) {
      if (def !== undefined) return def;
      return this.fail(this.child(key), `required${what ? ` (${what})` : ''}`, '');
    }
    if (typeof v !== 'string' || (pattern && !pattern.test(v))) {
      return this.fail(this.child(key), `expected ${what ?? 'a string'}, got ${show(v)}`, def ?? '');
    }
    return v;
  }

  /**
   * A required secret string (a key): a bad one is described by its type and length, never
   * echoed, since config errors end up in the journal.
   */
  secret(key: string, pattern: RegExp, what: string): string {
    const v = this.obj()[key];
    if (typeof v === 'string' && pattern.test(v)) return v;
    const got = v === undefined || v === null ? 'nothing' : typeof v === 'string' ? `a string of ${v.length} characters` : `a ${Array.isArray(v) ? 'list' : typeof v}`;
    return this.fail(this.child(key), `expected ${what}, got ${got} (not shown: it is a secret)`, '');
  }

  int(key: string, def: number | undefined, min: number, max: number): number {
    const v = this.obj()[key];
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      return this.fail(this.child(key), `expected an integer from ${min} to ${max}, got ${show(v)}`, def ?? min);
    }
    return v;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.obj()[key];
    if (v === undefined) return def;
    if (typeof v !== 'boolean') return this.fail(this.child(key), `expected true or false, got ${show(v)}`, def);
    return v;
  }

  oneOf<T extends string>(key: string, def: T, choices: readonly T[]): T {
    const v = this.obj()[key];
    if (v === undefined) return def;
    if (typeof v !== 'string' || !choices.includes(v as T)) {
      return this.fail(this.child(key), `expected one of ${choices.join(', ')}, got ${show(v)}`, def);
    }
    return v as T;
  }

  /** A list of mappings, each read by `item` with its own path (key[i]). */
  list<T>(key: string, item: (r: Reader) => T): T[] {
    const v = this.obj()[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) return this.fail(this.child(key), `expected a list, got ${show(v)}`, []);
    return v.map((x, i) => item(new Reader(x, `${this.child(key)}[${i}]`, this.errors, this.quiet)));
  }

  stringList(key: string, def: string[] | undefined, pattern?: RegExp, what?: string): string[] {
    const v = this.obj()[key];
    if (v === undefined) {
      if (def !== undefined) return def;
      return this.fail(this.child(key), 'required (a list)', []);
    }
    if (!Array.isArray(v)) return this.fail(this.child(key), `expected a list, got ${show(v)}`, def ?? []);
    const out: string[] = [];
    v.forEach((item, i) => {
      if (typeof item !== 'string' || (pattern && !pattern.test(item))) {
        this.fail(`${this.child(key)}[${i}]`, `expected ${what ?? 'a string'}, got ${show(item)}`);
      } else out.push(item);
    });
    return out;
  }
}
