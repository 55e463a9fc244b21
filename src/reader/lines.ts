// Frames decompressed bytes into lines without decoding them; line numbers come from counting `\n`.

/** Called once per chunk with every complete line in it; the buffer is reused after the call returns. */
export interface ChunkSink {
  /**
   * `starts[i]`..`ends[i]` are the bytes of line `firstLine + i` (no `\n`, no trailing `\r`, no leading NUL run);
   * `firstOffset` is where the first of them starts in the source.
   */
  lines(buf: Buffer, starts: Uint32Array, ends: Uint32Array, count: number, firstLine: number, firstOffset: number): void;
}

// Small to start: a directory of 20,000 one-line files must not allocate 512 KiB of index per file.
const initialCapacity = 1 << 10;

/**
 * The parser tells a source's format from the first 40 lines of the first sink call. That call
 * holds exactly the first 40 lines, or the lines ending within the first 64 KiB, or the first line
 * if none does, whatever sizes the chunks came in: a pipe's first read may hold one line.
 */
const headLines = 40;
const headBytes = 64 << 10;

/**
 * Carries the partial last line between chunks. A line longer than `maxLineBytes` keeps its first
 * `maxLineBytes` bytes (enough to match on) and the rest is dropped up to its newline, so one
 * 5 MB line cannot grow memory or shift the lines after it.
 */
export class LineSplitter {
  private carry: Buffer = Buffer.alloc(0);
  private carryLength = 0;
  private skippingLongLine = false;
  private lineNumber: number;
  /** Absolute offset (in the decompressed stream) of the carry's first byte. */
  private carryOffset = 0;
  private starts = new Uint32Array(initialCapacity);
  private ends = new Uint32Array(initialCapacity);
  /** Lines that were longer than the matching cap, and the first of them. */
  truncatedLines = 0;
  firstTruncatedLine = 0;
  bytes = 0;
  /** Copies of the chunks held until the head is complete; null once it went out. */
  private head: Buffer[] | null = [];
  private headLength = 0;
  private headNewlines = 0;

  constructor(
    private readonly sink: ChunkSink,
    private readonly maxLineBytes = 1 << 20,
    /** Line number of the first line fed, less one (a re-read that starts at a checkpoint). */
    startLine = 0,
    /** Absolute offset of the first byte fed. */
    private startOffset = 0,
    /** Hold the first lines back for format detection; a re-read of a known source does not need it. */
    private readonly holdsHead = true,
  ) {
    this.lineNumber = startLine;
    if (!holdsHead) this.head = null;
  }

  /** Starts over at another place in the same source, after end(): the resolve pass reads ranges one after another. */
  restart(startLine: number, startOffset: number): void {
    this.carryLength = 0;
    this.skippingLongLine = false;
    this.lineNumber = startLine;
    this.startOffset = startOffset;
    this.bytes = 0;
    this.head = this.holdsHead ? [] : null;
    this.headLength = 0;
    this.headNewlines = 0;
  }

  get lines(): number {
    return this.lineNumber;
  }

  push(chunk: Buffer): void {
    const chunkOffset = this.startOffset + this.bytes;
    this.bytes += chunk.length;
    if (this.head) {
      this.head.push(Buffer.from(chunk));
      this.headLength += chunk.length;
      for (let p = chunk.indexOf(10); p >= 0 && this.headNewlines < headLines; p = chunk.indexOf(10, p + 1)) this.headNewlines++;
      if (this.headNewlines >= headLines || this.headLength >= headBytes) this.releaseHead();
      return;
    }
    this.frameChunk(chunk, chunkOffset);
  }

  /** A live stream that went quiet: frame what the head holds now instead of waiting for 40 lines. */
  releaseIdle(): void {
    if (this.head && this.headLength > 0) this.releaseHead();
  }

  private releaseHead(): void {
    const held = Buffer.concat(this.head ?? [], this.headLength);
    this.head = null;
    let cut = -1;
    for (let n = 0, p = held.indexOf(10); n < headLines && p >= 0 && p < headBytes; n++, p = held.indexOf(10, p + 1)) cut = p;
    if (cut < 0) cut = held.indexOf(10);
    // The held head starts at the first byte fed.
    if (cut < 0) {
      this.frameChunk(held, this.startOffset);
      return;
    }
    this.frameChunk(held.subarray(0, cut + 1), this.startOffset);
    if (cut + 1 < held.length) this.frameChunk(held.subarray(cut + 1), this.startOffset + cut + 1);
  }

  private frameChunk(chunk: Buffer, chunkOffset: number): void {
    let data = chunk;
    let from = 0;
    if (this.skippingLongLine) {
      const nl = chunk.indexOf(10);
      if (nl < 0) return;
      this.skippingLongLine = false;
      from = nl + 1;
    }
    if (this.carryLength > 0) {
      // Join the carried partial line with this chunk; only the carry is copied.
      const nl = chunk.indexOf(10, from);
      if (nl < 0) {
        this.appendCarry(chunk, from, chunk.length, chunkOffset);
        return;
      }
      this.appendCarry(chunk, from, nl + 1, chunkOffset);
      const joined = this.carry.subarray(0, this.carryLength);
      this.carryLength = 0;
      this.frameLines(joined, 0, joined.length, false, this.carryOffset);
      from = nl + 1;
    }
    data = chunk;
    const last = data.lastIndexOf(10);
    if (last < from) {
      this.appendCarry(data, from, data.length, chunkOffset);
      return;
    }
    this.frameLines(data, from, last + 1, false, chunkOffset);
    if (last + 1 < data.length) this.appendCarry(data, last + 1, data.length, chunkOffset);
  }

  /** Flushes a last line that has no newline. */
  end(): void {
    if (this.head) this.releaseHead();
    if (this.carryLength > 0) {
      const rest = this.carry.subarray(0, this.carryLength);
      this.carryLength = 0;
      this.frameLines(rest, 0, rest.length, true, this.carryOffset);
    }
  }

  private appendCarry(src: Buffer, from: number, to: number, srcOffset = 0): void {
    // A NUL run opening a line is not part of it (see frameLines): one NUL stands for it while the line is open.
    const isNulRun = this.carryLength === 1 && this.carry[0] === 0;
    if (this.carryLength === 0 || isNulRun) {
      let p = from;
      while (p < to && src[p] === 0) p++;
      if (p === to) {
        if (p > from && !isNulRun) {
          this.ensureCarry(1);
          this.carry[0] = 0;
          this.carryLength = 1;
        }
        return;
      }
      from = p;
    }
    // Where the carried line starts in the stream: the re-read checkpoints are taken from it.
    // (The NUL standing for a run sits at carry[0], one byte before the line's first.)
    if (this.carryLength === 0 || isNulRun) this.carryOffset = srcOffset + from - (isNulRun ? 1 : 0);
    let length = to - from;
    const room = this.maxLineBytes - this.carryLength + (this.carry[0] === 0 && this.carryLength > 0 ? 1 : 0);
    // The newline that ends the line is not part of it: a line of exactly maxLineBytes is whole.
    if (length - (to > from && src[to - 1] === 10 ? 1 : 0) > room) {
      // The line passed the cap: keep its head, drop the rest up to its newline.
      const nl = src.indexOf(10, from);
      if (nl >= 0 && nl < to) {
        // Cannot happen for carries (they hold no newline) but keeps the framing honest.
        length = Math.min(nl - from, room);
      } else {
        length = Math.max(room, 0);
        this.skippingLongLine = to === src.length;
      }
      this.truncatedLines++;
      if (this.firstTruncatedLine === 0) this.firstTruncatedLine = this.lineNumber + 1;
      if (length <= 0) {
        this.flushTruncatedCarry();
        return;
      }
      this.ensureCarry(this.carryLength + length);
      src.copy(this.carry, this.carryLength, from, from + length);
      this.carryLength += length;
      this.flushTruncatedCarry();
      return;
    }
    this.ensureCarry(this.carryLength + length);
    src.copy(this.carry, this.carryLength, from, to);
    this.carryLength += length;
  }

  /** Emits the capped head of an over-long line as the line itself. */
  private flushTruncatedCarry(): void {
    const head = Buffer.from(this.carry.subarray(0, this.carryLength));
    this.carryLength = 0;
    this.frameLines(head, 0, head.length, true, this.carryOffset);
  }

  private ensureCarry(size: number): void {
    if (this.carry.length >= size) return;
    const grown = Buffer.allocUnsafe(Math.max(size, this.carry.length * 2, 4096));
    this.carry.copy(grown, 0, 0, this.carryLength);
    this.carry = grown;
  }

  /** `bufOffset` is the absolute offset of buf[0]. */
  private frameLines(buf: Buffer, from: number, to: number, lastHasNoNewline: boolean, bufOffset: number): void {
    let count = 0;
    let s = from;
    const firstLine = this.lineNumber + 1;
    while (s < to) {
      let nl = buf.indexOf(10, s);
      if (nl < 0 || nl >= to) {
        if (!lastHasNoNewline) break;
        nl = to;
      }
      // A crash leaves NULs where the file system had allocated blocks the log never wrote, and the
      // next line follows them with no newline between: a NUL run opening a line is not part of it.
      let b = s;
      while (b < nl && buf[b] === 0) b++;
      // A single line longer than the cap (inside one chunk) is matched on its head only.
      let e = nl;
      if (e - b > this.maxLineBytes) {
        e = b + this.maxLineBytes;
        // As for a head cut from the carry: a CR at the cut is not kept.
        if (buf[e - 1] === 13) e--;
        this.truncatedLines++;
        if (this.firstTruncatedLine === 0) this.firstTruncatedLine = this.lineNumber + count + 1;
      } else if (e > b && buf[e - 1] === 13) {
        e--;
      }
      if (count === this.starts.length) this.growIndex();
      this.starts[count] = b;
      this.ends[count] = e;
      count++;
      s = nl + 1;
    }
    this.lineNumber += count;
    if (count > 0) this.sink.lines(buf, this.starts, this.ends, count, firstLine, bufOffset + (this.starts[0] as number));
  }

  private growIndex(): void {
    const starts = new Uint32Array(this.starts.length * 2);
    starts.set(this.starts);
    const ends = new Uint32Array(this.ends.length * 2);
    ends.set(this.ends);
    this.starts = starts;
    this.ends = ends;
  }
}
