// A compact cross-file index: for every record that carries an id, (id hash, line) in typed columns, by source.

/** Lines kept at each end for an id in a file: a related line needs the request's start and end, not its thousands of periodic lines. */
export const linesPerIdPerSource = 20;

/**
 * 2^23 entries: 32 MiB per column, the most glibc's moving mmap threshold can reach, so every block
 * is a mapping of its own and its untouched pages cost no memory. That matters because blocks are
 * merged as they come: each thread's last block is partly used. Smaller blocks came from the worker
 * thread's malloc arena, which kept them after the worker was gone.
 */
const blockEntries = 1 << 23;

/**
 * Up to 2^23 entries in two columns, and where each source's entries start in it. A block may be
 * partly used: a merged index keeps each thread's blocks as they came, so nothing is copied.
 */
export interface IndexBlock {
  hashes: Uint32Array;
  lines: Uint32Array;
  used: number;
  /** Pairs (first entry in this block, source), ascending by entry. */
  runs: number[];
  /** Added to every line: a part of a file is indexed from its own first line, and numbered on when the parts are joined. */
  lineBase: number;
}

/**
 * The hashes a pass over the index looks for. A bitmap of their low 20 bits turns away most entries
 * at the cost of one load; the rest probe an open-addressed table of u32, each hash in a slot of its
 * own. A Set<number> boxed every hash above 2^30 and cost 150 ns a probe: a tenth of the correlation.
 */
class WantedHashes {
  readonly bitmap = new Uint32Array(1 << 15);
  /** Open addressing, linear probing; 0 marks an empty slot, so a wanted 0 takes the extra last slot. */
  readonly slots: Uint32Array;
  private readonly shift: number;
  private readonly mask: number;
  private readonly hasZero: boolean;

  constructor(wanted: Set<number>) {
    let bits = 4;
    while (1 << bits < wanted.size * 2) bits++;
    this.slots = new Uint32Array((1 << bits) + 1);
    this.shift = 32 - bits;
    this.mask = (1 << bits) - 1;
    this.hasZero = wanted.has(0);
    for (const h of wanted) {
      this.bitmap[(h >>> 5) & 0x7fff] = (this.bitmap[(h >>> 5) & 0x7fff] as number) | (1 << (h & 31));
      if (h === 0) continue;
      let i = this.home(h);
      while (this.slots[i] !== 0) i = (i + 1) & this.mask;
      this.slots[i] = h;
    }
  }

  private home(hash: number): number {
    return Math.imul(hash, 0x9e3779b1) >>> this.shift;
  }

  /** The slot of `hash` (0 … slots.length - 1), or -1 when it is not wanted. */
  find(hash: number): number {
    if (((this.bitmap[(hash >>> 5) & 0x7fff] as number) & (1 << (hash & 31))) === 0) return -1;
    if (hash === 0) return this.hasZero ? this.mask + 1 : -1;
    for (let i = this.home(hash); ; i = (i + 1) & this.mask) {
      const v = this.slots[i] as number;
      if (v === hash) return i;
      if (v === 0) return -1;
    }
  }
}

/** Entries a thread adds before it tells the others: the budget may be passed by this much per thread. */
const sharedStep = 1 << 14;

/**
 * 8 bytes per indexed id (a u32 hash and a u32 line) in append-only blocks, and in each block one
 * (entry, source) pair each time the source changes, since a file's entries arrive together; no strings
 * (perf.md §2.5).
 * Hashes are the first 32 bits of the id; the resolve pass re-reads the lines and checks the full id,
 * so a collision costs a re-read, never a wrong link.
 */
export class IdIndex {
  private blocks: IndexBlock[] = [];
  private lastSource = -1;
  size = 0;
  /** Set once the entries passed the budget: they are dropped, and questions go to a second read of the logs. */
  overflowed = false;
  private readonly only: WantedHashes | null;

  /**
   * `budget`: the most entries kept (8 bytes each). `only`: the hashes worth keeping, for the second
   * pass, which indexes just what the correlator asks about. `shared`: the threads of one scan count
   * their entries together in `shared.counts[shared.slot]`, in steps, so the budget holds for their sum.
   */
  constructor(
    private budget = Infinity,
    only: Set<number> | null = null,
    private readonly shared: { counts: Int32Array; slot: number } | null = null,
    /**
     * The first block's entries. V8 counts a block's whole size as memory in use: a part of a file,
     * indexed on its own, takes a block sized to the part, or the major collections that 64 MiB for
     * each part brought on took a core's time from the scan.
     */
    private readonly firstBlockEntries = blockEntries,
  ) {
    this.only = only ? new WantedHashes(only) : null;
  }

  add(hash: number, source: number, line: number): void {
    if (this.overflowed || (this.only !== null && this.only.find(hash) < 0)) return;
    if (this.size >= this.budget) {
      this.overflow();
      return;
    }
    // Every step, the thread adds its step to the scan's count and sees whether all of them passed the budget.
    if (this.shared && (this.size & (sharedStep - 1)) === 0 && this.size > 0) {
      if ((Atomics.add(this.shared.counts, this.shared.slot, 1) + 1) * sharedStep > this.budget) {
        this.overflow();
        return;
      }
    }
    let block = this.blocks[this.blocks.length - 1];
    if (!block || block.used === block.hashes.length) {
      const entries = block ? blockEntries : Math.min(blockEntries, this.firstBlockEntries);
      block = { hashes: new Uint32Array(entries), lines: new Uint32Array(entries), used: 0, runs: [], lineBase: 0 };
      this.blocks.push(block);
      this.lastSource = -1;
    }
    if (source !== this.lastSource) {
      block.runs.push(block.used, source);
      this.lastSource = source;
    }
    block.hashes[block.used] = hash;
    block.lines[block.used] = line;
    block.used++;
    this.size++;
  }

  /** After the scan: the few entries the correlator adds (domain mentions) must not drop what the scan kept. */
  removeBudget(): void {
    this.budget = Infinity;
  }

  private overflow(): void {
    this.overflowed = true;
    this.blocks = [];
    this.size = 0;
  }

  /**
   * The blocks themselves, for a worker to transfer to the main thread without a copy (none once it
   * overflowed); the index is empty after.
   */
  export(): { blocks: IndexBlock[]; overflowed: boolean } {
    const out = { blocks: this.blocks, overflowed: this.overflowed };
    this.blocks = [];
    this.lastSource = -1;
    this.size = 0;
    return out;
  }

  /**
   * Takes another index's blocks as they are. Each thread scans whole files, so a source's entries
   * stay together and in line order. Past the budget, or when the other index had overflowed, both are dropped.
   */
  merge(other: { blocks: IndexBlock[]; overflowed: boolean }): void {
    if (other.overflowed) this.overflow();
    if (this.overflowed) return;
    for (const block of other.blocks) {
      this.blocks.push(block);
      this.size += block.used;
    }
    if (this.size > this.budget) this.overflow();
    // The next entry starts a run of its own, even for the same source.
    this.lastSource = -1;
  }

  /** Visits the entries whose hash is wanted, run by run, with the hash's slot in `wanted` and the entry's source. */
  private eachWanted(wanted: WantedHashes, accept: (source: number) => boolean, visit: (slot: number, source: number, line: number) => void): void {
    // Answering from what is left would silently lose links: the caller must ask the second pass.
    if (this.overflowed) throw new Error("the id index overflowed its budget; ask the second pass");
    for (const { hashes, lines, used, runs, lineBase } of this.blocks) {
      for (let r = 0; r < runs.length; r += 2) {
        const source = runs[r + 1] as number;
        // Entries come in runs of one source: a run of a source not asked about is skipped whole.
        if (!accept(source)) continue;
        const end = runs[r + 2] ?? used;
        for (let i = runs[r] as number; i < end; i++) {
          const slot = wanted.find(hashes[i] as number);
          if (slot >= 0) visit(slot, source, (lines[i] as number) + lineBase);
        }
      }
    }
  }

  /**
   * Every (source, line) whose hash is wanted, grouped by source, keeping for each id in each file its
   * first and last `perIdPerSource` lines: a busy instance appears in thousands of periodic lines, and its
   * start and end are what the related lines need.
   */
  lookup(wanted: Set<number>, perIdPerSource = linesPerIdPerSource): Map<number, Set<number>> {
    const table = new WantedHashes(wanted);
    // Keyed by source * slots + slot: exact in a double, and no string per entry.
    const width = table.slots.length;
    const firsts = new Map<number, number[]>();
    const lasts = new Map<number, number[]>();
    this.eachWanted(table, () => true, (slot, source, line) => {
      const key = source * width + slot;
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
      const source = Math.floor(key / width);
      let set = out.get(source);
      if (!set) out.set(source, (set = new Set()));
      for (const line of [...lines, ...(lasts.get(key) ?? [])]) set.add(line);
    }
    return out;
  }

  /** The wanted hashes that occur in the accepted sources (request-lost asks which requests reached a downstream service). */
  presentIn(wanted: Set<number>, accept: (source: number) => boolean): Set<number> {
    const table = new WantedHashes(wanted);
    const seen = new Uint8Array(table.slots.length);
    this.eachWanted(table, accept, (slot) => (seen[slot] = 1));
    return new Set([...wanted].filter((h) => seen[table.find(h)] === 1));
  }
}

/**
 * Stands in for an index that passed its budget: the first question reads the logs again, keeping
 * only the ids asked about and those `likely` to be asked next, so one pass usually answers them all.
 * Memory is then set by the ids asked about, not by the size of the logs.
 */
export class SecondPassIndex {
  private read: { covers: Set<number>; index: IdIndex } | null = null;

  constructor(
    private readonly readAgain: (wanted: Set<number>) => Promise<IdIndex>,
    private readonly likely: Set<number>,
  ) {}

  /** The second pass indexes the domain mentions itself, in the place the first pass's index had them. */
  add(): void {}

  private async indexFor(wanted: Set<number>): Promise<IdIndex> {
    if (this.read && [...wanted].every((h) => this.read?.covers.has(h))) return this.read.index;
    const covers = new Set([...wanted, ...this.likely, ...(this.read?.covers ?? [])]);
    this.read = { covers, index: await this.readAgain(covers) };
    return this.read.index;
  }

  async lookup(wanted: Set<number>): Promise<Map<number, Set<number>>> {
    return (await this.indexFor(wanted)).lookup(wanted);
  }

  async presentIn(wanted: Set<number>, accept: (source: number) => boolean): Promise<Set<number>> {
    return (await this.indexFor(wanted)).presentIn(wanted, accept);
  }
}
