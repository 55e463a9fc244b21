// `cloudtriage trace ID`: every line about one request or instance, from every file and host, in one timeline.
import { Chalk } from "chalk";
import type { Readable } from "node:stream";
import type { LogRecord } from "./model.js";
import { RecordAssembler, type PendingRecord } from "./parser/assemble.js";
import { componentFromPath, findDomainNames, journalRangeEnd } from "./parser/fields.js";
import { buildRecord, type SourceContext } from "./parser/record.js";
import { collectInputs, isLogPath, type Source } from "./reader/inputs.js";
import { stripArchiveRoot, tarMembers } from "./reader/tar.js";
import { LineSplitter } from "./reader/lines.js";
import { InputError, readFileChunks, readStreamChunks } from "./reader/open.js";
import { redactText } from "./redact/redact.js";

export interface TraceOptions {
  id: string;
  inputs: string[];
  cwd: string;
  stdin?: Readable;
  format: "text" | "json";
  redact: boolean;
  colorLevel: 0 | 1 | 2 | 3;
}

interface TracedLine {
  record: LogRecord;
  /** Sort key: the record's time, or the last time seen before it in its file. */
  sortTime: number;
  order: number;
}

const maxPasses = 3;

async function readSource(source: Source, stdinBuffer: Buffer[] | null, stdin: Readable | undefined, onPending: (p: PendingRecord, a: RecordAssembler) => void, given?: AsyncIterable<Buffer>): Promise<string | null> {
  const assembler: RecordAssembler = new RecordAssembler(source.displayPath, (p) => onPending(p, assembler), () => false);
  const splitter = new LineSplitter({
    lines(buf, starts, ends, count, firstLine) {
      assembler.lines(buf, starts, ends, count, firstLine);
    },
  });
  try {
    if (given) {
      for await (const chunk of given) splitter.push(chunk);
    } else if (source.kind === "stdin") {
      if (stdinBuffer && stdinBuffer.length === 0 && stdin) for await (const chunk of readStreamChunks(stdin)) stdinBuffer.push(Buffer.from(chunk));
      for (const chunk of stdinBuffer ?? []) splitter.push(chunk);
    } else {
      for await (const chunk of readFileChunks(source.absPath)) splitter.push(chunk);
    }
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return error.reason;
  } finally {
    splitter.end();
    assembler.end();
  }
  return null;
}

function containsAny(lines: Buffer[], needles: Buffer[]): boolean {
  for (const line of lines) for (const needle of needles) if (line.indexOf(needle) >= 0) return true;
  return false;
}

export async function trace(options: TraceOptions): Promise<{ text: string; found: boolean }> {
  const collected = await collectInputs(options.inputs, options.cwd);
  const ids = new Set([options.id]);
  const stdinBuffer: Buffer[] = [];
  const notes: string[] = collected.skipped.map((s) => `${s.path}: ${s.reason}`);
  let traced: TracedLine[] = [];
  // Each pass may find ids chained to the ones known (the API logs the global and local request id,
  // QEMU names the domain of a UUID); another pass picks up lines that mention only those.
  for (let pass = 0; pass < maxPasses; pass++) {
    const needles = [...ids].map((id) => Buffer.from(id));
    const before = ids.size;
    traced = [];
    let order = 0;
    const traceSource = async (source: Source, given?: AsyncIterable<Buffer>) => {
      const ctx: SourceContext = { path: source.displayPath, host: source.host, component: source.kind === "stdin" ? null : componentFromPath(source.displayPath), instanceId: null, referenceMs: source.captureTime ?? source.mtimeMs ?? Date.now() };
      let lastTime = 0;
      let firstRecord = true;
      let domainMatched = false;
      const reason = await readSource(
        source,
        stdinBuffer,
        options.stdin,
        (pending, assembler) => {
        if (firstRecord) {
          firstRecord = false;
          const year = journalRangeEnd(pending.lines[0]?.toString("latin1") ?? "");
          if (year !== null) ctx.referenceMs = year;
        }
        // A per-domain QEMU log is about one instance from its startup line on: every later line belongs.
        if (!(assembler.format === "qemu" && domainMatched) && !containsAny(pending.lines, needles)) return;
        if (assembler.format === "qemu") domainMatched = true;
        const record = buildRecord(pending, assembler.format ?? "generic", ctx);
        if (record.time !== null) lastTime = record.time;
        traced.push({ record, sortTime: record.time ?? lastTime, order: order++ });
        // Ids are chained only from lines that name what was asked for, so one request does not pull in
        // every other request that touched the same host: its global/local twin and the instance it built.
        if (pass === 0) {
          for (const id of record.requestIds) ids.add(id);
          if (record.globalRequestId) ids.add(record.globalRequestId);
          // The instance a request built or acted on: its QEMU and libvirt lines carry no request id.
          for (const id of record.instanceIds) ids.add(id);
        }
        const uuid = /(?:^|\s)-uuid ([0-9a-f-]{36})\b/.exec(record.message)?.[1];
        if (uuid && ids.has(uuid)) for (const name of findDomainNames(record.message)) ids.add(name);
        const guest = /-name guest=(instance-[0-9a-f]{8})/.exec(record.message)?.[1];
        if (guest && uuid && ids.has(uuid)) ids.add(guest);
        },
        given,
      );
      if (reason && pass === 0) notes.push(`${source.displayPath}: ${reason}`);
    };
    for (const source of collected.sources) {
      if (source.kind !== "archive") {
        await traceSource(source);
        continue;
      }
      // A sosreport tarball: its log members, streamed, under the names they have in the archive.
      try {
        for await (const member of tarMembers(source.absPath)) {
          if (member.type !== "file" || !isLogPath(stripArchiveRoot(member.name))) continue;
          await traceSource({ ...source, kind: "file", displayPath: member.name, host: null }, member.chunks());
        }
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        if (pass === 0) notes.push(`${source.absPath}: ${error.reason}`);
      }
    }
    if (ids.size === before) break;
  }
  traced.sort((a, b) => a.sortTime - b.sortTime || a.order - b.order);
  const clean = (s: string) => (options.redact ? redactText(s) : s);
  if (options.format === "json") {
    const lines = traced.map(({ record: r }) => ({ timestamp: r.timestamp, host: r.host, component: r.component, level: r.level, path: r.path, line: r.line, requestIds: r.requestIds, instanceIds: r.instanceIds, message: clean(r.message) }));
    return { text: `${JSON.stringify({ id: options.id, ids: [...ids], lines, skipped: notes }, null, 2)}\n`, found: traced.length > 0 };
  }
  const c = new Chalk({ level: options.colorLevel });
  const out = [c.bold(`cloudtriage trace ${options.id}: ${traced.length} records in ${new Set(traced.map((t) => t.record.path)).size} files`) + (ids.size > 1 ? c.dim(`  (also: ${[...ids].filter((i) => i !== options.id).join(", ")})`) : "")];
  for (const { record: r } of traced) {
    const level = (r.level ?? "").padEnd(8);
    const levelText = /ERROR|CRITICAL/.test(level) ? c.red(level) : /WARN/.test(level) ? c.yellow(level) : c.dim(level);
    const first = clean(r.message).split("\n", 1)[0] ?? "";
    out.push(`${c.dim((r.timestamp ?? "").padEnd(26))} ${(r.host ?? "-").padEnd(14)} ${(r.component ?? "-").padEnd(16)} ${levelText} ${first.length > 160 ? `${first.slice(0, 159)}…` : first}`);
    out.push(c.dim(`${"".padEnd(26)} ${r.path}:${r.line}${r.endLine > r.line ? `-${r.endLine}` : ""}`));
  }
  if (traced.length === 0) out.push(`no line mentions ${options.id}`);
  for (const note of notes) out.push(c.yellow(`skipped ${note}`));
  return { text: `${out.join("\n")}\n`, found: traced.length > 0 };
}
