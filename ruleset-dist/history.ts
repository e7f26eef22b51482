/**
 * The last N versions of the cluster ruleset with their text, kept in memory and in one
 * JSON file under the state directory, so that a restarted node comes back with the
 * version it ran and an operator can roll back to any version still listed. The file is
 * replaced atomically (write a temporary file, fsync, rename): a crash leaves the old or
 * the new history, never half of one.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';

export interface VersionEntry {
  version: number;
  hash: string;
  /** Canonical text of this version. */
  text: string;
  /** ms since the epoch, on the node that made the version. */
  time: number;
  /** Name of the node where the version was made. */
  origin: string;
  /** What made it: "transaction (3 changes)", "apply", "rollback to 4", "SIGHUP reload", ... */
  summary: string;
}

export type VersionMeta = Omit<VersionEntry, 'text'>;

const FILE = 'ruleset-history.json';

export class VersionHistory {
  private entries: VersionEntry[] = [];
  /** Hash of the ruleset source (the file) as last loaded: tells a file edited while down. */
  sourceHash: string | undefined;
  /** Fingerprint of the cluster key the history was made under (see RulesetDistributor.start). */
  clusterId: string | undefined;
  private writing: Promise<void> = Promise.resolve();

  /** `dir` undefined: memory only (tests, or a node configured without a state dir). */
  constructor(
    readonly size: number,
    readonly dir?: string,
  ) {}

  get file(): string | undefined {
    return this.dir ? path.join(this.dir, FILE) : undefined;
  }

  /** Reads the persisted history; a missing file is an empty history, a corrupt one an error. */
  async load(): Promise<void> {
    const file = this.file;
    if (!file) return;
    let raw: string;
    try {
      raw = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const doc = JSON.parse(raw) as { entries?: unknown; sourceHash?: unknown; clusterId?: unknown };
    if (typeof doc.sourceHash === 'string') this.sourceHash = doc.sourceHash;
    if (typeof doc.clusterId === 'string') this.clusterId = doc.clusterId;
    if (!Array.isArray(doc.entries)) throw new Error(`${file}: no "entries" array`);
    const ok = doc.entries.filter(
      (e): e is VersionEntry =>
        typeof e === 'object' && e !== null && Number.isSafeInteger((e as VersionEntry).version) && typeof (e as VersionEntry).text === 'string' && typeof (e as VersionEntry).hash === 'string',
    );
    this.entries = ok.sort((a, b) => a.version - b.version).slice(-this.size);
  }

  /** Forgets every version (a history of another cluster). */
  clear(): void {
    this.entries = [];
    this.sourceHash = undefined;
  }

  /** The newest version recorded, or undefined. */
  latest(): VersionEntry | undefined {
    return this.entries[this.entries.length - 1];
  }

  get(version: number): VersionEntry | undefined {
    return this.entries.find((e) => e.version === version);
  }

  list(): VersionMeta[] {
    return this.entries.map(({ text: _t, ...meta }) => meta);
  }

  /** Adds (or replaces) a version, drops the oldest beyond `size`, and persists. */
  add(e: VersionEntry): Promise<void> {
    this.entries = this.entries.filter((x) => x.version !== e.version);
    this.entries.push(e);
    this.entries.sort((a, b) => a.version - b.version);
    if (this.entries.length > this.size) this.entries.splice(0, this.entries.length - this.size);
    return this.persist();
  }

  /** Resolves when every write asked for so far is on disk (or has failed). */
  flushed(): Promise<void> {
    return this.writing.catch(() => undefined);
  }

  /** Writes are queued so the file always ends with the latest state. */
  persist(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const snapshot = JSON.stringify({ format: 1, clusterId: this.clusterId, sourceHash: this.sourceHash, entries: this.entries });
    this.writing = this.writing.catch(() => undefined).then(async () => {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.tmp`;
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(snapshot);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    });
    return this.writing;
  }
}
