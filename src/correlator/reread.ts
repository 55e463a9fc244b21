// The resolve pass: reads again only the files and lines the index points at, and decodes those records.
import { detach, type LogRecord } from "../model.js";
import { PendingRecord, RecordAssembler } from "../parser/assemble.js";
import { findDomainNames } from "../parser/fields.js";
import { buildRecord, type SourceContext } from "../parser/record.js";
import { LineSplitter } from "../reader/lines.js";
import { FileRanges, InputError, readFileChunks } from "../reader/open.js";
import { tarMembers } from "../reader/tar.js";
import type { SourceInfo } from "./correlate.js";

export interface RelatedRecord {
  record: LogRecord;
  sourceIndex: number;
  /** Instance UUIDs a libvirt line names only through its domain name. */
  extraIds: string[];
}

/** Beyond this many related records in all, the rest are not decoded (a busy instance has thousands). */
const maxRecords = 50_000;

/** Compressed files re-inflated at once: each inflates on its own thread-pool thread. */
const parallelInflates = 2;

export async function readRecordsAt(sources: SourceInfo[], positions: Map<number, Set<number>>, domains: Map<string, string> = new Map()): Promise<RelatedRecord[]> {
  // One list per source, joined in source order, so the result does not depend on which read ends first.
  const perSource: RelatedRecord[][] = [];
  const archives = new Map<string, Map<string, number>>();
  // Files read again from their start: compressed ones, and QEMU logs.
  const streamed: { info: SourceInfo; sourceIndex: number; lines: Set<number>; out: RelatedRecord[] }[] = [];
  for (const [sourceIndex] of [...positions.entries()].sort((a, b) => a[0] - b[0])) {
    const info = sources[sourceIndex];
    if (!info) continue;
    if (info.archive) {
      const members = archives.get(info.archive.path) ?? new Map<string, number>();
      members.set(info.archive.member, sourceIndex);
      archives.set(info.archive.path, members);
      continue;
    }
    const lines = positions.get(sourceIndex) as Set<number>;
    const out: RelatedRecord[] = [];
    perSource.push(out);
    if (info.plain && framedAtCheckpoints(info)) await readPlainAroundCheckpoints(info, sourceIndex, lines, domains, out);
    else streamed.push({ info, sourceIndex, lines, out });
  }
  // The largest text first (its last checkpoint says about how much): the longest inflate bounds the wait.
  const textLength = (info: SourceInfo) => info.checkpoints[info.checkpoints.length - 1] ?? 0;
  streamed.sort((a, b) => textLength(b.info) - textLength(a.info) || a.sourceIndex - b.sourceIndex);
  let next = 0;
  const inflateNext = async (): Promise<void> => {
    for (let job = streamed[next++]; job; job = streamed[next++]) {
      const { info, sourceIndex, lines, out } = job;
      // The first pass checked the checksum; this read only needs the lines.
      const chunks = readFileChunks(info.absPath, {}, false);
      if (framedAtCheckpoints(info)) await readAroundCheckpoints(info, sourceIndex, lines, domains, out, new StreamRanges(chunks));
      else await readSourceRecords(info, sourceIndex, lines, domains, out, chunks);
    }
  };
  await Promise.all(Array.from({ length: parallelInflates }, inflateNext));
  // One more streaming pass per tarball, decoding only the members that hold related lines.
  for (const [archive, members] of archives) {
    try {
      for await (const member of tarMembers(archive)) {
        const sourceIndex = members.get(member.name);
        if (sourceIndex === undefined || member.type !== "file") continue;
        const out: RelatedRecord[] = [];
        perSource.push(out);
        await readSourceRecords(sources[sourceIndex] as SourceInfo, sourceIndex, positions.get(sourceIndex) as Set<number>, domains, out, member.chunks());
      }
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
    }
  }
  return perSource.flat().slice(0, maxRecords);
}

/** Whether only the text around the wanted lines' checkpoints needs framing: a QEMU log is read from its start, where its -uuid line names the instance. */
function framedAtCheckpoints(info: SourceInfo): boolean {
  return info.format !== "qemu" && info.checkpoints.length >= 2;
}

/** Past the next checkpoint, this much more is read: a related line needs only its first line, not its traceback. */
const recordTailBytes = 2 << 10;

/** Bytes [from, to) of a file, in chunks to use before taking the next; ranges come in ascending order. */
interface Ranges {
  read(from: number, to: number): Iterable<Buffer> | AsyncIterable<Buffer>;
  close(): void | Promise<void>;
}

/**
 * A compressed file's text by offset, inflated once from its start: what lies between the wanted
 * ranges is inflated but never framed into lines, and inflating stops after the last range.
 */
class StreamRanges implements Ranges {
  /** Text offset of `held`, the chunk the last range ended inside. */
  private position = 0;
  private held: Buffer | null = null;
  private readonly chunks: AsyncIterator<Buffer>;

  constructor(chunks: AsyncIterable<Buffer>) {
    this.chunks = chunks[Symbol.asyncIterator]();
  }

  async *read(from: number, to: number): AsyncGenerator<Buffer> {
    for (;;) {
      if (!this.held) {
        const next = await this.chunks.next();
        if (next.done) return;
        this.held = next.value;
      }
      const start = this.position;
      const end = start + this.held.length;
      if (end > from) {
        if (start >= to) return;
        yield this.held.subarray(Math.max(from, start) - start, Math.min(to, end) - start);
        // The next range may begin in the rest of this chunk.
        if (end > to) return;
      }
      this.position = end;
      this.held = null;
    }
  }

  async close(): Promise<void> {
    // Ends the inflater early: nothing after the last range is needed. Its file closes before this returns.
    try {
      await this.chunks.return?.();
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
    }
  }
}

/**
 * A plain file is read only between the checkpoints around the wanted lines (ranges next to each other
 * merged), so a finding's related lines cost a few hundred KiB of reading, not the whole file again.
 */
async function readPlainAroundCheckpoints(info: SourceInfo, sourceIndex: number, lines: Set<number>, domains: Map<string, string>, out: RelatedRecord[]): Promise<void> {
  let file: FileRanges;
  try {
    file = new FileRanges(info.absPath);
  } catch (error) {
    // The first pass already reported this file.
    if (error instanceof InputError) return;
    throw error;
  }
  await readAroundCheckpoints(info, sourceIndex, lines, domains, out, file);
}

/** Frames only the text between the checkpoints around the wanted lines, ranges next to each other merged. */
async function readAroundCheckpoints(info: SourceInfo, sourceIndex: number, lines: Set<number>, domains: Map<string, string>, out: RelatedRecord[], file: Ranges): Promise<void> {
  const cps = info.checkpoints;
  const count = cps.length / 2;
  const checkpointOf = (line: number) => {
    let lo = 0;
    let hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((cps[mid * 2] as number) <= line) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const ranges: { first: number; last: number }[] = [];
  for (const k of [...new Set([...lines].map(checkpointOf))].sort((a, b) => a - b)) {
    const previous = ranges[ranges.length - 1];
    if (previous && k <= previous.last + 1) previous.last = k;
    else ranges.push({ first: k, last: k });
  }
  // One reader for all the ranges of the file: a splitter per range cost more than its reading.
  const reader = recordReader(info, sourceIndex, lines, domains, out);
  try {
    for (const range of ranges) {
      if (out.length >= maxRecords) return;
      const startLine = cps[range.first * 2] as number;
      const startOffset = cps[range.first * 2 + 1] as number;
      // Checkpoints are 8 KiB apart or more, so a range's tail never reaches the next range.
      const endOffset = range.last + 1 < count ? (cps[(range.last + 1) * 2 + 1] as number) + recordTailBytes : Number.MAX_SAFE_INTEGER;
      reader.restart(startLine - 1, startOffset);
      try {
        for await (const chunk of file.read(startOffset, endOffset)) reader.push(chunk);
      } catch (error) {
        // The first pass already reported this file; keep whatever was read.
        if (!(error instanceof InputError)) throw error;
      }
      reader.end();
    }
  } finally {
    await file.close();
  }
}

async function readSourceRecords(info: SourceInfo, sourceIndex: number, lines: Set<number>, domains: Map<string, string>, out: RelatedRecord[], chunks: AsyncIterable<Buffer>): Promise<void> {
  const reader = recordReader(info, sourceIndex, lines, domains, out);
  try {
    for await (const chunk of chunks) reader.push(chunk);
  } catch (error) {
    // The first pass already reported this file; keep whatever was read.
    if (!(error instanceof InputError)) throw error;
  }
  reader.end();
}

/** Frames pushed chunks and decodes the wanted lines' records into `out`. */
function recordReader(info: SourceInfo, sourceIndex: number, lines: Set<number>, domains: Map<string, string>, out: RelatedRecord[]): { push(chunk: Buffer): void; end(): void; restart(startLine: number, startOffset: number): void } {
  const ctx: SourceContext = { path: info.displayPath, host: info.host, component: info.component, instanceId: null, referenceMs: info.captureTime ?? info.lastTime ?? Date.now() };
  const onPending = (pending: PendingRecord) => {
    const wanted = lines.has(pending.firstLine);
    if (!wanted && info.format !== "qemu") return;
    const record = buildRecord(pending, assembler.format ?? info.format, ctx);
    if (info.format === "qemu" && ctx.instanceId === null) {
      const uuid = /(?:^|\s)-uuid ([0-9a-f-]{36})\b/.exec(record.message)?.[1];
      if (uuid) ctx.instanceId = uuid;
    }
    if (!wanted || out.length >= maxRecords) return;
    const extraIds = findDomainNames(record.message).flatMap((name) => {
      const uuid = domains.get(name);
      return uuid ? [uuid] : [];
    });
    // Keep only what a related line shows: the record's full text would pin megabytes per busy instance.
    const first = record.message.length > 600 ? record.message.slice(0, 600) : record.message;
    // Copies, so the thousands of related records held until the report do not pin their decoded lines.
    const message = detach(first.split("\n", 1)[0] ?? "");
    out.push({ record: { ...record, message, raw: "", requestIds: record.requestIds.map(detach), instanceIds: record.instanceIds.map(detach), logger: record.logger && detach(record.logger), component: record.component && detach(record.component) }, sourceIndex, extraIds });
  };
  const assembler: RecordAssembler = new RecordAssembler(info.displayPath, onPending, () => false);
  assembler.format = info.format;
  // A related line shows only a record's first line, so outside QEMU logs (whose -uuid line names the
  // instance for the rest of the file) the wanted lines are decoded alone, with no record assembly.
  const firstLineOnly = info.format !== "qemu";
  const single = new PendingRecord();
  const splitter = new LineSplitter(
    {
      lines(buf, starts, ends, count, firstLine) {
        if (!firstLineOnly) {
          assembler.lines(buf, starts, ends, count, firstLine);
          return;
        }
        for (let i = 0; i < count; i++) {
          if (!lines.has(firstLine + i)) continue;
          single.reset(firstLine + i, false);
          single.add(buf, starts, ends, i, firstLine + i);
          onPending(single);
        }
      },
    },
    undefined,
    0,
    0,
    // The format is known; only QEMU logs are assembled, and they are read from their start.
    !firstLineOnly,
  );
  return {
    push: (chunk) => splitter.push(chunk),
    restart: (line, offset) => splitter.restart(line, offset),
    end() {
      splitter.end();
      assembler.end();
    },
  };
}
