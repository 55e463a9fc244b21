// Folds lines into records (tracebacks, qemu stderr, stack traces stay one record) while staying on bytes.
import { Hits, type Prefilter } from "../engine/prefilter.js";
import { detectFormat, isHeaderLine, type FormatName } from "./formats.js";

/**
 * A record before it is decoded: its line range, whether it deserves decoding, and its bytes. The bytes
 * are views into the current chunk while it lasts (read them inside the sink callback) and copies once
 * the record spans chunks, so the common record costs no allocation at all.
 */
export class PendingRecord {
  firstLine = 0;
  lastLine = 0;
  /** The first line says WARNING or worse (oslo level byte, or the parsed level of other formats). */
  severe = false;
  /** Prefilter pattern ids found in the record's bytes. */
  readonly hits: number[] = [];
  /** Hashes of the request ids and instance UUIDs in the first line's header (`idCount` of them), for the index. */
  readonly idHashes = new Uint32Array(maxHeaderIds);
  idCount = 0;
  /** Lines of earlier chunks, copied. */
  private carried: Buffer[] | null = null;
  private buf: Buffer | null = null;
  private starts: Uint32Array | null = null;
  private ends: Uint32Array | null = null;
  private from = 0;
  private to = -1;
  lineCount = 0;
  bytes = 0;

  /** One object serves every record of a source (the sink reads it during its call and keeps nothing). */
  reset(firstLine: number, severe: boolean): void {
    this.firstLine = firstLine;
    this.lastLine = firstLine;
    this.severe = severe;
    if (this.hits.length) this.hits.length = 0;
    this.idCount = 0;
    this.carried = null;
    this.buf = null;
    this.starts = null;
    this.ends = null;
    this.from = 0;
    this.to = -1;
    this.lineCount = 0;
    this.bytes = 0;
  }

  get lines(): Buffer[] {
    const out = this.carried ? [...this.carried] : [];
    if (this.buf && this.starts && this.ends) for (let j = this.from; j <= this.to; j++) out.push(this.buf.subarray(this.starts[j], this.ends[j]));
    return out;
  }

  /** The record's text as latin1, when it is one line of the current chunk; otherwise null. */
  oneLineLatin1(): string | null {
    if (this.lineCount !== 1 || this.carried || !this.buf || !this.starts || !this.ends) return null;
    return this.buf.toString("latin1", this.starts[this.from], this.ends[this.from]);
  }

  addId(hash: number): void {
    if (this.idCount < maxHeaderIds) this.idHashes[this.idCount++] = hash;
  }

  /** Adds line `index` of the chunk described by buf/starts/ends. */
  add(buf: Buffer, starts: Uint32Array, ends: Uint32Array, index: number, lineNo: number): void {
    if (this.buf !== buf || this.starts !== starts) {
      this.keep();
      this.buf = buf;
      this.starts = starts;
      this.ends = ends;
      this.from = index;
    }
    this.to = index;
    this.lastLine = lineNo;
    this.lineCount++;
    this.bytes += (ends[index] as number) - (starts[index] as number);
  }

  /** The chunk is about to be reused: copy what this record holds of it. */
  keep(): void {
    if (!this.buf) return;
    const copies = this.lines.map((line) => Buffer.from(line));
    this.carried = copies;
    this.buf = null;
    this.starts = null;
    this.ends = null;
  }
}

const maxHeaderIds = 8;

/** Hex digit values by byte, -1 for anything else. */
const hexValue = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) hexValue[48 + i] = i;
for (let i = 0; i < 6; i++) hexValue[97 + i] = hexValue[65 + i] = 10 + i;

/** The first 8 hex digits of a request id or UUID: random in uuid4, so a good 32-bit key without allocating. */
export function hashOfHex(buf: Buffer, p: number): number {
  if (p + 8 > buf.length) return -1;
  let h = 0;
  for (let i = 0; i < 8; i++) {
    const v = hexValue[buf[p + i] as number] as number;
    if (v < 0) return -1;
    h = (h << 4) | v;
  }
  return h >>> 0;
}

export function hashOfId(id: string): number {
  const hex = id.startsWith("req-") ? id.slice(4, 12) : id.slice(0, 8);
  const h = parseInt(hex, 16);
  return Number.isNaN(h) ? -1 : h >>> 0;
}

/** Lines beyond this fold into the next record, so a runaway continuation cannot hold memory. */
const maxRecordLines = 2000;
const maxRecordBytes = 4 << 20;
const detectLines = 40;

const D0 = 48;
const D9 = 57;
const SPACE = 32;

export function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= D0 && c <= D9;
}

/** `YYYY-MM-DD HH:MM:SS` at the start of the line (oslo.log and friends). */
function startsWithIsoTime(buf: Buffer, s: number, e: number): boolean {
  return e - s >= 24 && isDigit(buf[s]) && isDigit(buf[s + 3]) && buf[s + 4] === 45 && buf[s + 10] === SPACE && buf[s + 13] === 58 && buf[s + 16] === 58;
}

/**
 * Whether the oslo.log line at `s` opens a record whatever record is open, given the line before it at
 * `ps`: both have an oslo header and their "ts pid" differ, and osloOpens then always says yes. A parallel
 * scan starts a thread at such a line, so that thread reads the same records as one reading from the start.
 */
export function opensRecordAnyway(buf: Buffer, ps: number, pe: number, s: number, e: number): boolean {
  const before = new OsloHeader();
  const line = new OsloHeader();
  if (!startsWithIsoTime(buf, ps, pe) || !readOsloHeader(buf, ps, pe, before)) return false;
  if (!startsWithIsoTime(buf, s, e) || !readOsloHeader(buf, s, e, line)) return false;
  const length = line.pidEnd - s;
  return before.pidEnd - ps !== length || buf.compare(buf, ps, before.pidEnd, s, line.pidEnd) !== 0;
}

/** The format of a source from its first lines, as the assembler decides it (`starts`/`ends` as a ChunkSink is given them). */
export function detectFormatOf(buf: Buffer, starts: Uint32Array, ends: Uint32Array, count: number, path: string): FormatName {
  const sample: string[] = [];
  for (let i = 0; i < Math.min(count, detectLines); i++) sample.push(buf.toString("latin1", starts[i], Math.min(ends[i] ?? 0, (starts[i] ?? 0) + 400)));
  return detectFormat(sample, path);
}

/** Where the parts of an oslo line's header are; one object per assembler, refilled for every line. */
class OsloHeader {
  /** End of "ts pid" (exclusive). */
  pidEnd = 0;
  levelByte = 0;
  loggerStart = 0;
  loggerEnd = 0;
  /** First byte after "logger ", or -1 when the line ends there. */
  restStart = -1;
}

/** Fills `out` from "ts pid LEVEL logger " and says whether the line has that shape. */
function readOsloHeader(buf: Buffer, s: number, e: number, out: OsloHeader): boolean {
  // ts: "YYYY-MM-DD HH:MM:SS[.fff]" then " pid LEVEL logger "
  let p = s + 19;
  while (p < e && buf[p] !== SPACE) p++;
  if (p >= e) return false;
  const pidStart = ++p;
  while (p < e && isDigit(buf[p])) p++;
  if (p === pidStart || buf[p] !== SPACE) return false;
  out.pidEnd = p;
  const levelStart = ++p;
  while (p < e && buf[p] !== SPACE) p++;
  if (p >= e || p - levelStart < 4) return false;
  out.levelByte = buf[levelStart] as number;
  out.loggerStart = ++p;
  while (p < e && buf[p] !== SPACE) p++;
  out.loggerEnd = p;
  out.restStart = p < e ? p + 1 : -1;
  return true;
}

const instanceTag = Buffer.from("[instance: ");

/** Whether `needle` sits at `pos`, never reading past `end`. */
function bytesAt(buf: Buffer, pos: number, end: number, needle: Buffer): boolean {
  if (pos < 0 || pos + needle.length > end) return false;
  for (let i = 0; i < needle.length; i++) if (buf[pos + i] !== needle[i]) return false;
  return true;
}

/** A context bracket ("[-]", "[req-…", "[None req-…") opens a record; "[instance: …]" or none continues one. */
function opensContext(buf: Buffer, restStart: number, e: number): boolean {
  if (restStart < 0 || buf[restStart] !== 91) return false;
  return !bytesAt(buf, restStart, e, instanceTag);
}

/**
 * Ids in an oslo context bracket ("[None req-…", "[req-G req-L …") and the "[instance: X]" after it, added
 * to `record` unless it is null (nothing indexes them). Returns where the message can start: after the
 * bracket, or `restStart` when there is none.
 */
function osloHeaderIds(buf: Buffer, restStart: number, e: number, record: PendingRecord | null): number {
  if (restStart < 0) return e;
  if (buf[restStart] !== 91) return restStart;
  let p = restStart + 1;
  let jumped = false;
  const limit = Math.min(e, restStart + 400);
  // Request ids are the bracket's first or second token ("[req-L …", "[None req-L …", "[req-G req-L …"):
  // look at two tokens, then jump to the closing bracket.
  for (let token = 0; token < 2 && p < limit && buf[p] !== 93; token++) {
    if (buf[p] === 114 && buf[p + 1] === 101 && buf[p + 2] === 113 && buf[p + 3] === 45) {
      if (record !== null) {
        const h = hashOfHex(buf, p + 4);
        if (h >= 0) record.addId(h);
      }
      p += 40;
      jumped = true;
    } else {
      while (p < limit && buf[p] !== SPACE && buf[p] !== 93) p++;
    }
    if (buf[p] === SPACE) p++;
  }
  if (buf[p] !== 93) {
    const close = buf.indexOf(93, p);
    p = close >= 0 && close < limit ? close : limit;
  }
  // "] [instance: " after the bracket, or the line's own "[instance: " where a bracket would be.
  if (record !== null) {
    const tagAt = buf[p] === 93 && buf[p + 1] === SPACE && bytesAt(buf, p + 2, e - 8, instanceTag) ? p + 2 : bytesAt(buf, restStart, e - 8, instanceTag) ? restStart : -1;
    const h = tagAt < 0 ? -1 : hashOfHex(buf, tagAt + instanceTag.length);
    if (h >= 0) record.addId(h);
  }
  if (buf[p] !== 93) return restStart;
  // A jump over a malformed id may have passed the bracket's first "]", where the message starts.
  return jumped && buf.indexOf(93, restStart) !== p ? restStart : p + 1;
}

/** Whether `text` has eight lowercase hex digits and a dash at `at`. */
function hex8Dash(text: string, at: number): boolean {
  if (at + 9 > text.length || text.charCodeAt(at + 8) !== 45) return false;
  for (let i = at; i < at + 8; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** The eight lowercase hex digits at `at` (hex8Dash checked them) as a u32, without a substring. */
function hex8Value(text: string, at: number): number {
  let h = 0;
  for (let i = at; i < at + 8; i++) {
    const c = text.charCodeAt(i);
    h = (h << 4) | (c <= 57 ? c - 48 : c - 87);
  }
  return h >>> 0;
}

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/**
 * The ids of a text line, left to right: "req-" at a word start, or "[instance: ", then 8 hex digits and a
 * dash (the id's first word is its hash). indexOf, not a regular expression: a journal has this on every line.
 */
function textIds(text: string, record: PendingRecord): void {
  let req = text.indexOf("req-");
  let inst = text.indexOf("[instance: ");
  while (req >= 0 || inst >= 0) {
    const isReq = req >= 0 && (inst < 0 || req < inst);
    const at = isReq ? req : inst;
    const idAt = at + (isReq ? 4 : 11);
    const found = (!isReq || at === 0 || !isWordChar(text.charCodeAt(at - 1))) && hex8Dash(text, idAt);
    if (found) record.addId(hex8Value(text, idAt));
    // A match ends after its dash, where the search goes on; a miss moves on by one character.
    const from = found ? idAt + 9 : at + 1;
    if (req >= 0 && req < from) req = text.indexOf("req-", from);
    if (inst >= 0 && inst < from) inst = text.indexOf("[instance: ", from);
  }
}

/** libvirt daemon lines: "YYYY-MM-DD HH:MM:SS.mmm+zzzz: tid: level : …". */
function startsWithLibvirtTime(buf: Buffer, s: number, e: number): boolean {
  return startsWithIsoTime(buf, s, e) && buf[s + 19] === 46 && (buf[s + 23] === 43 || buf[s + 23] === 45) && buf[s + 28] === 58;
}

const errorWord = Buffer.from(": error : ");
const warningWord = Buffer.from(": warning : ");

/** Whether a libvirt line's level is error or warning: the level sits right after "ts: tid". */
function libvirtSevere(buf: Buffer, s: number, e: number): boolean {
  let p = s + 30;
  while (p < e && isDigit(buf[p])) p++;
  return bytesAt(buf, p, e, errorWord) || bytesAt(buf, p, e, warningWord);
}

export type RecordSink = (record: PendingRecord) => void;

/** The journal shortcut (readJournalOslo) can be turned off, so a test can hold it to the regular expressions it stands for. */
export const journalShortcut = { enabled: true };

export class RecordAssembler {
  format: FormatName | null = null;
  private current: PendingRecord | null = null;
  private readonly record = new PendingRecord();
  private readonly header = new OsloHeader();
  /** oslo: the open record's "ts pid" and logger bytes, to recognise its traceback lines (offsets into headBuf). */
  private headBuf: Buffer = Buffer.alloc(0);
  private headKeyStart = 0;
  private headKeyLength = -1;
  private headLoggerStart = 0;
  private headLoggerLength = 0;
  private readonly headCopy = Buffer.alloc(512);
  /** Text formats: the open record's continuation key (journal identifier and inner oslo head). */
  private textKey: string | null = null;
  private readonly journal = new JournalOsloParts();
  /** Lines in a row that readJournalOslo did not take. */
  private journalMisses = 0;
  private previousEndsWithBackslash = false;
  /** The open record has shown "Traceback (most recent call last):": its exception line is still to come. */
  private inTraceback = false;
  /** The first line of the last record, once the source has ended: gives its last timestamp. */
  lastRecordHead: Buffer | null = null;
  /** The last record's first line number, once the source has ended. */
  lastRecordLine: number | null = null;
  /** The first line of the first record, copied: with the last one it gives the source's time span. */
  firstRecordHead: Buffer | null = null;
  records = 0;
  /** Ten-minute windows that hold a record ("YYYY-MM-DD HH:M" changes): how steadily the source logs (0 unless forCorrelation). */
  windows = 0;
  private readonly lastWindow = Buffer.alloc(15);

  private readonly hits = new Hits();
  /**
   * Whether records carry the hashes of their header's ids, and the ten-minute windows are counted: only
   * the correlator reads them, so a rules-only scan turns this off.
   */
  forCorrelation = true;

  constructor(
    private readonly path: string,
    private readonly sink: RecordSink,
    /**
     * Whether a text line's level is WARNING or worse. It is not asked about a journal line whose oslo
     * line inside says DEBUG, INFO, AUDIT or TRACE: no parser makes those severe.
     */
    private readonly isSevereText: (format: FormatName, line: string) => boolean,
    /** Finds the rule hints in each record's bytes; without one, records carry no hits. */
    private readonly prefilter: Prefilter | null = null,
  ) {}

  /** Feeds a chunk's lines (`starts[i]`..`ends[i]` is line `firstLine + i`). */
  lines(buf: Buffer, starts: Uint32Array, ends: Uint32Array, count: number, firstLine: number): void {
    if (this.format === null) this.format = detectFormatOf(buf, starts, ends, count, this.path);
    const oslo = this.format === "oslo";
    const libvirt = this.format === "libvirt";
    const prefilter = this.prefilter;
    const hits = this.hits;
    // Rules see an oslo record's message, never its header (time, pid, level, logger, context: up to
    // half the bytes), so those lines are searched from where the message starts. Other formats are
    // searched a chunk at a time.
    const perLine = oslo && prefilter !== null;
    if (prefilter && !perLine && count > 0) prefilter.scan(buf, starts[0] as number, ends[count - 1] as number, hits);
    else hits.count = 0;
    const hitPos = hits.positions;
    const hitPat = hits.ids;
    const hitCount = hits.count;
    let h = 0;
    for (let i = 0; i < count; i++) {
      const s = starts[i] as number;
      const e = ends[i] as number;
      const lineNo = firstLine + i;
      let opens: boolean;
      let severe = false;
      let header: OsloHeader | null = null;
      let lineHeader: OsloHeader | null = null;
      let text: string | null = null;
      if (oslo) {
        // The header is read once per line: it decides whether the line opens a record, and what that record is.
        const timed = startsWithIsoTime(buf, s, e);
        lineHeader = timed && readOsloHeader(buf, s, e, this.header) ? this.header : null;
        opens = this.osloOpens(buf, s, e, timed, lineHeader);
        if (opens) {
          header = lineHeader;
          // W(ARNING), E(RROR), C(RITICAL), T(RACE) are worth decoding; I(NFO), D(EBUG), A(UDIT) are not.
          const b = header === null ? 0 : header.levelByte;
          severe = header === null ? true : b === 87 || b === 69 || b === 67 || b === 84;
          this.rememberOsloHead(buf, s, header);
          if (header && this.forCorrelation) this.countWindow(buf, s);
        }
      } else if (libvirt) {
        // Lines without libvirt's prefix are qemu stderr inside the message before them.
        opens = startsWithLibvirtTime(buf, s, e) || this.current === null;
        if (opens) severe = libvirtSevere(buf, s, e);
      } else {
        text = buf.toString("latin1", s, Math.min(e, s + 600));
        // After a run of misses (a journal of other services) the shortcut is tried on every 16th line only.
        const tryJournal = journalShortcut.enabled && this.format === "syslog" && (this.journalMisses < 32 || (lineNo & 15) === 0);
        const journal = tryJournal && readJournalOslo(buf, s, e, text, this.journal) ? this.journal : null;
        if (tryJournal) this.journalMisses = journal ? 0 : this.journalMisses + 1;
        opens = journal ? this.journalOsloOpens(text, journal) : this.textOpens(text);
        if (opens) {
          severe = journal?.quiet ? false : this.isSevereText(this.format, text);
          if (this.forCorrelation && startsWithIsoTime(buf, s, e)) this.countWindow(buf, s);
        }
      }
      let record = this.current;
      // Where an oslo line's message starts: after the context bracket, or after the logger.
      let messageStart = s;
      if (opens || record === null || record.lineCount >= maxRecordLines || record.bytes >= maxRecordBytes) {
        this.flush();
        record = this.record;
        record.reset(lineNo, severe);
        if (header) messageStart = osloHeaderIds(buf, header.restStart, e, this.forCorrelation ? record : null);
        else if (text !== null && this.forCorrelation) textIds(text, record);
        this.current = record;
      } else if (oslo && lineHeader !== null) {
        messageStart = lineHeader.restStart < 0 ? e : lineHeader.restStart;
      }
      record.add(buf, starts, ends, i, lineNo);
      if (perLine) {
        if (e - messageStart >= 3) {
          prefilter.scan(buf, messageStart, e, hits);
          for (let k = 0; k < hits.count; k++) {
            const pat = hits.ids[k] as number;
            if (!record.hits.includes(pat)) record.hits.push(pat);
          }
        }
      } else if (h < hitCount) {
        while (h < hitCount && (hitPos[h] as number) < s) h++;
        while (h < hitCount && (hitPos[h] as number) <= e) {
          const pat = hitPat[h] as number;
          if (!record.hits.includes(pat)) record.hits.push(pat);
          h++;
        }
      }
    }
    // The chunk buffer is reused: keep copies of what the open record and the head key point at.
    this.current?.keep();
    if (this.headBuf === buf && this.headKeyLength >= 0) {
      const length = this.headLoggerStart + this.headLoggerLength - this.headKeyStart;
      if (length <= this.headCopy.length) {
        buf.copy(this.headCopy, 0, this.headKeyStart, this.headKeyStart + length);
        this.headLoggerStart -= this.headKeyStart;
        this.headKeyStart = 0;
        this.headBuf = this.headCopy;
      } else {
        this.headKeyLength = -1;
      }
    }
  }

  /** The last window counted, null before the first. */
  get lastWindowKey(): string | null {
    return this.windows === 0 ? null : this.lastWindow.toString("latin1");
  }

  private countWindow(buf: Buffer, s: number): void {
    const w = this.lastWindow;
    for (let j = 0; j < 15; j++) {
      if (buf[s + j] !== w[j]) {
        buf.copy(w, 0, s, s + 15);
        this.windows++;
        return;
      }
    }
  }

  end(): void {
    const head = this.current?.lines[0];
    this.lastRecordHead = head ? Buffer.from(head.subarray(0, Math.min(head.length, 400))) : null;
    this.lastRecordLine = this.current?.firstLine ?? null;
    this.flush();
  }

  /** A live stream that went quiet: the open record is as complete as it will get for now. */
  flushIdle(): void {
    this.flush();
  }

  private flush(): void {
    const record = this.current;
    if (!record) return;
    this.records++;
    if (this.firstRecordHead === null) {
      const head = record.lines[0];
      if (head) this.firstRecordHead = Buffer.from(head.subarray(0, Math.min(head.length, 400)));
    }
    this.current = null;
    this.sink(record);
  }

  private osloOpens(buf: Buffer, s: number, e: number, timed: boolean, header: OsloHeader | null): boolean {
    if (!timed) return this.current === null;
    const keyLength = this.headKeyLength;
    if (keyLength < 0 || e - s <= keyLength) return true;
    // Same "ts pid" and logger, and no context bracket: a traceback line of the open record.
    const key = this.headBuf;
    const k = this.headKeyStart;
    // Backwards: the milliseconds, just before the pid, differ first between two records.
    for (let j = keyLength - 1; j >= 0; j--) if (buf[s + j] !== key[k + j]) return true;
    if (!header || header.pidEnd - s !== keyLength || header.loggerEnd - header.loggerStart !== this.headLoggerLength) return true;
    const l = this.headLoggerStart;
    for (let j = 0; j < this.headLoggerLength; j++) if (buf[header.loggerStart + j] !== key[l + j]) return true;
    return opensContext(buf, header.restStart, e);
  }

  private rememberOsloHead(buf: Buffer, s: number, header: OsloHeader | null): void {
    if (!header) {
      this.headKeyLength = -1;
      return;
    }
    this.headBuf = buf;
    this.headKeyStart = s;
    this.headKeyLength = header.pidEnd - s;
    this.headLoggerStart = header.loggerStart;
    this.headLoggerLength = header.loggerEnd - header.loggerStart;
  }

  /**
   * textOpens for the common journal line, an oslo line behind "Mmm dd HH:MM:SS host ident[pid]: ", read
   * from the offsets readJournalOslo found instead of three regular expressions: the same decision,
   * since every rule of textOpens that looks past the key is false for such a line.
   */
  private journalOsloOpens(text: string, j: JournalOsloParts): boolean {
    const source = text.slice(j.sourceStart, j.sourceEnd);
    const logger = text.slice(j.loggerStart, j.loggerEnd);
    const key = j.tsPidEnd < 0 ? `${source}|${logger}` : `${source}|${text.slice(j.innerStart, j.tsPidEnd)}|${logger}`;
    if (this.current === null) {
      this.textKey = key;
      return true;
    }
    // Same process, same "ts pid" and logger, and no context bracket: the open record's next line.
    if (key === this.textKey && !(text.startsWith("[", j.restStart) && !text.startsWith("[instance: ", j.restStart))) return false;
    this.textKey = key;
    this.inTraceback = text.includes("Traceback (most recent call last)");
    return true;
  }

  private textOpens(text: string): boolean {
    const format = this.format as FormatName;
    if (this.current === null) {
      this.textKey = continuationKey(format, text);
      this.previousEndsWithBackslash = text.endsWith("\\");
      return true;
    }
    if (format === "qemu") {
      // libvirt prints the QEMU command line one argument per line, each ending in " \\", right after "starting up".
      const afterStartup = this.current.lineCount === 1 && text.endsWith("\\") && (this.current.lines[0]?.includes("starting up") ?? false);
      const continues = this.previousEndsWithBackslash || afterStartup;
      this.previousEndsWithBackslash = text.endsWith("\\");
      return !continues;
    }
    if (format === "generic" || format === "journal-json") {
      return !(format === "generic" && /^(\s|Traceback \(most recent call last\)|Caused by: )/.test(text));
    }
    if (!isHeaderLine(format, text)) return false;
    const key = continuationKey(format, text);
    // A Python traceback written line by line to stderr (journal, pebble, mod_wsgi) by the same process:
    // its indented lines and its closing "SomeError: …" line belong to the record that opened it.
    if (key !== null && this.textKey !== null && sourceOf(key) === sourceOf(this.textKey)) {
      const inner = innerText(format, text);
      // Raw text after an oslo record from the same process is that record's multi-line message (as in a file).
      const rawAfterOslo = key.endsWith("|") && !this.textKey.endsWith("|");
      if (rawAfterOslo || /^\s/.test(inner) || inner.startsWith("Traceback (most recent call last)") || (this.inTraceback && /^[\w.]+(?:Error|Exception|Exit|Interrupt|Warning|Failure)\b/.test(inner))) {
        if (inner.startsWith("Traceback (most recent call last)")) this.inTraceback = true;
        return false;
      }
    }
    if (key !== null && key === this.textKey && continuesInner(format, text)) return false;
    this.textKey = key;
    this.inTraceback = text.includes("Traceback (most recent call last)");
    return true;
  }
}
/** Offsets into a journal line's text (its first 600 characters) of the parts its continuation key is made of. */
export class JournalOsloParts {
  /** "host ident[pid]" */
  sourceStart = 0;
  sourceEnd = 0;
  /** The inner oslo line. */
  innerStart = 0;
  /** The end of its "ts pid"; -1 for a devstack line, which has none. */
  tsPidEnd = 0;
  loggerStart = 0;
  loggerEnd = 0;
  /** After the logger and its space: a context bracket here opens a record. */
  restStart = 0;
  /** The inner level is DEBUG, INFO, AUDIT or TRACE: the record is not severe. */
  quiet = false;
}

function isUpper(c: number | undefined): boolean {
  return c !== undefined && c >= 65 && c <= 90;
}

function isLower(c: number | undefined): boolean {
  return c !== undefined && c >= 97 && c <= 122;
}

/** "YYYY-MM-DD HH:MM:SS" at `p`, every digit checked: the inner oslo line's time, as a regular expression reads it. */
function isStrictIsoTime(buf: Buffer, p: number): boolean {
  for (let i = 0; i < 19; i++) {
    const c = buf[p + i];
    const ok = i === 4 || i === 7 ? c === 45 : i === 10 ? c === SPACE : i === 13 || i === 16 ? c === 58 : isDigit(c);
    if (!ok) return false;
  }
  return true;
}

/** Whether byte `byte` is at `p`, before `limit`. */
function byteIs(buf: Buffer, p: number, limit: number, byte: number): boolean {
  return p < limit && buf[p] === byte;
}

/** Past a run of digits (at most `max`) from `p`; -1 when there is none or it is longer. */
function skipDigits(buf: Buffer, p: number, limit: number, max = Infinity): number {
  const start = p;
  while (p < limit && isDigit(buf[p])) p++;
  return p === start || p - start > max ? -1 : p;
}

/** Past a run of header-token bytes (printable ASCII but the space) from `p`, stopping at `stop` too. */
function skipToken(buf: Buffer, p: number, limit: number, stop = -1, stop2 = -1): number {
  while (p < limit) {
    const c = buf[p] as number;
    if (c <= SPACE || c >= 127 || c === stop || c === stop2) break;
    p++;
  }
  return p;
}

/**
 * Finds the parts of "Mmm dd HH:MM:SS[.ffffff] host ident[pid]: YYYY-MM-DD HH:MM:SS[.fff] pid LEVEL logger …"
 * (oslo.log writing to stderr under systemd) or "… ident[pid]: LEVEL logger …" (devstack) within the
 * line's first 600 bytes, as textOpens' regular expressions see it; false for any other shape, which they
 * read. Only a shape they read exactly the same way passes: header tokens of printable ASCII, no "[" starting
 * the host, no carriage return (where their "." stops).
 */
export function readJournalOslo(buf: Buffer, s: number, e: number, text: string, out: JournalOsloParts): boolean {
  const limit = Math.min(e, s + 600);
  if (limit - s < 48) return false;
  // "Mmm dd HH:MM:SS": fixed places, all before the limit.
  if (!isUpper(buf[s]) || !isLower(buf[s + 1]) || !isLower(buf[s + 2]) || buf[s + 3] !== SPACE || !(buf[s + 4] === SPACE || isDigit(buf[s + 4])) || !isDigit(buf[s + 5]) || buf[s + 6] !== SPACE) return false;
  if (!isDigit(buf[s + 7]) || !isDigit(buf[s + 8]) || buf[s + 9] !== 58 || !isDigit(buf[s + 10]) || !isDigit(buf[s + 11]) || buf[s + 12] !== 58 || !isDigit(buf[s + 13]) || !isDigit(buf[s + 14])) return false;
  let p = s + 15;
  if (buf[p] === 46 && (p = skipDigits(buf, p + 1, limit, 6)) < 0) return false;
  if (!byteIs(buf, p, limit, SPACE) || byteIs(buf, p + 1, limit, 91)) return false;
  // "host ident[pid]: "
  const sourceStart = ++p;
  p = skipToken(buf, p, limit);
  if (p === sourceStart || !byteIs(buf, p, limit, SPACE)) return false;
  const identStart = ++p;
  p = skipToken(buf, p, limit, 91, 58);
  if (p === identStart || !byteIs(buf, p, limit, 91) || (p = skipDigits(buf, p + 1, limit)) < 0 || !byteIs(buf, p, limit, 93)) return false;
  const sourceEnd = ++p;
  if (!byteIs(buf, p, limit, 58) || !byteIs(buf, p + 1, limit, SPACE)) return false;
  // "YYYY-MM-DD HH:MM:SS[.fff] pid LEVEL logger"
  const innerStart = (p += 2);
  let tsPidEnd = -1;
  let loggerStart: number;
  let level: string;
  if (isDigit(buf[p])) {
    // "YYYY-MM-DD HH:MM:SS[.fff] pid LEVEL logger", as oslo.log writes it to stderr.
    if (limit - p < 24 || !isStrictIsoTime(buf, p)) return false;
    p += 19;
    if (buf[p] === 46 && (p = skipDigits(buf, p + 1, limit)) < 0) return false;
    if (!byteIs(buf, p, limit, SPACE) || (p = skipDigits(buf, p + 1, limit)) < 0 || !byteIs(buf, p, limit, SPACE)) return false;
    tsPidEnd = p;
    const levelStart = ++p;
    p = skipToken(buf, p, limit);
    if (p === levelStart || !byteIs(buf, p, limit, SPACE)) return false;
    level = text.slice(levelStart - s, p - s);
    loggerStart = ++p;
    p = skipToken(buf, p, limit);
    // The logger ends the text, or a space follows it.
    if (p === loggerStart || (p < limit && buf[p] !== SPACE)) return false;
    // A key ending in "|" reads as "raw text after an oslo line" to textOpens.
    if (buf[p - 1] === 124) return false;
  } else {
    // "LEVEL logger", as devstack's journal has it: the logger is [a-z][\w.]*, whatever follows.
    const levelStart = p;
    p = skipToken(buf, p, limit);
    level = text.slice(levelStart - s, p - s);
    if (!byteIs(buf, p, limit, SPACE) || !bareLevels.has(level)) return false;
    loggerStart = ++p;
    if (p >= limit || !isLower(buf[p])) return false;
    while (p < limit && (isWordChar(buf[p] as number) || buf[p] === 46)) p++;
  }
  if (text.includes("\r")) return false;
  out.sourceStart = sourceStart - s;
  out.sourceEnd = sourceEnd - s;
  out.innerStart = innerStart - s;
  out.tsPidEnd = tsPidEnd < 0 ? -1 : tsPidEnd - s;
  out.loggerStart = loggerStart - s;
  out.loggerEnd = p - s;
  out.restStart = p < limit && buf[p] === SPACE ? p + 1 - s : p - s;
  out.quiet = quietLevels.has(level);
  return true;
}

/** Levels that no parser reads as WARNING or worse, whether with the oslo time before them or bare. */
const quietLevels = new Set(["DEBUG", "INFO", "AUDIT", "TRACE"]);

/** The levels devstack's journal lines start with (textOpens' innerBare). */
const bareLevels = new Set(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "TRACE"]);

const syslogPrefix = /^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\dT\S+|\d{10}\.\d{6}) (\[[\w.-]+\]|\S+ [^\s[:]+(?:\[\d+\])?):? ?(.*)$/;
const innerOslo = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \d+) \S+ (\S+) ?(.*)$/;
const innerBare = /^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL|TRACE) ([a-z][\w.]*) ?(.*)$/;

let prefixText: string | null = null;
let prefixMatch: RegExpExecArray | null = null;

/** The syslog prefix match of a line, kept for the next call: deciding where a record starts asks up to three times. */
function syslogPrefixOf(text: string): RegExpExecArray | null {
  if (text !== prefixText) {
    prefixText = text;
    prefixMatch = syslogPrefix.exec(text);
  }
  return prefixMatch;
}

/** Journal and syslog lines continue a record when the same process logs the next traceback line. */
function continuationKey(format: FormatName, text: string): string | null {
  if (format !== "syslog" && format !== "httpd") return null;
  if (format === "httpd") return /\[pid (\d+)/.exec(text)?.[1] ?? null;
  const m = syslogPrefixOf(text);
  if (!m) return null;
  const inner = m[2] ?? "";
  const oslo = innerOslo.exec(inner);
  if (oslo) return `${m[1]}|${oslo[1]}|${oslo[2]}`;
  const bare = innerBare.exec(inner);
  if (bare) return `${m[1]}|${bare[1]}`;
  return `${m[1]}|`;
}

/** The process part of a continuation key ("host ident[pid]", "[container]", an httpd pid). */
function sourceOf(key: string): string {
  const bar = key.indexOf("|");
  return bar < 0 ? key : key.slice(0, bar);
}

/** The message after the journal, syslog, pebble or httpd prefix. */
function innerText(format: FormatName, text: string): string {
  // httpd: every "[…] " group before the message (time, module:level, pid, remote) is prefix.
  if (format === "httpd") return /^(?:\[[^\]]*\] )+(.*)$/.exec(text)?.[1] ?? "";
  return syslogPrefixOf(text)?.[2] ?? "";
}

function continuesInner(format: FormatName, text: string): boolean {
  if (format === "httpd") {
    return /^(\s|Traceback \(most recent call last\))/.test(innerText(format, text));
  }
  const inner = syslogPrefixOf(text)?.[2] ?? "";
  if (/^\s/.test(inner)) return true;
  const oslo = innerOslo.exec(inner) ?? innerBare.exec(inner);
  if (!oslo) return false;
  const rest = oslo[oslo.length - 1] ?? "";
  return !rest.startsWith("[") || rest.startsWith("[instance: ");
}
