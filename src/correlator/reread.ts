// The resolve pass: reads again only the files and lines the index points at, and decodes those records.
import type { LogRecord } from "../model.js";
import { RecordAssembler, type PendingRecord } from "../parser/assemble.js";
import { findDomainNames } from "../parser/fields.js";
import { buildRecord, type SourceContext } from "../parser/record.js";
import { LineSplitter } from "../reader/lines.js";
import { InputError, readFileChunks } from "../reader/open.js";
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
const noHits = new Int32Array(0);

export async function readRecordsAt(sources: SourceInfo[], positions: Map<number, Set<number>>, domains: Map<string, string> = new Map()): Promise<RelatedRecord[]> {
  const out: RelatedRecord[] = [];
  const archives = new Map<string, Map<string, number>>();
  for (const [sourceIndex] of [...positions.entries()].sort((a, b) => a[0] - b[0])) {
    const info = sources[sourceIndex];
    if (!info || out.length >= maxRecords) continue;
    if (info.archive) {
      const members = archives.get(info.archive.path) ?? new Map<string, number>();
      members.set(info.archive.member, sourceIndex);
      archives.set(info.archive.path, members);
      continue;
    }
    await readSourceRecords(info, sourceIndex, positions.get(sourceIndex) as Set<number>, domains, out, readFileChunks(info.absPath));
  }
  // One more streaming pass per tarball, decoding only the members that hold related lines.
  for (const [archive, members] of archives) {
    try {
      for await (const member of tarMembers(archive)) {
        const sourceIndex = members.get(member.name);
        if (sourceIndex === undefined || member.type !== "file") continue;
        await readSourceRecords(sources[sourceIndex] as SourceInfo, sourceIndex, positions.get(sourceIndex) as Set<number>, domains, out, member.chunks());
      }
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
    }
  }
  return out;
}

async function readSourceRecords(info: SourceInfo, sourceIndex: number, lines: Set<number>, domains: Map<string, string>, out: RelatedRecord[], chunks: AsyncIterable<Buffer>): Promise<void> {
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
    out.push({ record, sourceIndex, extraIds });
  };
  const assembler: RecordAssembler = new RecordAssembler(info.displayPath, onPending, () => false);
  assembler.format = info.format;
  const splitter = new LineSplitter({
    lines(buf, starts, ends, count, firstLine) {
      assembler.lines(buf, starts, ends, count, firstLine, noHits, noHits, 0);
    },
  });
  try {
    for await (const chunk of chunks) splitter.push(chunk);
  } catch (error) {
    // The first pass already reported this file; keep whatever was read.
    if (!(error instanceof InputError)) throw error;
  }
  splitter.end();
  assembler.end();
}
