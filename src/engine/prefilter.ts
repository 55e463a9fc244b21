// One pass over raw bytes finds every rule hint at once (Wu-Manber, block 3, ASCII case folded); see perf.md §2.4.

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

/** Both cases of an ASCII letter, so the shift table needs no folding in the scan loop. */
function cases(byte: number): number[] {
  return byte >= 97 && byte <= 122 ? [byte, byte - 32] : [byte];
}

/** Blocks of three bytes hashed into 16 bits: with pairs, English bigrams ("re", "er") kept the shifts short. */
const tableBits = 16;
const hashMask = (1 << tableBits) - 1;

export function buildPrefilter(literals: string[]): Prefilter {
  const patterns = literals.map(utf8Folded);
  if (patterns.length === 0) {
    return { literals, scan: (_buf, _start, _end, hits) => void (hits.count = 0) };
  }
  // The shortest literal bounds every shift: the pack keeps its hints at 15 bytes or more.
  const m = Math.min(...patterns.map((p) => p.length));
  if (m < 3) throw new Error("prefilter literals need at least 3 bytes");
  const shift = new Uint8Array(1 << tableBits).fill(Math.min(m - 2, 255));
  const buckets = new Map<number, number[]>();
  patterns.forEach((p, id) => {
    for (let j = 2; j < m; j++) {
      const distance = m - 1 - j;
      for (const a of cases(p[j - 2] as number))
        for (const b of cases(p[j - 1] as number))
          for (const c of cases(p[j] as number)) {
            const h = ((a << 8) ^ (b << 4) ^ c) & hashMask;
            if (distance < (shift[h] as number)) shift[h] = distance;
            if (distance === 0) {
              const bucket = buckets.get(h) ?? [];
              if (!bucket.includes(id)) bucket.push(id);
              buckets.set(h, bucket);
            }
          }
    }
  });
  const bucketOf: (Int32Array | undefined)[] = new Array(1 << tableBits);
  for (const [h, ids] of buckets) bucketOf[h] = Int32Array.from(ids);

  function scan(buf: Buffer, start: number, end: number, hits: Hits): void {
    hits.count = 0;
    let pos = start + m - 1;
    while (pos < end) {
      const h = (((buf[pos - 2] as number) << 8) ^ ((buf[pos - 1] as number) << 4) ^ (buf[pos] as number)) & hashMask;
      const sh = shift[h] as number;
      if (sh !== 0) {
        pos += sh;
        continue;
      }
      const bucket = bucketOf[h];
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
