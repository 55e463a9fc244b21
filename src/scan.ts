// Composes the stages: reader → parser → engine → correlator → redaction. Returns a ScanResult; never prints.
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { stat } from "node:fs/promises";
import type { Worker } from "node:worker_threads";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { checkConfigFiles, type ConfigFile } from "./engine/config-check.js";
import { resolveMemberLink, stripArchiveRoot, tarMembers } from "./reader/tar.js";
import { FindingCollector, type CollectedFinding } from "./engine/findings.js";
import { Engine } from "./engine/match.js";
import { UnmatchedErrors, type UnmatchedTemplate } from "./engine/unmatched.js";
import { correlate, type SourceInfo } from "./correlator/correlate.js";
import { IdIndex, SecondPassIndex, type IndexBlock } from "./correlator/index.js";
import { ApiRequests, DomainMentions, Observations, observationRules, readAcceptedCreation, shiftRequestLines, type ApiRequestColumns, type MentionRun } from "./correlator/observations.js";
import type { Finding, Language, LogRecord, ScanResult, Severity, SkippedInput } from "./model.js";
import { SEVERITIES } from "./model.js";
import { RecordAssembler, detectFormatOf, hashOfId, opensRecordAnyway, type PendingRecord } from "./parser/assemble.js";
import { componentFromPath, findDomainNames, journalRangeEnd } from "./parser/fields.js";
import { parseHead, type FormatName } from "./parser/formats.js";
import { buildRecord, type SourceContext } from "./parser/record.js";
import { collectInputs, isConfigPath, isLogPath, rotationKey, zstackBundleHost, type Source } from "./reader/inputs.js";
import { LineSplitter, type ChunkSink } from "./reader/lines.js";
import { binaryReason, compressionOf, InputError, readBytesAt, readConfigText, readFileChunks, readFileRange, readStreamChunks, textSize, type Compression } from "./reader/open.js";
import { redactResult } from "./redact/redact.js";
import type { LogRule, Rule } from "./ruleset/rule.js";

export interface RuleSource {
  dirs: string[];
  cwd: string;
  only?: string[];
  exclude?: string[];
}

export interface ScanOptions {
  inputs: string[];
  cwd: string;
  rules: Rule[];
  language: Language;
  stdin?: Readable;
  /** Time window; records without a time are kept. */
  sinceMs?: number | null;
  untilMs?: number | null;
  /** A duration counted back from each sosreport's capture time (`--since 24h` on a sosreport). */
  sinceDurationMs?: number | null;
  maxRelated?: number;
  correlate?: boolean;
  redact?: boolean;
  maxLineBytes?: number;
  maxUnmatched?: number;
  /** Called with each new finding as soon as its record is read (NDJSON streams these). */
  onFinding?: (finding: Finding) => void;
  /** Called once per input that was skipped or read only in part. */
  onSkip?: (skipped: SkippedInput) => void;
  /** Called once per file for what was read but is odd (invalid UTF-8, NUL bytes, over-long lines, non-JSON journal lines). */
  onNotice?: (notice: { path: string; line: number; message: string }) => void;
  /** Threads, the main one included (1: no workers). They take whole files, and parts of a plain oslo.log bigger than a thread's share. */
  jobs?: number;
  /** How a worker loads the same rules: packs and selection as given on the command line. */
  ruleSource?: RuleSource;
  /** Called with bytes read so far and the total known size, for a progress bar; `pass` 2 is the second pass. */
  onProgress?: (progress: { files: number; totalFiles: number; bytes: number; totalBytes: number; pass: 1 | 2 }) => void;
  /**
   * Memory for the id index, 8 bytes an entry (default 64 MiB, about 3 GiB of nova logs). Past it the
   * index is dropped, and the correlator's questions are answered by reading the logs a second time.
   */
  indexBytes?: number;
  /** Called once when the index passed `indexBytes` and a second pass will read the logs again. */
  onSecondPass?: () => void;
  /** The least part a parallel scan cuts a big oslo.log into (default minPartBytes): tests make it small. */
  minPartBytes?: number;
  /** Less input than this is scanned on one thread (default minParallelBytes): tests make it small. */
  minParallelBytes?: number;
}

export const defaultIndexBytes = 64 << 20;

/**
 * Below this much input one thread is faster: a worker takes 0.1-0.2 s to load while the main thread
 * scans, and its results must be copied back. Measured on the 2-core bench machine: --jobs 2 lost
 * at 128 MiB (0.62 s against 0.59 s) and won at 256 MiB (0.82 s against 0.88 s).
 */
export const minParallelBytes = 192 << 20;
/** A live pipe quiet this long has its last line judged. */
const liveIdleMs = 250;

/**
 * Spool files of standard input, removed even when the process is ended early (Ctrl-C, kill, a closed
 * pipe). Only the main thread makes them. Their names carry the pid and a random tag, since
 * containers that share /tmp reuse pids.
 */
const spools = new Set<string>();
let spoolPrefix: string | undefined;
function spoolPath(): string {
  if (spoolPrefix === undefined) {
    // node:crypto is loaded here, not at startup, since most scans spool nothing.
    const { randomBytes } = createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto");
    spoolPrefix = `cloudtriage-${process.pid}-${randomBytes(4).toString("hex")}-`;
  }
  return path.join(tmpdir(), `${spoolPrefix}${Date.now()}-stdin.log`);
}
export function removeSpools(): void {
  for (const file of spools) rmSync(file, { force: true });
  spools.clear();
}
/** One re-read checkpoint per this many bytes: 16 bytes of memory per 8 KiB of log (2 MB per GiB). */
const checkpointBytes = 8 << 10;

/**
 * Checkpoints (line, offset) let the resolve pass re-read a plain file around a line, not all of it.
 * They are taken inside the chunk: one per chunk would make every related line cost a MiB. The pairs
 * sit in a typed array off V8's heap: as a JS array they were 10 MiB of live doubles on a 5 GiB scan,
 * and V8 keeps headroom over all that is live.
 */
class CheckpointList {
  private data = new Float64Array(1024);
  private length = 0;
  private lastOffset: number;

  /** From the source's first line, or a part's (`offset` into the file). */
  constructor(line = 1, offset = 0) {
    this.lastOffset = offset;
    this.push(line, offset);
  }

  /**
   * Takes the checkpoints among a chunk's lines (as a ChunkSink is given them): each is the first line
   * that starts `checkpointBytes` or more after the one before, found by bisection, not by visiting every line.
   */
  take(starts: Uint32Array, count: number, firstLine: number, firstOffset: number): void {
    const base = firstOffset - (starts[0] as number);
    for (let from = 0; ; ) {
      const target = this.lastOffset + checkpointBytes - base;
      let lo = from;
      let hi = count;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((starts[mid] as number) < target) lo = mid + 1;
        else hi = mid;
      }
      if (lo === count) return;
      this.lastOffset = base + (starts[lo] as number);
      this.push(firstLine + lo, this.lastOffset);
      from = lo + 1;
    }
  }

  push(line: number, offset: number): void {
    if (this.length + 2 > this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = line;
    this.data[this.length++] = offset;
  }

  /** The pairs, trimmed. */
  done(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

/**
 * A source's lines go to its checkpoints and its record assembler. A class, not a closure per source:
 * the framing loop inlines this call, and a fresh closure's empty feedback made that code bail out at
 * a third of the chunks.
 */
class CheckpointedSink implements ChunkSink {
  constructor(
    private readonly checkpoints: CheckpointList,
    private readonly assembler: RecordAssembler,
  ) {}

  lines(buf: Buffer, starts: Uint32Array, ends: Uint32Array, count: number, firstLine: number, firstOffset: number): void {
    this.checkpoints.take(starts, count, firstLine, firstOffset);
    this.assembler.lines(buf, starts, ends, count, firstLine);
  }
}

/** Raised when there is nothing to scan at all: every input was missing or unreadable. */
export class NoInputError extends Error {}

function isSevereText(format: FormatName, line: string): boolean {
  switch (format) {
    case "libvirt":
      return line.includes(": error : ") || line.includes(": warning : ");
    case "journal-json":
      // A line that is not a JSON object is decoded too, so it can be reported and read as text.
      return !line.startsWith("{") || /"PRIORITY"\s*:\s*"[0-4]"/.test(line) || /"MESSAGE"\s*:\s*\[/.test(line);
    case "zstack":
      return / (?:ERROR|WARN|FATAL) /.test(line.slice(23, 31));
    case "syslog":
      // The same rule, cheaper: a journal or syslog line's level comes from the oslo, libvirt or levelled
      // line inside it or the generic fallback, whose patterns spell the severe words only these ways.
      return syslogSevere.test(line) && isSevereHead(format, line);
    case "kvmagent":
    case "httpd":
    case "rabbitmq":
    case "mysql":
    case "generic":
      return mayBeSevere.test(line) && isSevereHead(format, line);
    default:
      return false;
  }
}

/**
 * Every severe level a parser gives comes from one of these words in the line, in any case (WARN,
 * ERR, CRIT and the rest, through normaliseLevel): most lines have none and skip the parse.
 */
const mayBeSevere = /warn|err|severe|crit|fatal|alert|emerg/i;
const syslogSevere = /WARN|ERROR|CRITICAL|FATAL|warning|error/;

function isSevereHead(format: FormatName, line: string): boolean {
  const head = parseHead(format, line, { referenceMs: Date.now() });
  return head.level === "WARNING" || head.level === "ERROR" || head.level === "CRITICAL";
}

interface ScanState {
  engine: Engine;
  internal: Set<string>;
  /** The literal ids only the accepted-creation rule hints: a record holding only those may take the short way (countCreation). */
  creationHints: Set<number>;
  collector: FindingCollector;
  unmatched: UnmatchedErrors;
  observations: Observations;
  index: IdIndex;
  sources: SourceInfo[];
  options: ScanOptions;
  lines: number;
  bytes: number;
  truncatedLines: number;
  skipped: SkippedInput[];
  /** Text size of all inputs (a gzip file by its trailer, other compressed files as on disk): for the progress bar only. */
  totalBytes: number;
  /** The second pass: records only feed the index (which keeps just the wanted ids), no rule runs. */
  secondPass: boolean;
  /** Set when the first pass ran over threads. */
  threads: Threads | null;
}

function skip(state: ScanState, entry: SkippedInput): void {
  state.skipped.push(entry);
  state.options.onSkip?.(entry);
}

function inWindow(state: ScanState, source: Source, time: number | null): boolean {
  if (time === null) return true;
  const { sinceMs, untilMs, sinceDurationMs } = state.options;
  if (sinceMs != null && time < sinceMs) return false;
  if (untilMs != null && time > untilMs) return false;
  // A duration counts back from the sosreport's capture time, which a tarball may give only after its
  // logs: such findings are dropped once the scan is over (dropOlderThanCapture).
  if (sinceDurationMs != null && source.captureTime !== null && time < source.captureTime - sinceDurationMs) return false;
  if (sinceDurationMs != null && source.captureTime === null && source.kind !== "file" && time < Date.now() - sinceDurationMs) return false;
  return true;
}

function notice(state: ScanState, info: SourceInfo, kind: string, line: number, message: string): void {
  if (info.notices.includes(kind)) return;
  info.notices.push(kind);
  state.options.onNotice?.({ path: info.displayPath, line, message });
}

function handleRecord(state: ScanState, source: Source, sourceIndex: number, ctx: SourceContext, pending: PendingRecord, format: FormatName): void {
  const record = buildRecord(pending, format, ctx);
  const info = state.sources[sourceIndex] as SourceInfo;
  if (record.raw.includes("\uFFFD")) notice(state, info, "utf8", record.line, "invalid UTF-8 (shown as U+FFFD; line numbers are unaffected)");
  if (record.raw.includes("\u0000")) notice(state, info, "nul", record.line, "NUL bytes inside the text (kept; line numbers are unaffected)");
  if (format === "journal-json" && !record.raw.startsWith("{")) notice(state, info, "json", record.line, "not a journal JSON object; read as plain text");
  if (record.host && !ctx.host && format !== "syslog" && format !== "journal-json") {
    // libvirt's "hostname:" preamble and QEMU's startup line name the host for the rest of the file.
    ctx.host = record.host;
    info.host = record.host;
  }
  if (format === "qemu") learnQemuDomain(state, ctx, record, info);
  indexIds(state, [...record.requestIds, ...record.instanceIds], sourceIndex, record.line);
  noteTime(info, record.time);
  if (!inWindow(state, source, record.time)) return;
  if (format === "libvirt" || format === "syslog" || format === "journal-json") {
    for (const name of findDomainNames(record.message)) state.observations.domainMentions.note(name, sourceIndex, record.line);
  }
  if (state.secondPass) return;
  const candidates = pending.hits.length ? state.engine.candidates(pending.hits) : [];
  const matches = candidates.length ? state.engine.matchRecord(record, candidates) : [];
  let matchedRule = false;
  for (const match of matches) {
    if (state.internal.has(match.rule.id)) {
      state.observations.add(match.rule.id, record, sourceIndex);
      continue;
    }
    matchedRule = true;
    const collected = state.collector.addRecord(record, match.rule, match.fields, sourceIndex, zstackHostKeys(record.message));
    if (collected) state.options.onFinding?.(collected.finding);
  }
  // An instance set to ERROR is not its own cause: that record alone does not count as an error for it.
  const onlySetError = matches.length > 0 && matches.every((m) => m.rule.id === "nova-set-instance-error" || state.internal.has(m.rule.id));
  if ((record.level === "ERROR" || record.level === "CRITICAL") && !onlySetError) state.observations.noteError(record);
  if (!matchedRule && isUnmatchedError(record)) state.unmatched.add(record, sourceIndex);
}

/**
 * What handleRecord does with a one-line INFO record whose only hint is an accepted server creation's,
 * without decoding it: the same index entries, source times and API observation (readAcceptedCreation
 * gives up on any line where decoding might say otherwise). False when the record needs decoding.
 */
function countCreation(state: ScanState, source: Source, sourceIndex: number, pending: PendingRecord): boolean {
  const line = pending.oneLineLatin1();
  const creation = line === null ? null : readAcceptedCreation(line);
  if (!creation) return false;
  const { time, requestIds } = creation;
  indexIds(state, requestIds, sourceIndex, pending.firstLine);
  noteTime(state.sources[sourceIndex] as SourceInfo, time);
  if (inWindow(state, source, time) && !state.secondPass) state.observations.addAcceptedRequest(requestIds, time, sourceIndex, pending.firstLine);
  return true;
}

/** A decoded record's ids go into the index under its line (unless the scan is rules only). */
function indexIds(state: ScanState, ids: string[], sourceIndex: number, line: number): void {
  if (state.options.correlate === false) return;
  for (const id of ids) {
    const h = hashOfId(id);
    if (h >= 0) state.index.add(h, sourceIndex, line);
  }
}

/** A source's first and last record times: its time span. */
function noteTime(info: SourceInfo, time: number | null): void {
  if (time === null) return;
  info.firstTime ??= time;
  info.lastTime = Math.max(info.lastTime ?? time, time);
}

/** ZStack names the host a failure happened on as host[uuid:…]: a key that links the agent's and the node's view. */
function zstackHostKeys(message: string): string[] {
  if (!message.includes("host[uuid:")) return [];
  return [...new Set([...message.matchAll(/\bhost\[uuid:([0-9a-f]{32})\b/g)].map((m) => `zstack-host:${m[1]}`))];
}

function isUnmatchedError(record: LogRecord): boolean {
  if (record.level === "ERROR" || record.level === "CRITICAL") return true;
  return record.message.includes("Traceback (most recent call last)") && record.level !== "DEBUG" && record.level !== "INFO";
}

/** A QEMU domain log names its domain (`-name guest=instance-0000000a`) and nova's UUID (`-uuid`). */
function learnQemuDomain(state: ScanState, ctx: SourceContext, record: LogRecord, info: SourceInfo): void {
  const uuid = /(?:^|\s)-uuid ([0-9a-f-]{36})\b/.exec(record.message)?.[1];
  if (!uuid) return;
  const name = /-name (?:guest=)?([^,\s\\]+)/.exec(record.message)?.[1] ?? path.basename(info.displayPath).replace(/\.log.*$/, "");
  ctx.instanceId = uuid;
  state.observations.noteDomain(name, uuid);
  if (!record.instanceIds.includes(uuid)) record.instanceIds.push(uuid);
}

/**
 * Scans one source into the state. A `part` of a plain oslo.log is scanned as if it were a file that
 * starts at `part.start`: its lines count from 1, and what only the whole file can say (its first and
 * last times, the long-line notice) is left to joinParts, through the facts returned.
 */
async function scanSource(state: ScanState, source: Source, sourceIndex: number, given?: AsyncIterable<Buffer>, part?: PartRange): Promise<PartFacts | null> {
  const info = state.sources[sourceIndex] as SourceInfo;
  const ctx: SourceContext = {
    path: source.displayPath,
    host: source.host,
    component: source.kind === "stdin" ? null : componentFromPath(source.displayPath),
    instanceId: null,
    referenceMs: source.captureTime ?? source.mtimeMs ?? Date.now(),
  };
  info.component = ctx.component;
  // Rules only (--no-correlate): nothing reads the index, so nothing goes into it.
  const indexing = state.options.correlate !== false;
  const { creationHints } = state;
  const onPending = (pending: PendingRecord) => {
    const format = assembler.format ?? "generic";
    // nova-api's accepted server creations are many (one per boot) and need a short way (see countCreation).
    if (format === "oslo" && !pending.severe && pending.hits.length > 0 && pending.hits.every((h) => creationHints.has(h)) && countCreation(state, source, sourceIndex, pending)) return;
    if (pending.hits.length > 0 || pending.severe || format === "qemu") {
      handleRecord(state, source, sourceIndex, ctx, pending, format);
    } else if (indexing) {
      for (let k = 0; k < pending.idCount; k++) state.index.add(pending.idHashes[k] as number, sourceIndex, pending.firstLine);
    }
  };
  const assembler: RecordAssembler = new RecordAssembler(source.displayPath, onPending, isSevereText, state.engine.prefilter);
  assembler.forCorrelation = indexing;
  // A later part starts at a record of an oslo.log (the planner made sure), so it needs no format detection.
  const later = part !== undefined && part.start > 0;
  if (later) assembler.format = "oslo";
  const checkpoints = later ? new CheckpointList(1, part.start) : new CheckpointList();
  const seen: { compression?: Compression } = part ? { compression: "none" } : {};
  const sink = new CheckpointedSink(checkpoints, assembler);
  const splitter = later ? new LineSplitter(sink, state.options.maxLineBytes, 0, part.start, false) : new LineSplitter(sink, state.options.maxLineBytes);
  let spoolFd: number | null = null;
  let idle: ReturnType<typeof setTimeout> | null = null;
  if (source.kind === "stdin" && !given) {
    // Standard input cannot be read twice; a spool lets the correlator re-read related lines.
    info.absPath = spoolPath();
    info.isSpool = true;
    // "wx": never write through a file or link someone else put there under that name.
    spoolFd = openSync(info.absPath, "wx", 0o600);
    spools.add(info.absPath);
  }
  try {
    const chunks = given ?? (part ? readFileRange(source.absPath, part.start, part.end) : source.kind === "stdin" ? readStreamChunks(state.options.stdin ?? (process.stdin as Readable)) : readFileChunks(source.absPath, seen));
    let first = !later;
    // journalctl -f: when the pipe goes quiet, what arrived is framed and judged now, not at the next line.
    const live = source.kind === "stdin" && !given;
    for await (const chunk of chunks) {
      if (idle) clearTimeout(idle);
      if (first) {
        first = false;
        // journalctl's header names the years its short timestamps leave out.
        const end = journalRangeEnd(chunk.subarray(0, 300).toString("latin1"));
        if (end !== null) {
          ctx.referenceMs = end;
          info.yearKnown = true;
        }
      }
      if (spoolFd !== null) writeSync(spoolFd, chunk);
      splitter.push(chunk);
      if (live) {
        idle = setTimeout(() => {
          splitter.releaseIdle();
          assembler.flushIdle();
        }, liveIdleMs);
      }
      state.options.onProgress?.({ files: sourceIndex, totalFiles: state.sources.length, bytes: state.bytes + splitter.bytes, totalBytes: state.totalBytes, pass: state.secondPass ? 2 : 1 });
    }
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    skip(state, { path: source.displayPath, reason: error.reason });
  } finally {
    if (spoolFd !== null) closeSync(spoolFd);
  }
  if (idle) clearTimeout(idle);
  splitter.end();
  assembler.end();
  info.checkpoints = checkpoints.done();
  info.format = assembler.format ?? "generic";
  // The stdin spool holds exactly the text read, so its checkpoints point into it as into a plain file.
  info.plain = info.isSpool || (!given && source.kind === "file" && seen.compression === "none");
  // Syslog-style times carry no year; unless a header or the capture gave it, they cannot date a tree.
  if (info.format !== "syslog") info.yearKnown = true;
  else if (source.captureTime !== null) info.yearKnown = true;
  info.lastLine = assembler.lastRecordLine;
  info.records = assembler.records;
  info.windows = assembler.windows;
  if (part) {
    state.lines += splitter.lines;
    state.bytes += splitter.bytes;
    state.truncatedLines += splitter.truncatedLines;
    const timeOf = (head: Buffer | null) => (head ? (parseHead(info.format, head.toString("utf8"), { referenceMs: ctx.referenceMs }).time?.time ?? null) : null);
    // A later part's first record is an oslo line with a header (the planner cut there): the first window counted.
    const firstWindow = later && info.windows > 0 ? (assembler.firstRecordHead?.toString("latin1", 0, 15) ?? null) : null;
    return { index: part.index, lines: splitter.lines, firstHeadTime: timeOf(assembler.firstRecordHead), lastHeadTime: timeOf(assembler.lastRecordHead), firstWindow, lastWindow: assembler.lastWindowKey, truncatedLines: splitter.truncatedLines, firstTruncatedLine: splitter.firstTruncatedLine };
  }
  const first = assembler.firstRecordHead;
  if (first) {
    const head = parseHead(info.format, first.toString("utf8"), { referenceMs: ctx.referenceMs });
    if (head.time) info.firstTime = Math.min(info.firstTime ?? head.time.time, head.time.time);
  }
  const last = assembler.lastRecordHead;
  if (last) {
    const head = parseHead(info.format, last.toString("utf8"), { referenceMs: ctx.referenceMs });
    if (head.time) info.lastTime = Math.max(info.lastTime ?? head.time.time, head.time.time);
  }
  if (splitter.truncatedLines > 0) noticeLongLines(state, info, splitter.truncatedLines, splitter.firstTruncatedLine);
  state.lines += splitter.lines;
  state.bytes += splitter.bytes;
  state.truncatedLines += splitter.truncatedLines;
  return null;
}

function noticeLongLines(state: ScanState, info: SourceInfo, count: number, firstLine: number): void {
  notice(state, info, "long", firstLine, longLinesMessage(count, state.options.maxLineBytes ?? 1 << 20));
}

function longLinesMessage(count: number, maxLineBytes: number): string {
  return `${count} line(s) longer than ${(maxLineBytes / 1048576).toFixed(0)} MiB; matched on their first bytes only`;
}

function sourceInfo(s: Source): SourceInfo {
  const dir = path.posix.dirname(s.displayPath);
  const varLog = s.displayPath.indexOf("var/log/");
  const treeKey = s.host ? `host:${s.host}` : varLog >= 0 ? `dir:${s.displayPath.slice(0, varLog)}` : `dir:${dir}`;
  return {
    displayPath: s.displayPath,
    absPath: s.absPath,
    host: s.host,
    component: null,
    format: "generic",
    firstTime: null,
    lastTime: null,
    lastLine: null,
    records: 0,
    windows: 0,
    isLive: rotationKey(path.posix.basename(s.displayPath)).age === 0,
    notices: [],
    yearKnown: false,
    checkpoints: new Float64Array(0),
    plain: false,
    treeKey,
    captureTime: s.captureTime,
    isSpool: false,
  };
}

/** `indexCount`: where the threads of a parallel scan count their index entries together. */
function newState(options: ScanOptions, rules: Rule[], sources: SourceInfo[], indexCount: { counts: Int32Array; slot: number } | null = null, shared?: { engine: Engine; firstBlockEntries: number }): ScanState {
  const logRules = rules.filter((r): r is LogRule => r.kind === "log");
  // They only feed the correlator: a rules-only scan decodes none of the records they are there for.
  const internalRules = options.correlate === false ? [] : observationRules();
  const engine = shared?.engine ?? new Engine([...logRules, ...internalRules]);
  return {
    engine,
    internal: new Set(internalRules.map((r) => r.id)),
    creationHints: engine.hintsOnlyOf("_api-request"),
    collector: new FindingCollector(options.language),
    unmatched: new UnmatchedErrors(),
    observations: new Observations(),
    index: new IdIndex(Math.floor((options.indexBytes ?? defaultIndexBytes) / 8), null, indexCount, shared?.firstBlockEntries),
    sources,
    options,
    lines: 0,
    bytes: 0,
    truncatedLines: 0,
    skipped: [],
    totalBytes: 0,
    secondPass: false,
    threads: null,
  };
}

/**
 * Runs the real reader framing, parser and engine over text held in memory, as if it were the file
 * `sourcePath` (which gives the component and format). Rule examples are tested this way.
 */
export async function scanText(text: string, sourcePath: string, rules: Rule[], language: Language = "en"): Promise<Finding[]> {
  const options: ScanOptions = { inputs: [], cwd: ".", rules, language, correlate: false, redact: false };
  const source: Source = { kind: "file", absPath: sourcePath, displayPath: sourcePath, host: null, captureTime: null, mtimeMs: Date.now() };
  const state = newState(options, rules, [sourceInfo(source)]);
  await scanSource(state, source, 0, (async function* () {
    yield Buffer.from(text, "utf8");
  })());
  return state.collector.findings.map((c) => c.finding);
}

async function memberText(chunks: AsyncIterable<Buffer>, limit = 4 << 20): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    if (size < limit) parts.push(Buffer.from(chunk));
    size += chunk.length;
  }
  return Buffer.concat(parts).toString("utf8");
}

/**
 * A tarball (sosreport .tar.xz, .tar.gz, …) is read in one streaming pass: each log member is scanned
 * as it goes by, config members are kept as text, and the host name and capture time, which sos may
 * store after the logs, are given to the archive's findings once the pass is over.
 */
async function scanArchive(state: ScanState, archive: Source, archiveIndex: number, configs: ConfigFile[]): Promise<void> {
  const prefix = archive.displayPath ? path.posix.dirname(archive.displayPath).replace(/^\.$/, "") : "";
  const display = (member: string) => (prefix ? `${prefix}/${member}` : member);
  const roots = new Map<string, { host: string | null; captureTime: number | null }>();
  const rootOf = (name: string) => name.slice(0, name.length - stripArchiveRoot(name).length);
  const aliases = new Map<string, string>();
  const scanned = new Map<string, number>();
  const first = state.sources.length;
  const archiveInfo = state.sources[archiveIndex] as SourceInfo;
  archiveInfo.format = "generic";
  try {
    for await (const member of tarMembers(archive.absPath)) {
      const rel = stripArchiveRoot(member.name);
      const root = rootOf(member.name);
      if (!roots.has(root)) roots.set(root, { host: null, captureTime: null });
      const meta = roots.get(root) as { host: string | null; captureTime: number | null };
      if (member.type === "symlink" && member.linkName) {
        if (isLogPath(rel)) aliases.set(resolveMemberLink(member.name, member.linkName), member.name);
        continue;
      }
      if (member.type !== "file") continue;
      if (/^(sos_commands\/(host|general)\/hostname|hostname|etc\/hostname)$/.test(rel)) {
        meta.host ??= (await memberText(member.chunks(), 4096)).split("\n", 1)[0]?.trim() || null;
        continue;
      }
      if (rel === "sos_commands/date/date") {
        const date = (await memberText(member.chunks(), 4096)).split("\n", 1)[0]?.trim() ?? "";
        const t = Date.parse(date.replace(/\s+[A-Z]{3,4}\s+(\d{4})$/, " $1 UTC"));
        if (!Number.isNaN(t)) meta.captureTime = t;
        continue;
      }
      if (isConfigPath(rel)) {
        configs.push({ path: display(member.name), host: null, text: await memberText(member.chunks()), sourceIndex: archiveIndex, root } as ConfigFile & { root: string });
        continue;
      }
      if (!isLogPath(rel)) continue;
      const name = aliases.get(member.name) ?? member.name;
      // A zstack-ctl collect_log bundle names the node in a folder: collect-log-…/host-10.0.0.11/kvmagent-logs/…
      const bundleHost = rel.split("/").map(zstackBundleHost).find((h) => h !== null) ?? null;
      const source: Source = { kind: "file", absPath: archive.absPath, displayPath: display(name), host: bundleHost, captureTime: null, mtimeMs: member.mtimeMs };
      const index = state.sources.length;
      state.sources.push({ ...sourceInfo(source), archive: { path: archive.absPath, member: member.name, root } });
      scanned.set(member.name, index);
      await scanSource(state, source, index, member.chunks());
    }
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    skip(state, { path: archive.displayPath || archive.absPath, reason: error.reason });
  }
  // A link met after its target renames the target's findings to the link's name.
  for (const [target, link] of aliases) {
    const index = scanned.get(target);
    if (index === undefined) continue;
    const info = state.sources[index] as SourceInfo;
    const renamed = display(link);
    for (const c of state.collector.findings) if (c.meta.sourceIndex === index) c.finding.path = renamed;
    info.displayPath = renamed;
  }
  for (let i = first; i < state.sources.length; i++) {
    const info = state.sources[i] as SourceInfo;
    const meta = roots.get(info.archive?.root ?? "");
    if (!meta) continue;
    info.host ??= meta.host;
    info.captureTime ??= meta.captureTime;
    if (meta.host) info.treeKey = `host:${meta.host}`;
  }
  for (const c of state.collector.findings) {
    if (c.meta.sourceIndex < first) continue;
    const info = state.sources[c.meta.sourceIndex] as SourceInfo;
    c.finding.host ??= info.host;
  }
  for (const config of configs as (ConfigFile & { root?: string })[]) {
    if (config.sourceIndex === archiveIndex && config.root !== undefined) config.host ??= roots.get(config.root)?.host ?? null;
  }
}

/** `--since 24h`: a duration before each source's capture time (known now), or before now for live logs. */
function dropOlderThanCapture(state: ScanState, durationMs: number): void {
  const now = Date.now();
  const kept = state.collector.findings.filter((c) => {
    if (c.meta.time === null) return true;
    const info = state.sources[c.meta.sourceIndex];
    return c.meta.time >= (info?.captureTime ?? now) - durationMs;
  });
  state.collector.findings.length = 0;
  for (const c of kept) state.collector.findings.push(c);
}

/**
 * The second pass over the logs, for an index that passed its budget: the same reading, framing and
 * parsing as the first, so the same (id, line) entries come out, but only the wanted ids are kept and
 * no rule runs. It reads into copies of the sources' descriptions, so the first pass's stay as they were.
 */
async function indexAgain(first: ScanState, sources: Source[], wanted: Set<number>): Promise<IdIndex> {
  if (first.threads) {
    // Whole files: the second pass's index needs no renumbering.
    const whole = sortUnits(sources.map((_, i) => ({ source: i, part: null, size: first.threads?.work[i] ?? 0 })));
    const results = (await runThreads(first, sources, whole, first.threads, { wanted, domains: first.observations.domains })).map((t) => t.whole);
    const index = new IdIndex();
    const mentions = new DomainMentions();
    for (const r of results) {
      index.merge(r.index);
      mentions.merge(r.observations.domainMentions);
    }
    // As the correlator does after the first pass: the domain mentions go in after the files' entries.
    mentions.indexInto(index, first.observations.domains);
    return index;
  }
  const pass: ScanState = {
    ...first,
    options: { ...first.options, onFinding: undefined, onSkip: undefined, onNotice: undefined },
    collector: new FindingCollector(first.options.language),
    unmatched: new UnmatchedErrors(),
    observations: new Observations(),
    // Tarball members are appended after the inputs, in the order the first pass met them.
    sources: first.sources.slice(0, sources.length).map((info) => ({ ...info, notices: [...info.notices] })),
    lines: 0,
    bytes: 0,
    truncatedLines: 0,
    skipped: [],
  };
  beginSecondPass(pass, { wanted, domains: first.observations.domains });
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i] as Source;
    // Standard input was spooled to a file by the first pass; it is read from there, still as standard input.
    if (source.kind === "stdin") await scanSource(pass, source, i, readFileChunks((first.sources[i] as SourceInfo).absPath));
    else if (source.kind === "archive") await scanArchive(pass, source, i, []);
    else await scanSource(pass, source, i);
  }
  pass.observations.domainMentions.indexInto(pass.index, first.observations.domains);
  return pass.index;
}

/** Turns a fresh state into one thread's second pass: only the wanted ids go into its index, and no rule runs. */
function beginSecondPass(state: ScanState, job: SecondPassJob): void {
  state.secondPass = true;
  state.index = new IdIndex(Infinity, job.wanted);
  for (const [name, uuid] of job.domains) state.observations.noteDomain(name, uuid);
}

/** The ids the correlator asks the index about: those of the findings, of the API requests, of the known domains. */
function likelyAsked(state: ScanState): Set<number> {
  const out = new Set<number>();
  const put = (id: string) => {
    const h = hashOfId(id);
    if (h >= 0) out.add(h);
  };
  for (const c of state.collector.findings) for (const id of [...c.finding.requestIds, ...c.finding.instanceIds]) put(id);
  const requests = state.observations.apiRequests;
  requests.addHashesTo(out);
  for (const uuid of state.observations.domains.values()) put(uuid);
  return out;
}

/** A rule's words, which every finding of it repeats: a thread sends them once per rule, not once per finding. */
type RuleText = Pick<Finding, "title" | "remediation" | "references">;

/** What a worker sends back: everything the main thread needs to correlate as if it had read the files. */
export interface WorkerResult {
  /** Their title, remediation and references are left empty: `ruleTexts` holds them. */
  findings: { finding: Finding; ruleId: string; time: number | null; sourceIndex: number; scope: string[]; level: string | null; foldKey: string | null }[];
  ruleTexts: Map<string, RuleText>;
  unmatched: UnmatchedTemplate[];
  observations: { apiRequests: ApiRequestColumns; domains: Map<string, string>; domainMentions: MentionRun[]; errorIdHashes: Set<number> };
  index: { blocks: IndexBlock[]; overflowed: boolean };
  sources: { index: number; info: SourceInfo }[];
  lines: number;
  bytes: number;
  truncatedLines: number;
  /** Skips and notices in the order the thread met them: replayed in file order once the results are merged. */
  events: { sourceIndex: number; skip?: SkippedInput; notice?: { path: string; line: number; message: string } }[];
}

/** Bytes `start` to `end` of a file shared out in parts; part 0 starts at 0, the last ends at Infinity (the file may grow). */
export interface PartRange {
  index: number;
  start: number;
  end: number;
}

/** What joining a file's parts needs beyond what a whole file's result holds. */
interface PartFacts {
  index: number;
  /** Lines in the part: the next part's line numbers are counted on from them. */
  lines: number;
  firstHeadTime: number | null;
  lastHeadTime: number | null;
  firstWindow: string | null;
  lastWindow: string | null;
  truncatedLines: number;
  firstTruncatedLine: number;
}

/** One part's result: its lines are numbered from the part's first line. */
export interface PartResult {
  source: number;
  facts: PartFacts;
  result: WorkerResult;
}

/** What a thread of a parallel scan did: its whole files in one result, each part in its own. */
export interface ThreadResult {
  whole: WorkerResult;
  parts: PartResult[];
}

/** A piece of a parallel scan's work: a whole file, or a part of a big plain oslo.log. */
export interface WorkUnit {
  source: number;
  part: PartRange | null;
  /** Bytes of text, to hand out the largest first. */
  size: number;
}

/**
 * The work of a parallel scan, largest first, and a shared counter: each thread (the main one too)
 * takes the next unit when it is done with one, so a slow file does not leave a core idle.
 */
export interface WorkQueue {
  units: WorkUnit[];
  next: Int32Array;
  /** [KiB of text read, files done] by all the threads, for the progress bar; [2]: their index entries, in steps. */
  done: Int32Array;
}

export function takeNext(queue: WorkQueue): WorkUnit | null {
  const k = Atomics.add(queue.next, 0, 1);
  return queue.units[k] ?? null;
}

/**
 * Files are shared out whole, and a file bigger than a thread's fair share would end the scan on one
 * thread while the others wait: such a file, if it is a plain oslo.log, is cut into parts of at least this.
 */
export const minPartBytes = 32 << 20;
/** Where a cut is looked for: the first line in this many bytes from the cut's place that opens a record. */
const cutWindowBytes = 256 << 10;

/**
 * The units of a parallel scan's first pass, largest first: whole files, but a plain oslo.log bigger
 * than a thread's fair share in parts small enough that the last ones taken leave the others little to
 * wait for. Only such a file: with both cores busy, a part costs more than the same bytes of a whole
 * file (each part's state is new to the JIT compiler and the collector), which on a tree of
 * several big files measured slower than sharing them out whole.
 */
export function planUnits(sources: Source[], work: number[], jobs: number, least = minPartBytes): WorkUnit[] {
  const total = work.reduce((a, b) => a + b, 0);
  const part = Math.max(least, Math.ceil(total / (jobs * 4)));
  const units: WorkUnit[] = [];
  sources.forEach((source, i) => {
    const size = work[i] ?? 0;
    const cuts = size > total / jobs && size >= 2 * part ? partCuts(source, size, Math.round(size / part)) : [];
    if (cuts.length === 0) {
      units.push({ source: i, part: null, size });
      return;
    }
    const edges = [0, ...cuts, Infinity];
    for (let k = 0; k + 1 < edges.length; k++) {
      const start = edges[k] as number;
      const end = edges[k + 1] as number;
      units.push({ source: i, part: { index: k, start, end }, size: Math.min(end, size) - start });
    }
  });
  return sortUnits(units);
}

function sortUnits(units: WorkUnit[]): WorkUnit[] {
  return units.sort((a, b) => b.size - a.size || a.source - b.source || (a.part?.index ?? 0) - (b.part?.index ?? 0));
}

/**
 * Where a file can be cut into `parts`: line starts at which a record opens whatever came before (see
 * opensRecordAnyway), so every part holds whole records. Only for a plain file whose first lines look
 * like oslo.log's: a guess, which scanInWorkers checks against the format the first part's scan decided.
 */
function partCuts(source: Source, size: number, parts: number): number[] {
  if (source.kind !== "file") return [];
  const head = readBytesAt(source.absPath);
  if (!head || compressionOf(head) !== "none" || binaryReason(head)) return [];
  // Not through a LineSplitter: a second kind of sink there made its optimised loop bail out 70 times a scan.
  const starts = new Uint32Array(40);
  const ends = new Uint32Array(40);
  let count = 0;
  for (let p = 0, nl = head.indexOf(10); count < 40 && nl >= 0; p = nl + 1, nl = head.indexOf(10, p)) {
    starts[count] = p;
    ends[count++] = nl;
  }
  if (detectFormatOf(head, starts, ends, count, source.displayPath) !== "oslo") return [];
  const cuts: number[] = [];
  for (let k = 1; k < parts; k++) {
    const cut = recordStartNear(source.absPath, Math.floor((size * k) / parts));
    if (cut !== null && cut > (cuts[cuts.length - 1] ?? 0) && cut < size) cuts.push(cut);
  }
  return cuts;
}

function recordStartNear(path: string, offset: number): number | null {
  const buf = readBytesAt(path, offset, cutWindowBytes);
  if (!buf) return null;
  // From the first line that starts inside the window, pairs of whole lines.
  let before = buf.indexOf(10) + 1;
  if (before === 0) return null;
  for (let beforeEnd = buf.indexOf(10, before); beforeEnd >= 0; ) {
    const end = buf.indexOf(10, beforeEnd + 1);
    if (end < 0) return null;
    if (opensRecordAnyway(buf, before, beforeEnd, beforeEnd + 1, end)) return offset + beforeEnd + 1;
    before = beforeEnd + 1;
    beforeEnd = end;
  }
  return null;
}

/** What a second pass needs from the first: the ids asked about, and the QEMU domains' UUIDs. */
export interface SecondPassJob {
  wanted: Set<number>;
  domains: Map<string, string>;
}

/** Counts a thread's text into the shared progress; one per state, as each counts its own bytes from 0. */
function progressInto(queue: WorkQueue): ScanOptions["onProgress"] {
  let reportedKiB = 0;
  return ({ bytes }) => {
    const kiB = Math.floor(bytes / 1024);
    Atomics.add(queue.done, 0, kiB - reportedKiB);
    reportedKiB = kiB;
  };
}

/** One thread's share of a parallel scan: the units it takes from the queue, whole files into one fresh state, each part into its own. */
export async function scanAssigned(options: ScanOptions, sources: Source[], queue: WorkQueue, secondPass?: SecondPassJob): Promise<ThreadResult> {
  const events: WorkerResult["events"] = [];
  let current = -1;
  const quietInto = (into: WorkerResult["events"]) => ({ onNotice: (notice: { path: string; line: number; message: string }) => into.push({ sourceIndex: current, notice }), onSkip: (skip: SkippedInput) => into.push({ sourceIndex: current, skip }) });
  const indexCount = { counts: queue.done, slot: 2 };
  const state = newState({ ...options, ...quietInto(events), onProgress: progressInto(queue) }, options.rules, sources.map((s) => sourceInfo(s)), indexCount);
  if (secondPass) beginSecondPass(state, secondPass);
  const assigned: number[] = [];
  const parts: PartResult[] = [];
  for (let unit = takeNext(queue); unit !== null; unit = takeNext(queue)) {
    current = unit.source;
    const source = sources[unit.source] as Source;
    if (unit.part === null) {
      assigned.push(unit.source);
      await scanSource(state, source, unit.source);
    } else {
      // The same rules, a state of its own: its findings and index entries join the other parts' later.
      const partEvents: WorkerResult["events"] = [];
      const infos = state.sources.slice();
      infos[unit.source] = sourceInfo(source);
      // About one indexed id per 450 bytes in nova's logs: a block of one per 128 bytes is seldom outgrown.
      const partState = newState({ ...options, ...quietInto(partEvents), onProgress: progressInto(queue) }, options.rules, infos, indexCount, { engine: state.engine, firstBlockEntries: Math.ceil(unit.size / 128) });
      const facts = (await scanSource(partState, source, unit.source, undefined, unit.part)) as PartFacts;
      parts.push({ source: unit.source, facts, result: threadShare(partState, [unit.source], partEvents) });
    }
    if (unit.part === null || unit.part.end === Infinity) Atomics.add(queue.done, 1, 1);
  }
  return { whole: threadShare(state, assigned, events), parts };
}

/** A state's findings, observations, index and sources, as they cross to the main thread. */
function threadShare(state: ScanState, assigned: number[], events: WorkerResult["events"]): WorkerResult {
  const o = state.observations;
  // Copying the result to the main thread is time no other thread can share, and a finding's rule text
  // was two thirds of its bytes.
  const ruleTexts = new Map<string, RuleText>();
  const findings = state.collector.findings.map(({ finding, meta }) => {
    const { title, remediation, references } = finding;
    ruleTexts.set(finding.ruleId, { title, remediation, references });
    return { finding: { ...finding, title: "", remediation: "", references: [] }, ruleId: finding.ruleId, time: meta.time, sourceIndex: meta.sourceIndex, scope: meta.scope ?? [], level: meta.level ?? null, foldKey: meta.foldKey ?? null };
  });
  return {
    findings,
    ruleTexts,
    unmatched: state.unmatched.export(),
    observations: { apiRequests: o.apiRequests.export(), domains: o.domains, domainMentions: o.domainMentions.export(), errorIdHashes: o.errorIdHashes },
    index: state.index.export(),
    sources: assigned.map((i) => ({ index: i, info: state.sources[i] as SourceInfo })),
    lines: state.lines,
    bytes: state.bytes,
    truncatedLines: state.truncatedLines,
    events,
  };
}

/**
 * One file's parts, in order, as the result of one thread that read it whole: line numbers counted on
 * from the parts before, a later part's repeats of an earlier part's finding folded into it, the file's
 * description made whole. A part that could not be read to its end is the last one kept, as a single
 * read would have stopped there.
 */
export function joinParts(source: number, parts: PartResult[], maxLineBytes: number): WorkerResult {
  const ordered = [...parts].sort((a, b) => a.facts.index - b.facts.index);
  const first = (ordered[0] as PartResult).result;
  const info = first.sources[0]?.info as SourceInfo;
  const findings: WorkerResult["findings"] = [];
  const byKey = new Map<string, WorkerResult["findings"][number]>();
  const ruleTexts = new Map<string, RuleText>();
  const unmatched = new UnmatchedErrors();
  const requests = new ApiRequests();
  const errorIdHashes = new Set<number>();
  const blocks: IndexBlock[] = [];
  const checkpoints: Float64Array[] = [];
  const events: WorkerResult["events"] = [];
  let overflowed = false;
  let base = 0;
  let lines = 0;
  let bytes = 0;
  let truncated = 0;
  let firstTruncated = 0;
  let firstNoted: number | null = null;
  let lastNoted: number | null = null;
  let lastWindow: string | null = null;
  const whole: SourceInfo = { ...info, notices: [], records: 0, windows: 0, lastLine: null };
  for (const { facts, result } of ordered) {
    const part = result.sources[0]?.info as SourceInfo;
    for (const f of result.findings) {
      f.finding.line += base;
      const earlier = f.foldKey === null ? undefined : byKey.get(f.foldKey);
      if (earlier) {
        earlier.finding.count += f.finding.count;
        continue;
      }
      if (f.foldKey !== null) byKey.set(f.foldKey, f);
      findings.push(f);
    }
    for (const [id, text] of result.ruleTexts) ruleTexts.set(id, text);
    for (const t of result.unmatched) t.record.line += base;
    unmatched.merge(result.unmatched);
    shiftRequestLines(result.observations.apiRequests, base);
    requests.merge(result.observations.apiRequests);
    for (const h of result.observations.errorIdHashes) errorIdHashes.add(h);
    for (const block of result.index.blocks) {
      block.lineBase = base;
      blocks.push(block);
    }
    overflowed ||= result.index.overflowed;
    const points = part.checkpoints.slice();
    for (let k = 0; k < points.length; k += 2) points[k] = (points[k] as number) + base;
    checkpoints.push(points);
    // A notice is given once a file: the kinds a part noted are its notice events, in order.
    let kind = 0;
    let stopped = false;
    for (const event of result.events) {
      if (event.skip) {
        events.push(event);
        stopped = true;
      } else if (event.notice) {
        const noted = part.notices[kind++] as string;
        if (whole.notices.includes(noted)) continue;
        whole.notices.push(noted);
        events.push({ ...event, notice: { ...event.notice, line: event.notice.line + base } });
      }
    }
    whole.records += part.records;
    whole.windows += part.windows - (lastWindow !== null && facts.firstWindow === lastWindow ? 1 : 0);
    if (facts.lastWindow !== null) lastWindow = facts.lastWindow;
    if (part.lastLine !== null) whole.lastLine = part.lastLine + base;
    firstNoted ??= part.firstTime;
    if (part.lastTime !== null) lastNoted = Math.max(lastNoted ?? part.lastTime, part.lastTime);
    if (facts.truncatedLines > 0 && truncated === 0) firstTruncated = facts.firstTruncatedLine + base;
    truncated += facts.truncatedLines;
    lines += result.lines;
    bytes += result.bytes;
    base += facts.lines;
    if (stopped) break;
  }
  // The file's first and last records' times count, as scanSource counts them for a whole file.
  const firstHead = (ordered[0] as PartResult).facts.firstHeadTime;
  whole.firstTime = firstHead === null ? firstNoted : Math.min(firstNoted ?? firstHead, firstHead);
  const lastHead = (ordered[ordered.length - 1] as PartResult).facts.lastHeadTime;
  whole.lastTime = lastHead === null ? lastNoted : Math.max(lastNoted ?? lastHead, lastHead);
  whole.checkpoints = concatenate(checkpoints);
  if (truncated > 0 && !whole.notices.includes("long")) {
    whole.notices.push("long");
    events.push({ sourceIndex: source, notice: { path: whole.displayPath, line: firstTruncated, message: longLinesMessage(truncated, maxLineBytes) } });
  }
  return {
    findings,
    ruleTexts,
    unmatched: unmatched.export(),
    observations: { apiRequests: requests.export(), domains: new Map(), domainMentions: [], errorIdHashes },
    index: { blocks, overflowed },
    sources: [{ index: source, info: whole }],
    lines,
    bytes,
    truncatedLines: truncated,
    events,
  };
}

function concatenate(arrays: Float64Array[]): Float64Array {
  const out = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** How the first pass spread the files over threads: the second pass spreads them the same way. */
interface Threads {
  work: number[];
  jobs: number;
  ruleSource: RuleSource;
}

/**
 * Spreads the units over the main thread and `jobs - 1` worker threads, which take them from one
 * queue, largest first. The main thread's result comes first.
 */
async function runThreads(state: ScanState, sources: Source[], units: WorkUnit[], { jobs, ruleSource }: Threads, secondPass?: SecondPassJob): Promise<ThreadResult[]> {
  const queue: WorkQueue = { units, next: new Int32Array(new SharedArrayBuffer(4)), done: new Int32Array(new SharedArrayBuffer(12)) };
  const { sinceMs, untilMs, sinceDurationMs, maxLineBytes, language, correlate, indexBytes } = state.options;
  const workerUrl = new URL("./scan-worker.js", import.meta.url);
  // Loaded only here: a scan on one thread (every small one) does not pay for it at startup.
  const { Worker } = await import("node:worker_threads");
  const started: Worker[] = [];
  const workers = Array.from(
    { length: jobs - 1 },
    () =>
      new Promise<ThreadResult>((resolve, reject) => {
        // As the launcher does for the main thread: a small young generation, so garbage does not grow the heap.
        const worker = new Worker(workerUrl, { resourceLimits: { maxYoungGenerationSizeMb: 12 }, workerData: { sources, queue, ruleSource, language, sinceMs, untilMs, sinceDurationMs, maxLineBytes, correlate, indexBytes, secondPass } });
        started.push(worker);
        worker.once("message", (result: ThreadResult) => {
          resolve(result);
          void worker.terminate();
        });
        worker.once("error", reject);
        worker.once("exit", (code) => {
          if (code !== 0) reject(new Error(`scan worker exited with code ${code}`));
        });
      }),
  );
  // Awaited only after the main thread's share, so a worker's failure must be held until then, not
  // left an unhandled rejection that ends the process with no report.
  const fromWorkers = Promise.all(workers);
  fromWorkers.catch(() => {});
  const { onProgress } = state.options;
  const report = () => onProgress?.({ files: Atomics.load(queue.done, 1), totalFiles: sources.length, bytes: Atomics.load(queue.done, 0) * 1024, totalBytes: state.totalBytes, pass: secondPass ? 2 : 1 });
  report();
  const progress = onProgress ? setInterval(report, 100) : null;
  // The main thread scans too, while the workers start; its share is merged like theirs.
  try {
    let results: ThreadResult[];
    try {
      const own = await scanAssigned({ ...state.options, onFinding: undefined }, sources, queue, secondPass);
      results = [own, ...(await fromWorkers)];
    } catch (error) {
      // One thread failed: the others' work is lost anyway, so they stop now, not when the process ends.
      for (const worker of started) void worker.terminate();
      throw error;
    }
    report();
    return results;
  } finally {
    if (progress) clearInterval(progress);
  }
}

/** The first pass over threads; the results are merged in file order, as one thread would have found them. */
async function scanInWorkers(state: ScanState, sources: Source[], units: WorkUnit[], threads: Threads): Promise<void> {
  const fromThreads = await runThreads(state, sources, units, threads);
  const partsByFile = new Map<number, PartResult[]>();
  for (const { parts } of fromThreads) for (const p of parts) partsByFile.set(p.source, [...(partsByFile.get(p.source) ?? []), p]);
  const joined: WorkerResult[] = [];
  for (const [source, parts] of [...partsByFile].sort((a, b) => a[0] - b[0])) {
    // Later parts were read as oslo.log; if the file's own first lines said otherwise, it is read again whole.
    const format = parts.find((p) => p.facts.index === 0)?.result.sources[0]?.info.format;
    if (format === "oslo") joined.push(joinParts(source, parts, state.options.maxLineBytes ?? 1 << 20));
    else joined.push((await scanAssigned({ ...state.options, onFinding: undefined }, sources, { units: [{ source, part: null, size: 0 }], next: new Int32Array(new SharedArrayBuffer(4)), done: new Int32Array(new SharedArrayBuffer(12)) })).whole);
  }
  // The joined files after the threads' whole ones: an index keeps each file's entries in line order.
  const results = [...fromThreads.map((t) => t.whole), ...joined];
  const rulesById = new Map(state.options.rules.map((r) => [r.id, r]));
  for (const r of results) for (const f of r.findings) Object.assign(f.finding, r.ruleTexts.get(f.ruleId));
  const merged = results.flatMap((r) => r.findings).sort((a, b) => a.sourceIndex - b.sourceIndex || a.finding.line - b.finding.line);
  for (const f of merged) {
    const rule = rulesById.get(f.ruleId) ?? null;
    const collected = state.collector.add(f.finding, { rule, time: f.time, sourceIndex: f.sourceIndex, scope: f.scope, level: f.level, explains: [], layer: rule?.layer ?? "service" });
    collected.finding.count = f.finding.count;
    state.options.onFinding?.(collected.finding);
  }
  for (const r of results) {
    state.unmatched.merge(r.unmatched);
    state.observations.merge(r.observations);
    state.index.merge(r.index);
    for (const { index, info } of r.sources) state.sources[index] = info;
    state.lines += r.lines;
    state.bytes += r.bytes;
    state.truncatedLines += r.truncatedLines;
  }
  // In file order, as a single thread would have noted them: request-lost reports in this order.
  state.observations.apiRequests.sort();
  for (const event of results.flatMap((r) => r.events).sort((a, b) => a.sourceIndex - b.sourceIndex)) {
    if (event.skip) skip(state, event.skip);
    if (event.notice) state.options.onNotice?.(event.notice);
  }
}

export async function scan(options: ScanOptions): Promise<ScanResult> {
  const inputs = options.inputs.length ? options.inputs : ["-"];
  const collected = await collectInputs(inputs, options.cwd);
  const state = newState(
    options,
    options.rules,
    collected.sources.map((s) => sourceInfo(s)),
  );
  if (collected.sources.length === 0 && collected.configFiles.length === 0) {
    throw new NoInputError(collected.skipped.length ? `no readable input: ${collected.skipped.map((s) => `${s.path}: ${s.reason}`).join("; ")}` : `no log files found in ${inputs.join(", ")}`);
  }
  for (const entry of collected.skipped) skip(state, entry);
  try {
    const archiveConfigs: ConfigFile[] = [];
    const jobs = Math.max(1, options.jobs ?? 1);
    const sizes = await Promise.all(collected.sources.map(async (s) => (s.kind === "stdin" ? 0 : ((await stat(s.absPath).catch(() => null))?.size ?? 0))));
    // The bar counts text, so a gzip file counts by the inflated size its trailer gives.
    state.totalBytes = collected.sources.reduce((sum, s, i) => sum + (/\.t?gz$/i.test(s.absPath) ? textSize(s.absPath, sizes[i] ?? 0) : (sizes[i] ?? 0)), 0);
    const ruleSource = options.ruleSource;
    const parallel = jobs > 1 && ruleSource !== undefined && !collected.sources.some((s) => s.kind === "stdin" || s.kind === "archive");
    // The work is the text to scan, so a gzip file counts by its inflated size; small scans stay on the main thread.
    const work = parallel ? collected.sources.map((s, i) => textSize(s.absPath, sizes[i] ?? 0)) : [];
    const units = parallel && work.reduce((a, b) => a + b, 0) >= (options.minParallelBytes ?? minParallelBytes) ? planUnits(collected.sources, work, jobs, options.minPartBytes) : [];
    if (units.length > 1 && ruleSource) {
      const threads = { work, jobs: Math.min(jobs, units.length), ruleSource };
      state.threads = threads;
      await scanInWorkers(state, collected.sources, units, threads);
    } else {
      for (let i = 0; i < collected.sources.length; i++) {
        const source = collected.sources[i] as Source;
        if (source.kind === "archive") await scanArchive(state, source, i, archiveConfigs);
        else await scanSource(state, source, i);
      }
    }
    const configFiles = [...archiveConfigs, ...collected.configFiles.flatMap((source, i) => {
      const text = readConfigText(source.absPath);
      if (typeof text !== "string") {
        skip(state, { path: source.displayPath, reason: text.reason });
        return [];
      }
      return [{ path: source.displayPath, host: source.host, text, sourceIndex: collected.sources.length + i }];
    })];
    checkConfigFiles(configFiles, options.rules, state.collector, options.language);
    if (options.sinceDurationMs != null) dropOlderThanCapture(state, options.sinceDurationMs);
    const all: CollectedFinding[] = state.collector.findings;
    let index: IdIndex | SecondPassIndex = state.index;
    state.index.removeBudget();
    if (state.index.overflowed && options.correlate !== false) {
      options.onSecondPass?.();
      index = new SecondPassIndex((wanted) => indexAgain(state, collected.sources, wanted), likelyAsked(state));
    }
    const incidents = options.correlate === false ? [] : await correlate({ findings: all, collector: state.collector, index, sources: state.sources, observations: state.observations, rules: options.rules, language: options.language, maxRelated: options.maxRelated ?? 20 });
    for (const f of state.unmatched.findings(options.maxUnmatched ?? 10, options.language)) {
      const info = state.sources[f.meta.sourceIndex];
      if (options.sinceDurationMs != null && f.meta.time !== null && f.meta.time < (info?.captureTime ?? Date.now()) - options.sinceDurationMs) continue;
      f.finding.host ??= info?.host ?? null;
      all.push(f);
    }
    const findings = all.map((c, i) => {
      c.finding.id = `F${i + 1}`;
      return c.finding;
    });
    const finalIncidents = incidents.map(({ id, requestIds, instanceIds, summary, members, root }) => ({ id, requestIds, instanceIds, findings: members.map((m) => m.finding.id), rootCause: root.finding.id, summary }));
    const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
    for (const f of findings) bySeverity[f.severity]++;
    const result: ScanResult = {
      schemaVersion: 1,
      language: options.language,
      summary: {
        // Logs read (a tarball counts by its members, not itself) and configuration files checked.
        files: state.sources.length - collected.sources.filter((s) => s.kind === "archive").length + configFiles.length,
        lines: state.lines,
        bytes: state.bytes,
        findings: findings.length,
        incidents: finalIncidents.length,
        bySeverity,
        skipped: state.skipped,
        truncatedLines: state.truncatedLines,
        suppressed: 0,
      },
      findings,
      incidents: finalIncidents,
    };
    return options.redact === false ? result : redactResult(result);
  } finally {
    for (const info of state.sources) if (info.isSpool) {
      rmSync(info.absPath, { force: true });
      spools.delete(info.absPath);
    }
  }
}
