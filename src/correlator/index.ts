// A compact cross-file index: for every record that carries an id, (id hash, line) in typed columns, by source.

const blockEntries = 1 << 16;

/**
 * 8 bytes per indexed id (a u32 hash and a u32 line) in append-only blocks, and one (entry, source)
 * pair each time the source changes, since a file's entries arrive together; no strings (perf.md §2.5).
 * Hashes are the first 32 bits of the id; the resolve pass re-reads the lines and checks the full id,
 * so a collision costs a re-read, never a wrong link.
 */
export class IdIndex {
  private hashes: Uint32Array[] = [];
  private lines: Uint32Array[] = [];
  /** Pairs (first entry, source), ascending by entry. */
  private runs: number[] = [];
  private lastSource = -1;
  private used = blockEntries;
  size = 0;

  add(hash: number, source: number, line: number): void {
    if (this.used === blockEntries) {
      this.hashes.push(new Uint32Array(blockEntries));
      this.lines.push(new Uint32Array(blockEntries));
      this.used = 0;
    }
    if (source !== this.lastSource) {
      this.runs.push(this.size, source);
      this.lastSource = source;
    }
    const b = this.hashes.length - 1;
    (this.hashes[b] as Uint32Array)[this.used] = hash;
    (this.lines[b] as Uint32Array)[this.used] = line;
    this.used++;
    this.size++;
  }

  /** The columns, trimmed, for a worker to transfer to the main thread. */
  export(): { hashes: Uint32Array; sources: Uint32Array; lines: Uint32Array } {
    const take = (blocks: Uint32Array[]) => {
      const out = new Uint32Array(this.size);
      blocks.forEach((b, i) => out.set(i === blocks.length - 1 ? b.subarray(0, this.used) : b, i * blockEntries));
      return out;
    };
    const sources = new Uint32Array(this.size);
    this.each((_, source, __, i) => (sources[i] = source));
    return { hashes: take(this.hashes), sources, lines: take(this.lines) };
  }

  merge(columns: { hashes: Uint32Array; sources: Uint32Array; lines: Uint32Array }): void {
    for (let i = 0; i < columns.hashes.length; i++) this.add(columns.hashes[i] as number, columns.sources[i] as number, columns.lines[i] as number);
  }

  get bytes(): number {
    return this.hashes.length * blockEntries * 8 + this.runs.length * 8;
  }

  /** Visits every entry in order with its source. */
  private each(visit: (hash: number, source: number, line: number, entry: number) => void): void {
    let run = 0;
    let source = this.runs[1] ?? 0;
    let nextRunAt = this.runs[2] ?? Infinity;
    for (let b = 0, entry = 0; b < this.hashes.length; b++) {
      const hashes = this.hashes[b] as Uint32Array;
      const lines = this.lines[b] as Uint32Array;
      const n = b === this.hashes.length - 1 ? this.used : blockEntries;
      for (let i = 0; i < n; i++, entry++) {
        while (entry >= nextRunAt) {
          run++;
          source = this.runs[run * 2 + 1] as number;
          nextRunAt = this.runs[run * 2 + 2] ?? Infinity;
        }
        visit(hashes[i] as number, source, lines[i] as number, entry);
      }
    }
  }

  /**
   * Every (source, line) whose hash is wanted, grouped by source, keeping for each id in each file its
   * first and last `perIdPerSource` lines: a busy instance appears in thousands of periodic lines, and its
   * start and end are what the related lines need.
   */
  lookup(wanted: Set<number>, perIdPerSource = 20): Map<number, Set<number>> {
    const firsts = new Map<string, number[]>();
    const lasts = new Map<string, number[]>();
    this.each((hash, source, line) => {
      if (!wanted.has(hash)) return;
      const key = `${source}:${hash}`;
      const first = firsts.get(key);
      if (!first) firsts.set(key, [line]);
      else if (first.length < perIdPerSource) first.push(line);
      else {
        const last = lasts.get(key) ?? [];
        last.push(line);
        if (last.length > perIdPerSource) last.shift();
        lasts.set(key, last);
      }
    });
    const out = new Map<number, Set<number>>();
    for (const [key, lines] of firsts) {
      const source = Number(key.slice(0, key.indexOf(":")));
      let set = out.get(source);
      if (!set) out.set(source, (set = new Set()));
      for (const line of [...lines, ...(lasts.get(key) ?? [])]) set.add(line);
    }
    return out;
  }

  /** For each wanted hash, the sources that hold it (request-lost asks which components saw a request). */
  sourcesByHash(wanted: Set<number>): Map<number, Set<number>> {
    const out = new Map<number, Set<number>>();
    this.each((hash, source) => {
      if (!wanted.has(hash)) return;
      let set = out.get(hash);
      if (!set) out.set(hash, (set = new Set()));
      set.add(source);
    });
    return out;
  }
}
