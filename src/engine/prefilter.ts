// One pass over raw bytes finds every rule hint at once (Wu-Manber, block 2, ASCII case folded); see perf.md §2.4.

const fold = new Uint8Array(256);
for (let i = 0; i < 256; i++) fold[i] = i >= 65 && i <= 90 ? i + 32 : i;

export interface Prefilter {
  /** Pattern ids in the order given; `patternOf[i]` is the literal's index in the input list. */
  readonly literals: string[];
  /** Fills `hits` with sorted match start offsets and their literal ids. */
  scan(buf: Buffer, start: number, end: number, hits: Hits): void;
}

/** Growable hit arrays, reused from chunk to chunk. */
export class Hits {
  positions = new Int32Array(1024);
  ids = new Int32Array(1024);
  count = 0;

  push(position: number, id: number): void {
    if (this.count === this.positions.length) {
      const positions = new Int32Array(this.count * 2);
      positions.set(this.positions);
      const ids = new Int32Array(this.count * 2);
      ids.set(this.ids);
      this.positions = positions;
      this.ids = ids;
    }
    this.positions[this.count] = position;
    this.ids[this.count] = id;
    this.count++;
  }
}

function utf8Folded(text: string): Uint8Array {
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i++) bytes[i] = fold[bytes[i] ?? 0] ?? 0;
  return bytes;
}

/** Non-ASCII text may appear `\uXXXX`-escaped (JSON bodies, Python reprs); so may its hint. */
export function escapedForm(text: string): string | null {
  if (!/[^\x00-\x7f]/.test(text)) return null;
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x80) out += ch;
    else if (code > 0xffff) {
      const s = String.fromCodePoint(code);
      out += `\\u${s.charCodeAt(0).toString(16).padStart(4, "0")}\\u${s.charCodeAt(1).toString(16).padStart(4, "0")}`;
    } else out += `\\u${code.toString(16).padStart(4, "0")}`;
  }
  return out;
}

export function buildPrefilter(literals: string[]): Prefilter {
  const patterns = literals.map(utf8Folded);
  if (patterns.length === 0) {
    return { literals, scan: (_buf, _start, _end, hits) => void (hits.count = 0) };
  }
  const m = Math.max(2, Math.min(...patterns.map((p) => p.length)));
  const shortest = Math.min(...patterns.map((p) => p.length));
  if (shortest < 2) throw new Error("prefilter literals need at least 2 bytes");
  const shift = new Uint8Array(65536).fill(Math.min(m - 1, 255));
  const buckets = new Map<number, number[]>();
  patterns.forEach((p, id) => {
    for (let j = 1; j < m; j++) {
      const bigram = ((p[j - 1] ?? 0) << 8) | (p[j] ?? 0);
      const distance = m - 1 - j;
      if (distance < (shift[bigram] ?? 0)) shift[bigram] = distance;
      if (distance === 0) {
        const bucket = buckets.get(bigram) ?? [];
        bucket.push(id);
        buckets.set(bigram, bucket);
      }
    }
  });
  const bucketOf: (Int32Array | undefined)[] = new Array(65536);
  for (const [bigram, ids] of buckets) bucketOf[bigram] = Int32Array.from(ids);

  function scan(buf: Buffer, start: number, end: number, hits: Hits): void {
    hits.count = 0;
    let pos = start + m - 1;
    while (pos < end) {
      const bigram = ((fold[buf[pos - 1] as number] as number) << 8) | (fold[buf[pos] as number] as number);
      const sh = shift[bigram] as number;
      if (sh !== 0) {
        pos += sh;
        continue;
      }
      const bucket = bucketOf[bigram];
      if (bucket !== undefined) {
        const st = pos - m + 1;
        for (let k = 0; k < bucket.length; k++) {
          const id = bucket[k] as number;
          const p = patterns[id] as Uint8Array;
          const length = p.length;
          if (st + length > end) continue;
          let j = 0;
          while (j < length && fold[buf[st + j] as number] === p[j]) j++;
          if (j === length) hits.push(st, id);
        }
      }
      pos++;
    }
  }
  return { literals, scan };
}
