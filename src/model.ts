// The data every stage passes on: records from parsers, findings from the engine, the scan result.

export type Severity = "critical" | "error" | "warning" | "info";
export const SEVERITIES: readonly Severity[] = ["critical", "error", "warning", "info"];

/** Levels normalised across formats (libvirt "error" → ERROR, syslog "err" → ERROR, java WARN → WARNING). */
export type Level = "TRACE" | "DEBUG" | "INFO" | "NOTICE" | "WARNING" | "ERROR" | "CRITICAL";

export type Language = "en" | "zh-CN";

/** One log record: a line, or a line with its continuation lines (a traceback, a qemu stderr dump). */
export interface LogRecord {
  /** Display path: relative to the scanned directory, `-` for stdin. */
  path: string;
  /** 1-based line of the first line, counted from bytes of the decompressed file. */
  line: number;
  endLine: number;
  /** ISO 8601 without a zone unless the log states one, e.g. `2024-03-12T10:15:40.027`. */
  timestamp: string | null;
  /** Milliseconds since the epoch for ordering; a zone-less time is read as UTC. */
  time: number | null;
  level: Level | null;
  component: string | null;
  host: string | null;
  logger: string | null;
  pid: number | null;
  /** Local and global request ids, in the order the line gives them. */
  requestIds: string[];
  /** The global request id when the oslo context carries one distinct from the local id. */
  globalRequestId: string | null;
  instanceIds: string[];
  /** Decoded message: the first line's message plus continuation lines with their prefixes removed. */
  message: string;
  /** The record's lines as written (decoded as UTF-8), joined with `\n`. */
  raw: string;
  /** Parser that produced the record (oslo, libvirt, qemu, journal, syslog, httpd, zstack, generic…). */
  format: string;
}

export interface RelatedLine {
  path: string;
  line: number;
  host: string | null;
  component: string | null;
  timestamp: string | null;
  level: string | null;
  message: string;
}

export interface Finding {
  id: string;
  ruleId: string;
  title: string;
  severity: Severity;
  component: string | null;
  host: string | null;
  path: string;
  line: number;
  timestamp: string | null;
  message: string;
  count: number;
  requestIds: string[];
  instanceIds: string[];
  fields: Record<string, string>;
  remediation: string;
  references: string[];
  related: RelatedLine[];
}

export interface Incident {
  id: string;
  requestIds: string[];
  instanceIds: string[];
  findings: string[];
  rootCause: string;
  summary: string;
}

export interface SkippedInput {
  path: string;
  reason: string;
}

export interface ScanSummary {
  files: number;
  lines: number;
  bytes: number;
  findings: number;
  incidents: number;
  bySeverity: Record<Severity, number>;
  skipped: SkippedInput[];
  /** Lines longer than the matching cap: matched on their first bytes only. */
  truncatedLines: number;
  /** Findings hidden by a baseline or a suppressions file. */
  suppressed: number;
}

export interface ScanResult {
  schemaVersion: 1;
  language: Language;
  summary: ScanSummary;
  findings: Finding[];
  incidents: Incident[];
}

/** What reporters may know of a rule (SARIF descriptors, JUnit test cases), in the chosen language. */
export interface RuleInfo {
  id: string;
  title: string;
  severity: Severity;
  remediation: string;
  references: string[];
  layer: string;
}

/**
 * A copy of `text` that does not keep alive the string it was cut from. V8 makes a substring of 13
 * characters or more a view into its parent: an id kept from a decoded line keeps the whole line,
 * and a finding's first line keeps the whole traceback (perf.md §2.3).
 */
export function detach(text: string): string {
  return text.length < 13 ? text : Buffer.from(text, "utf8").toString("utf8");
}

