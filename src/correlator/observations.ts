// What the correlator notes while the scan runs: accepted API requests, domain names, error records.
import { detach, type LogRecord } from "../model.js";
import { hashOfId, isDigit } from "../parser/assemble.js";
import { linesPerIdPerSource } from "./index.js";
import type { LogRule } from "../ruleset/rule.js";

/** One slot per field of an accepted request: two id hashes (-1: none), its time (NaN: none), its file, its line. */
const slots = 5;

/** A request id as nova writes it: "req-" and a lowercase UUID, which packs into four u32 words. */
const canonicalRequestId = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function hex8(word: number): string {
  return word.toString(16).padStart(8, "0");
}

/**
 * The server creations an API accepted, as numbers. A busy API accepts tens of thousands, and as objects
 * with all their strings they were a quarter of a 2 GiB scan's memory; the few that request-lost reports
 * are read again from their log for the rest of their text. Each keeps its first request id, in four
 * words, so a finding keeps its id even if its line cannot be read again: as strings those ids were a
 * third of the live heap of a 5 GiB scan, and V8 keeps headroom over all that is live.
 */
export class ApiRequests {
  private data = new Float64Array(slots * 1024);
  private idWords = new Uint32Array(4 * 1024);
  /** The rare first ids that are not canonical, by request index. */
  private oddIds = new Map<number, string>();
  length = 0;

  add(idHashes: number[], time: number | null, sourceIndex: number, line: number, firstId: string): void {
    if ((this.length + 1) * slots > this.data.length) this.grow(this.length * 2);
    const at = this.length * slots;
    this.data[at] = idHashes[0] ?? -1;
    this.data[at + 1] = idHashes[1] ?? -1;
    this.data[at + 2] = time ?? Number.NaN;
    this.data[at + 3] = sourceIndex;
    this.data[at + 4] = line;
    if (canonicalRequestId.test(firstId)) {
      const hex = firstId.slice(4).replaceAll("-", "");
      for (let w = 0; w < 4; w++) this.idWords[this.length * 4 + w] = parseInt(hex.slice(w * 8, w * 8 + 8), 16);
    } else {
      this.oddIds.set(this.length, detach(firstId));
    }
    this.length++;
  }

  private grow(requests: number): void {
    const data = new Float64Array(requests * slots);
    data.set(this.data.subarray(0, this.length * slots));
    this.data = data;
    const words = new Uint32Array(requests * 4);
    words.set(this.idWords.subarray(0, this.length * 4));
    this.idWords = words;
  }

  /** Request `i`'s first request id, rebuilt from its words: only request-lost's fallback needs it. */
  firstIdOf(i: number): string {
    const odd = this.oddIds.get(i);
    if (odd !== undefined) return odd;
    const h = [0, 1, 2, 3].map((w) => hex8(this.idWords[i * 4 + w] as number)).join("");
    return `req-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** Request `i`'s first or second id hash, -1 when it has none: request-lost asks this of every request, so no object is made. */
  hashOf(i: number, k: 0 | 1): number {
    return this.data[i * slots + k] as number;
  }

  /** Every request's id hashes, into `out`. */
  addHashesTo(out: Set<number>): void {
    for (let at = 0; at < this.length * slots; at += slots) {
      const first = this.data[at] as number;
      const second = this.data[at + 1] as number;
      if (first >= 0) out.add(first);
      if (second >= 0) out.add(second);
    }
  }

  /** Request `i`: its id hashes, time, file and line. */
  get(i: number): { idHashes: number[]; time: number | null; sourceIndex: number; line: number } {
    const at = i * slots;
    const idHashes = [this.data[at] as number, this.data[at + 1] as number].filter((h) => h >= 0);
    const time = this.data[at + 2] as number;
    return { idHashes, time: Number.isNaN(time) ? null : time, sourceIndex: this.data[at + 3] as number, line: this.data[at + 4] as number };
  }

  /** The columns, trimmed, to cross from a worker thread. */
  export(): ApiRequestColumns {
    return { numbers: this.data.slice(0, this.length * slots), idWords: this.idWords.slice(0, this.length * 4), oddIds: [...this.oddIds] };
  }

  merge(columns: ApiRequestColumns): void {
    const count = columns.numbers.length / slots;
    if (this.length + count > this.data.length / slots) this.grow(Math.max(this.length + count, this.length * 2));
    this.data.set(columns.numbers, this.length * slots);
    this.idWords.set(columns.idWords, this.length * 4);
    for (const [i, id] of columns.oddIds) this.oddIds.set(this.length + i, id);
    this.length += count;
  }

  /** In file and line order, as one thread reads them (request-lost reports in this order). */
  sort(): void {
    const order = Array.from({ length: this.length }, (_, i) => i);
    const d = this.data;
    order.sort((a, b) => (d[a * slots + 3] as number) - (d[b * slots + 3] as number) || (d[a * slots + 4] as number) - (d[b * slots + 4] as number));
    const sorted = new Float64Array(d.length);
    const words = new Uint32Array(this.idWords.length);
    const oddIds = new Map<number, string>();
    order.forEach((from, to) => {
      sorted.set(d.subarray(from * slots, from * slots + slots), to * slots);
      words.set(this.idWords.subarray(from * 4, from * 4 + 4), to * 4);
      const odd = this.oddIds.get(from);
      if (odd !== undefined) oddIds.set(to, odd);
    });
    this.data = sorted;
    this.idWords = words;
    this.oddIds = oddIds;
  }
}

/** Counts a part's request lines on from the parts of its file before it. */
export function shiftRequestLines(columns: ApiRequestColumns, by: number): void {
  for (let at = 4; at < columns.numbers.length; at += slots) columns.numbers[at] = (columns.numbers[at] as number) + by;
}

export interface ApiRequestColumns {
  numbers: Float64Array;
  idWords: Uint32Array;
  oddIds: [number, string][];
}

/** The line of an accepted server creation: nova ≥ Pike under uwsgi/httpd, or eventlet's with HTTP/1.1. */
export const apiCreationPattern = String.raw`"(?<method>POST) (?<url>/v2(?:\.1)?/(?:[0-9a-f]{32}/)?servers)(?: HTTP/1\.[01])?" status: (?<status>202)`;

const apiCreation = new RegExp(apiCreationPattern, "m");

/** What the correlator keeps of an accepted server creation. */
export interface AcceptedCreation {
  time: number;
  requestIds: string[];
}

/**
 * An accepted creation read from the text of a one-line oslo INFO record, for the shape nova-api writes
 * ("ts pid INFO logger [req-… …] ip "POST /v2.1/servers" status: 202 …"): the time and request ids
 * that decoding the record would give. Null for anything else, which is decoded as every record is: a
 * byte that is not printable ASCII, a line over 4 KiB, a fraction other than milliseconds, no context
 * bracket, or a message that could hold an id or an escape of its own ("req-", "nstance", "uuid", "\\u").
 */
export function readAcceptedCreation(line: string): AcceptedCreation | null {
  // "YYYY-MM-DD HH:MM:SS.mmm pid INFO logger [": the positions parseOslo's regular expression accepts.
  if (line.length < 40 || line.length > 4096 || nonAscii.test(line) || !osloMillisTime.test(line)) return null;
  const pidEnd = line.indexOf(" ", 24);
  if (pidEnd <= 24 || !line.startsWith(" INFO ", pidEnd)) return null;
  for (let i = 24; i < pidEnd; i++) if (!isDigit(line.charCodeAt(i))) return null;
  const loggerEnd = line.indexOf(" ", pidEnd + 6);
  if (loggerEnd <= pidEnd + 6 || line.charCodeAt(loggerEnd + 1) !== 91 || line.startsWith("[instance: ", loggerEnd + 1)) return null;
  const close = line.indexOf("]", loggerEnd + 1);
  if (close < 0) return null;
  // The message (less the space decoding strips, which neither test minds); "nstance" also stands for its "[instance: " prefix.
  const message = line.slice(close + 1);
  if (mayHoldIds.test(message) || !apiCreation.test(message)) return null;
  const requestIds = line
    .slice(loggerEnd + 2, close)
    .split(" ")
    .filter((t) => t.startsWith("req-"));
  const digits = (from: number, to: number) => Number(line.slice(from, to));
  const time = Date.UTC(digits(0, 4), digits(5, 7) - 1, digits(8, 10), digits(11, 13), digits(14, 16), digits(17, 19), digits(20, 23));
  return Number.isNaN(time) ? null : { time, requestIds };
}

/** Printable ASCII only: no byte for UTF-8 to decode, no tab for the header's regular expression to stop at. */
const nonAscii = /[^\x20-\x7e]/;
const osloMillisTime = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \d/;
const mayHoldIds = /req-|nstance|uuid|\\u/;

function internalRule(id: string, hints: string[], pattern: string): LogRule {
  return {
    kind: "log",
    id,
    file: "(built in)",
    title: { en: id, "zh-CN": id },
    severity: "info",
    severityAlone: null,
    layer: "service",
    explains: [],
    remediation: { en: "", "zh-CN": "" },
    references: [],
    where: { component: null, level: null, logger: null },
    hints,
    any: [new RegExp(pattern, "m")],
    all: [],
    not: [],
    examples: { positive: [], negative: [], knownGaps: [] },
  };
}

/** Lines the correlator needs decoded although no rule reports them. */
export function observationRules(): LogRule[] {
  return [
    // nova ≥ Pike under uwsgi/httpd: '10.0.0.5 "POST /v2.1/servers" status: 202 len: …'; eventlet adds HTTP/1.1.
    // Only creations that the API accepted: the hints name the 202, so other requests are never decoded.
    internalRule("_api-request", ['/servers" status: 202', "/servers HTTP/1.1\" status: 202", "/servers HTTP/1.0\" status: 202"], apiCreationPattern),
  ];
}

/** A domain's mentions in one file: its first and last lines, as many as the index lookup keeps per id and file. */
export interface MentionRun {
  name: string;
  sourceIndex: number;
  first: number[];
  last: number[];
}

/**
 * Where libvirt lines name a domain, to index them under its UUID once it is known. The index lookup
 * keeps an id's first and last `linesPerIdPerSource` lines in each file, so those are all a domain's
 * mentions need: memory is bounded by domains and files, not by lines, and a file's runs do not depend
 * on which thread read it.
 */
export class DomainMentions {
  private readonly runs = new Map<string, MentionRun>();

  note(name: string, sourceIndex: number, line: number): void {
    const key = `${sourceIndex}|${name}`;
    let run = this.runs.get(key);
    if (!run) this.runs.set(key, (run = { name, sourceIndex, first: [], last: [] }));
    if (run.first.length < linesPerIdPerSource) run.first.push(line);
    else {
      run.last.push(line);
      if (run.last.length > linesPerIdPerSource) run.last.shift();
    }
  }

  export(): MentionRun[] {
    return [...this.runs.values()];
  }

  /** Another thread's runs: a file is read by one thread, so runs never overlap. */
  merge(runs: MentionRun[]): void {
    for (const run of runs) this.runs.set(`${run.sourceIndex}|${run.name}`, run);
  }

  /** Indexes every kept mention under its domain's UUID, once QEMU's logs gave it. */
  indexInto(index: { add(hash: number, source: number, line: number): void }, domains: Map<string, string>): void {
    for (const m of this.list()) {
      const uuid = domains.get(m.name);
      if (uuid) index.add(hashOfId(uuid), m.sourceIndex, m.line);
    }
  }

  /** Every kept mention, file by file and line by line, as one thread would have met them. */
  list(): { name: string; sourceIndex: number; line: number }[] {
    const out = [...this.runs.values()].flatMap((run) => [...run.first, ...run.last].map((line) => ({ name: run.name, sourceIndex: run.sourceIndex, line })));
    return out.sort((a, b) => a.sourceIndex - b.sourceIndex || a.line - b.line);
  }
}

export class Observations {
  readonly apiRequests = new ApiRequests();
  /** nova's domain names (instance-0000000a) and the UUIDs QEMU logs give them. */
  readonly domains = new Map<string, string>();
  readonly domainMentions = new DomainMentions();
  /** Hashes of the ids that ERROR and CRITICAL records carry. */
  readonly errorIdHashes = new Set<number>();

  merge(other: { apiRequests: ApiRequestColumns; domains: Map<string, string>; domainMentions: MentionRun[]; errorIdHashes: Set<number> }): void {
    // A worker may send hundreds of thousands of entries: no spread arguments, which blow the stack.
    this.apiRequests.merge(other.apiRequests);
    for (const [name, uuid] of other.domains) this.noteDomain(name, uuid);
    this.domainMentions.merge(other.domainMentions);
    for (const h of other.errorIdHashes) this.errorIdHashes.add(h);
  }

  add(ruleId: string, record: LogRecord, sourceIndex: number): void {
    if (ruleId === "_api-request") this.addAcceptedRequest(record.requestIds, record.time, sourceIndex, record.line);
  }

  /** An accepted server creation, decoded or read the short way (readAcceptedCreation); one without a request id says nothing. */
  addAcceptedRequest(requestIds: string[], time: number | null, sourceIndex: number, line: number): void {
    if (requestIds.length === 0) return;
    this.apiRequests.add(requestIds.slice(0, 2).map(hashOfId), time, sourceIndex, line, requestIds[0] as string);
  }

  noteDomain(name: string, uuid: string): void {
    if (!this.domains.has(name)) this.domains.set(name, uuid);
  }

  noteError(record: LogRecord): void {
    for (const id of [...record.requestIds, ...record.instanceIds]) {
      const h = hashOfId(id);
      if (h >= 0) this.errorIdHashes.add(h);
    }
  }
}
