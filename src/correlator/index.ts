// A compact cross-file index: for every record that carries an id, (id hash, line) in typed columns, by source.

/**
 * 2^23 entries: 32 MiB per column, the most glibc's moving mmap threshold can reach, so every block
 * is a mapping of its own. Untouched pages cost no memory, and a block freed (a worker's, after the
 * merge) goes back to the system. Smaller blocks came from the worker thread's malloc arena, and
 * freed in the main thread they stayed there: 20 MB of a 2 GiB scan's peak.
 */
const blockBits = 23;
const blockEntries = 1 << blockBits;
const blockMask = blockEntries - 1;

/** An index's storage as it crosses from a worker thread: blocks of 2^23 entries, the last one partly used. */
export interface IndexBlocks {
  hashes: Uint32Array[];
  lines: Uint32Array[];
  /** Pairs (first entry, source), ascending by entry. */
  runs: number[];
  size: number;
}

/**
 * One bit per value of a hash's low 20 bits: it turns away almost every entry before the Set is
 * asked, since the index holds millions of entries and the wanted a few thousand.
 */
function bitmapOf(wanted: Set<number>): Uint32Array {
  const bitmap = new Uint32Array(1 << 15);
  for (const h of wanted) bitmap[(h >>> 5) & 0x7fff] = (bitmap[(h >>> 5) & 0x7fff] as number) | (1 << (h & 31));
  return bitmap;
}

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
    this.makeRoom(source);
    const b = this.hashes.length - 1;
    (this.hashes[b] as Uint32Array)[this.used] = hash;
    (this.lines[b] as Uint32Array)[this.used] = line;
    this.used++;
    this.size++;
  }

  /** A block with room for the next entry, and a run for its source. */
  private makeRoom(source: number): void {
    if (this.used === blockEntries) {
      this.hashes.push(new Uint32Array(blockEntries));
      this.lines.push(new Uint32Array(blockEntries));
      this.used = 0;
    }
    if (source !== this.lastSource) {
      this.runs.push(this.size, source);
      this.lastSource = source;
    }
  }

  /** The blocks themselves, for a worker to transfer to the main thread without a copy; the index is empty after. */
  export(): IndexBlocks {
    const out: IndexBlocks = { hashes: this.hashes, lines: this.lines, runs: this.runs, size: this.size };
    this.hashes = [];
    this.lines = [];
    this.runs = [];
    this.lastSource = -1;
    this.used = blockEntries;
    this.size = 0;
    return out;
  }

  /** Appends another index's entries, letting go of each of its blocks once copied. */
  merge(other: IndexBlocks): void {
    const { hashes, lines, runs, size } = other;
    for (let r = 0; r < runs.length; r += 2) {
      const source = runs[r + 1] as number;
      const end = runs[r + 2] ?? size;
      for (let i = runs[r] as number; i < end; ) {
        this.makeRoom(source);
        // Copy up to the end of the run, of the block read from, or of the block written to.
        const from = i >>> blockBits;
        const at = i & blockMask;
        const n = Math.min(end - i, blockEntries - at, blockEntries - this.used);
        const b = this.hashes.length - 1;
        (this.hashes[b] as Uint32Array).set((hashes[from] as Uint32Array).subarray(at, at + n), this.used);
        (this.lines[b] as Uint32Array).set((lines[from] as Uint32Array).subarray(at, at + n), this.used);
        this.used += n;
        this.size += n;
        i += n;
        if ((i & blockMask) === 0) {
          // A source block fully copied is not needed any more.
          (hashes as (Uint32Array | null)[])[from] = null;
          (lines as (Uint32Array | null)[])[from] = null;
        }
      }
    }
  }

  /** Visits the entries whose hash is wanted, in order, with their source. */
  private eachWanted(wanted: Set<number>, visit: (hash: number, source: number, line: number) => void): void {
    const bitmap = bitmapOf(wanted);
    let run = 0;
    let nextRunAt = this.runs[2] ?? Infinity;
    for (let b = 0, entry = 0; b < this.hashes.length; b++) {
      const hashes = this.hashes[b] as Uint32Array;
      const lines = this.lines[b] as Uint32Array;
      const n = b === this.hashes.length - 1 ? this.used : blockEntries;
      for (let i = 0; i < n; i++, entry++) {
        const hash = hashes[i] as number;
        if (((bitmap[(hash >>> 5) & 0x7fff] as number) & (1 << (hash & 31))) === 0 || !wanted.has(hash)) continue;
        while (entry >= nextRunAt) {
          run++;
          nextRunAt = this.runs[run * 2 + 2] ?? Infinity;
        }
        visit(hash, this.runs[run * 2 + 1] as number, lines[i] as number);
      }
    }
  }



  /**
   * Every (source, line) whose hash is wanted, grouped by source, keeping for each id in each file its
   * first and last `perIdPerSource` lines: a busy instance appears in thousands of periodic lines, and its
   * start and end are what the related lines need.
   */
  lookup(wanted: Set<number>, perIdPerSource = 20): Map<number, Set<number>> {
    // Keyed by source * 2^32 + hash: exact in a double, and no string per entry.
    const firsts = new Map<number, number[]>();
    const lasts = new Map<number, number[]>();
    this.eachWanted(wanted, (hash, source, line) => {
      const key = source * 0x1_0000_0000 + hash;
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
      const source = Math.floor(key / 0x1_0000_0000);
      let set = out.get(source);
      if (!set) out.set(source, (set = new Set()));
      for (const line of [...lines, ...(lasts.get(key) ?? [])]) set.add(line);
    }
    return out;
  }

  /** The wanted hashes that occur in the accepted sources (request-lost asks which requests reached a downstream service). */
  presentIn(wanted: Set<number>, accept: (source: number) => boolean): Set<number> {
    const found = new Set<number>();
    const bitmap = bitmapOf(wanted);
    // Entries come in runs of one source: a run of a source not asked about is skipped whole.
    for (let r = 0; r < this.runs.length; r += 2) {
      if (!accept(this.runs[r + 1] as number)) continue;
      const end = this.runs[r + 2] ?? this.size;
      for (let entry = this.runs[r] as number; entry < end; entry++) {
        const hash = (this.hashes[entry >>> blockBits] as Uint32Array)[entry & blockMask] as number;
        if (((bitmap[(hash >>> 5) & 0x7fff] as number) & (1 << (hash & 31))) !== 0 && wanted.has(hash)) found.add(hash);
      }
    }
    return found;
  }

}
