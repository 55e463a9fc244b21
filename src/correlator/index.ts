// A compact cross-file index: for every record that carries an id, (id hash, source, line) in typed columns.

const blockEntries = 1 << 16;

/**
 * 12 bytes per indexed record, in append-only blocks, so a 2 GiB input costs tens of MB and no
 * strings (perf.md §2.5). Hashes are the first 32 bits of the id; the resolve pass re-reads the
 * lines and checks the full id, so a collision costs a re-read, never a wrong link.
 */
export class IdIndex {
  private hashes: Uint32Array[] = [];
  private sources: Uint32Array[] = [];
  private lines: Uint32Array[] = [];
  private used = blockEntries;
  size = 0;

  add(hash: number, source: number, line: number): void {
    if (this.used === blockEntries) {
      this.hashes.push(new Uint32Array(blockEntries));
      this.sources.push(new Uint32Array(blockEntries));
      this.lines.push(new Uint32Array(blockEntries));
      this.used = 0;
    }
    const b = this.hashes.length - 1;
    (this.hashes[b] as Uint32Array)[this.used] = hash;
    (this.sources[b] as Uint32Array)[this.used] = source;
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
    return { hashes: take(this.hashes), sources: take(this.sources), lines: take(this.lines) };
  }

  merge(columns: { hashes: Uint32Array; sources: Uint32Array; lines: Uint32Array }): void {
    for (let i = 0; i < columns.hashes.length; i++) this.add(columns.hashes[i] as number, columns.sources[i] as number, columns.lines[i] as number);
  }

  get bytes(): number {
    return this.hashes.length * blockEntries * 12;
  }

  /** Every (source, line) whose hash is wanted, grouped by source, lines ascending. */
  lookup(wanted: Set<number>): Map<number, Set<number>> {
    const out = new Map<number, Set<number>>();
    for (let b = 0; b < this.hashes.length; b++) {
      const hashes = this.hashes[b] as Uint32Array;
      const sources = this.sources[b] as Uint32Array;
      const lines = this.lines[b] as Uint32Array;
      const n = b === this.hashes.length - 1 ? this.used : blockEntries;
      for (let i = 0; i < n; i++) {
        if (!wanted.has(hashes[i] as number)) continue;
        const source = sources[i] as number;
        let set = out.get(source);
        if (!set) out.set(source, (set = new Set()));
        set.add(lines[i] as number);
      }
    }
    return out;
  }

  /** For each wanted hash, the sources that hold it (request-lost asks which components saw a request). */
  sourcesByHash(wanted: Set<number>): Map<number, Set<number>> {
    const out = new Map<number, Set<number>>();
    for (let b = 0; b < this.hashes.length; b++) {
      const hashes = this.hashes[b] as Uint32Array;
      const sources = this.sources[b] as Uint32Array;
      const n = b === this.hashes.length - 1 ? this.used : blockEntries;
      for (let i = 0; i < n; i++) {
        const h = hashes[i] as number;
        if (!wanted.has(h)) continue;
        let set = out.get(h);
        if (!set) out.set(h, (set = new Set()));
        set.add(sources[i] as number);
      }
    }
    return out;
  }
}
