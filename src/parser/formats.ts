// The line formats cloudtriage reads: how a record starts, and what its first line says.
import type { Level } from "../model.js";
import {
  componentFromUnit,
  levelFromPriority,
  normaliseLevel,
  parseEpochMicros,
  parseIsoTime,
  parseSyslogTime,
  stripAnsi,
  type ParsedTime,
} from "./fields.js";

export type FormatName =
  | "oslo"
  | "libvirt"
  | "qemu"
  | "syslog"
  | "journal-json"
  | "httpd"
  | "zstack"
  | "kvmagent"
  | "rabbitmq"
  | "mysql"
  | "generic";

/** What the first line of a record says. Everything is optional: a generic line may give nothing. */
export interface LineHead {
  time: ParsedTime | null;
  level: Level | null;
  logger: string | null;
  pid: number | null;
  host: string | null;
  /** A component the line itself names (journal identifier or unit). */
  component: string | null;
  requestIds: string[];
  globalRequestId: string | null;
  instanceIds: string[];
  message: string;
}

export interface ParseContext {
  /** Gives the year to syslog times. */
  referenceMs: number;
}

function emptyHead(message: string): LineHead {
  return { time: null, level: null, logger: null, pid: null, host: null, component: null, requestIds: [], globalRequestId: null, instanceIds: [], message };
}

// oslo.log: "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s [ctx] %(instance)s%(message)s"
const osloHead = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) (\d+) (TRACE|DEBUG|INFO|AUDIT|WARNING|WARN|ERROR|CRITICAL) (\S+)(?: (.*))?$/;
// devstack's journal lines drop the time and pid: "ERROR nova.compute.manager [None req-…] …"
const osloBare = /^(DEBUG|INFO|AUDIT|WARNING|ERROR|CRITICAL|TRACE) ([a-z][\w.]*) (\[.*)$/;
const instancePrefix = /^\[instance: ([0-9a-f-]{36})\] ?/;
// DEBUG lines end with "funcName /path/to/file.py:123"; devstack's with "{{(pid=N) func path:line}}".
const debugSuffix = /(?: \{\{\(pid=\d+\) \S+ \S+:\d+\}\}| [\w<>]+ \/\S+\.py:\d+)$/;

function parseOsloRest(head: LineHead, rest: string): void {
  let text = rest;
  if (text.startsWith("[") && !text.startsWith("[instance: ")) {
    const close = text.indexOf("]");
    if (close > 0) {
      const tokens = text.slice(1, close).split(" ");
      const reqs = tokens.filter((t) => t.startsWith("req-"));
      head.requestIds = reqs;
      if (reqs.length >= 2 && tokens[0]?.startsWith("req-") && tokens[1]?.startsWith("req-")) head.globalRequestId = tokens[0];
      text = text.slice(close + 1).replace(/^ /, "");
    }
  }
  const inst = instancePrefix.exec(text);
  if (inst?.[1]) {
    head.instanceIds = [inst[1]];
    text = text.slice(inst[0].length);
  }
  if (head.level === "DEBUG") text = text.replace(debugSuffix, "");
  head.message = text;
}

export function parseOslo(line: string): LineHead | null {
  const m = osloHead.exec(line);
  if (!m) return null;
  const head = emptyHead("");
  head.time = parseIsoTime(m[1] ?? "");
  head.pid = Number(m[2]);
  head.level = normaliseLevel(m[3]);
  head.logger = m[4] ?? null;
  parseOsloRest(head, m[5] ?? "");
  return head;
}

function parseOsloBare(line: string): LineHead | null {
  const m = osloBare.exec(line);
  if (!m) return null;
  const head = emptyHead("");
  head.level = normaliseLevel(m[1]);
  head.logger = m[2] ?? null;
  parseOsloRest(head, m[3] ?? "");
  return head;
}

// libvirt daemon: "2019-01-01 10:00:00.123+0000: 1234: error : qemuProcessReportLogError:1914 : msg"
const libvirtHead = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+[+-]\d{4}): (\d+): (debug|info|warning|error) : (?:([A-Za-z_]\w*):\d+ : )?(.*)$/;
// libvirt ≈0.7–0.8 wrote local time without a date.
const libvirtOldHead = /^(\d\d:\d\d:\d\d\.\d{3}): (\d+): (debug|info|warning|error) : (?:([A-Za-z_]\w*):\d+ : )?(.*)$/;

function parseLibvirt(line: string): LineHead | null {
  const m = libvirtHead.exec(line) ?? libvirtOldHead.exec(line);
  if (!m) return null;
  const head = emptyHead(m[5] ?? "");
  head.time = m[1] && m[1].length > 12 ? parseIsoTime(m[1]) : null;
  head.pid = Number(m[2]);
  head.level = normaliseLevel(m[3]);
  head.logger = m[4] ?? null;
  const hostname = /^hostname: (\S+)$/.exec(head.message);
  if (hostname?.[1]) head.host = hostname[1];
  return head;
}

// Per-domain QEMU log: libvirt's own lines, QEMU's "-msg timestamp=on" lines, bare stderr.
const qemuLibvirtLine = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d{1,2}\.\d+[+-]\d{4}): (.*)$/;
const qemuStamped = /^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\.\d+Z) (.*)$/;

function parseQemu(line: string): LineHead | null {
  let m = qemuLibvirtLine.exec(line);
  const head = emptyHead(line);
  if (m) {
    head.time = parseIsoTime((m[1] ?? "").replace(/:(\d)\./, ":0$1."));
    head.message = m[2] ?? "";
    head.level = "INFO";
  } else if ((m = qemuStamped.exec(line))) {
    head.time = parseIsoTime(m[1] ?? "");
    head.message = m[2] ?? "";
  }
  const binary = /^(qemu-kvm|qemu-system-\w+|kvm): (warning: )?/.exec(head.message);
  if (binary?.[2]) head.level = "WARNING";
  const hostname = /hostname: (\S+)$/.exec(head.message);
  if (hostname?.[1] && head.message.includes("starting up")) head.host = hostname[1].split(".")[0] ?? null;
  return head;
}

// journalctl short / short-precise, and classic syslog (space-padded day).
const syslogHead = /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d{1,6})?) (\S+) ([^\s[:]+)(?:\[(\d+)\])?: ?(.*)$/;
// journalctl short-iso / short-iso-precise (old systemd printed +0000, new +00:00).
const journalIsoHead = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:?\d\d)) (\S+) ([^\s[:]+)(?:\[(\d+)\])?: ?(.*)$/;
const journalUnixHead = /^(\d{10})\.(\d{6}) (\S+) ([^\s[:]+)(?:\[(\d+)\])?: ?(.*)$/;
// Sunbeam/pebble (kubectl logs): "2025-05-14T07:10:35.743Z [nova-conductor] <the service's own line>"
export const pebbleHead = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) \[([\w.-]+)\] (.*)$/;

function parseSyslog(line: string, ctx: ParseContext): LineHead | null {
  let time: ParsedTime | null = null;
  let host: string | undefined;
  let ident: string | undefined;
  let pid: string | undefined;
  let message: string | undefined;
  let m = syslogHead.exec(line);
  if (m) {
    time = parseSyslogTime(m[1] ?? "", ctx.referenceMs);
    [, , host, ident, pid, message] = m;
  } else if ((m = journalIsoHead.exec(line))) {
    time = parseIsoTime(m[1] ?? "");
    [, , host, ident, pid, message] = m;
  } else if ((m = journalUnixHead.exec(line))) {
    time = parseEpochMicros(`${m[1]}${m[2]}`);
    [, , , host, ident, pid, message] = m;
  } else if ((m = pebbleHead.exec(line))) {
    time = parseIsoTime(m[1] ?? "");
    [, , ident, message] = m;
  } else {
    return null;
  }
  const outer = emptyHead(message ?? "");
  outer.time = time;
  outer.host = host ?? null;
  outer.component = componentFromUnit(ident);
  outer.pid = pid ? Number(pid) : null;
  return refineWithInner(outer, ctx);
}

/** When a journal or syslog MESSAGE is itself an oslo or libvirt line, the inner line knows more. */
export function refineWithInner(outer: LineHead, ctx: ParseContext): LineHead {
  const text = stripAnsi(outer.message);
  // A journal entry's MESSAGE may hold a whole record (oslo.log's journal handler sends the traceback
  // with it): its first line is the one with the header, and the rest stays part of the message.
  const nl = text.indexOf("\n");
  const head = nl < 0 ? text : text.slice(0, nl);
  const inner = parseOslo(head) ?? parseOsloBare(head) ?? parseLibvirt(head) ?? parseLevelledText(head, ctx);
  if (!inner) {
    outer.message = text;
    return outer;
  }
  if (nl >= 0) inner.message += text.slice(nl);
  return {
    time: inner.time ?? outer.time,
    level: inner.level ?? outer.level,
    logger: inner.logger ?? outer.logger,
    pid: outer.pid ?? inner.pid,
    host: outer.host ?? inner.host,
    component: outer.component ?? inner.component,
    requestIds: inner.requestIds,
    globalRequestId: inner.globalRequestId,
    instanceIds: inner.instanceIds,
    message: inner.message,
  };
}

// horizon under mod_wsgi prints "%(levelname)s %(name)s %(message)s" to stderr.
const levelledText = /^(DEBUG|INFO|WARNING|ERROR|CRITICAL) ([a-z][\w.]*) (.*)$/;

function parseLevelledText(text: string, _ctx: ParseContext): LineHead | null {
  const m = levelledText.exec(text);
  if (!m) return null;
  const head = emptyHead(m[3] ?? "");
  head.level = normaliseLevel(m[1]);
  head.logger = m[2] ?? null;
  return head;
}

function parseJournalJson(line: string, ctx: ParseContext): LineHead | null {
  if (!line.startsWith("{")) return null;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof entry !== "object" || entry === null) return null;
  const field = (name: string): string | undefined => {
    const value = entry[name];
    if (typeof value === "string") return value;
    if (Array.isArray(value) && value.every((v) => typeof v === "number")) return Buffer.from(value as number[]).toString("utf8");
    if (Array.isArray(value) && typeof value[0] === "string") return value[0];
    return undefined;
  };
  const raw = entry.MESSAGE;
  let message = field("MESSAGE");
  if (message === undefined) {
    // journalctl -o json prints null for a field over 4096 bytes; oslo.log's journal handler also sends
    // the traceback as EXCEPTION_INFO, which often survives, so the failure text is not lost.
    const exception = field("EXCEPTION_INFO") ?? field("EXCEPTION_TEXT");
    message = raw === null ? `[MESSAGE larger than journalctl's 4096-byte limit; run journalctl with --all]${exception ? `\n${exception}` : ""}` : (exception ?? "");
  }
  const outer = emptyHead(message);
  const realtime = field("__REALTIME_TIMESTAMP");
  outer.time = realtime ? parseEpochMicros(realtime) : null;
  outer.host = field("_HOSTNAME") ?? null;
  outer.component = componentFromUnit(field("SYSLOG_IDENTIFIER") ?? field("_SYSTEMD_UNIT") ?? field("_COMM"));
  const pid = field("_PID") ?? field("SYSLOG_PID");
  outer.pid = pid ? Number(pid) : null;
  outer.level = levelFromPriority(field("PRIORITY"));
  const refined = refineWithInner(outer, ctx);
  if (refined.level === null) refined.level = outer.level;
  // oslo.log's journal handler sends the logger and request id as fields too: they survive a null MESSAGE.
  refined.logger ??= field("LOGGER_NAME") ?? null;
  const requestId = field("REQUEST_ID");
  if (requestId?.startsWith("req-") && !refined.requestIds.includes(requestId)) refined.requestIds = [...refined.requestIds, requestId];
  return refined;
}

// Apache httpd 2.4: "[Thu Nov 19 00:23:02.663867 2015] [wsgi:error] [pid 15:tid 140219478353664] [remote 172.17.0.1:59754] msg"
const httpdHead = /^\[(?:\w{3} )?(\w{3}) ([ \d]\d) (\d\d:\d\d:\d\d)(?:\.(\d+))? (\d{4})\] \[(?:([\w-]*):)?(\w+)\] (?:\[pid (\d+)(?::tid \d+)?\] )?(?:\[(?:client|remote) [^\]]+\] )?(.*)$/;
// keystone's vhost: ErrorLogFormat "%{cu}t %M"
const httpdKeystoneHead = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}) (.*)$/;

function parseHttpd(line: string, ctx: ParseContext): LineHead | null {
  const m = httpdHead.exec(line);
  if (m) {
    const [, mon, day, clock, frac, year, module, level, pid, message] = m;
    const time = parseSyslogTime(`${mon} ${day} ${clock}${frac ? `.${frac}` : ""}`, Date.UTC(Number(year), 11, 31));
    const head = emptyHead(message ?? "");
    if (time) head.time = { time: time.time, timestamp: time.timestamp.replace(/^\d{4}/, year ?? "") };
    head.pid = pid ? Number(pid) : null;
    // mod_wsgi logs every stderr line as [wsgi:error] (older: [:error]); only the Python level inside is real.
    const isWsgi = module === "wsgi" || module === "";
    if (!isWsgi) head.level = normaliseLevel(level === "warn" ? "WARNING" : level === "crit" ? "CRITICAL" : level);
    return refineWithInner(head, ctx);
  }
  const k = httpdKeystoneHead.exec(line);
  if (!k) return null;
  const head = emptyHead(k[2] ?? "");
  head.time = parseIsoTime(k[1] ?? "");
  return refineWithInner(head, ctx);
}

// ZStack management server (log4j2): "%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%c{1}] %X{api,task} (%t) %m%n"
const zstackHead = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) +\[([^\]]+)\] (?:(\{[^}]*\}) )?\(([^)]*)\) ?(.*)$/;
// zstack-kvmagent: "%(asctime)s %(thread)d %(levelname)s [%(name)s] %(message)s"
const kvmagentHead = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (\d+) (DEBUG|INFO|WARNING|ERROR|CRITICAL) \[([^\]]+)\] ?(.*)$/;

function parseZstack(line: string): LineHead | null {
  const m = zstackHead.exec(line);
  if (!m) return null;
  const head = emptyHead(m[6] ?? "");
  head.time = parseIsoTime(m[1] ?? "");
  head.level = normaliseLevel(m[2]);
  head.logger = m[3] ?? null;
  return head;
}

function parseKvmagent(line: string): LineHead | null {
  const m = kvmagentHead.exec(line);
  if (!m) return null;
  const head = emptyHead(m[5] ?? "");
  head.time = parseIsoTime(m[1] ?? "");
  head.level = normaliseLevel(m[3]);
  head.logger = m[4] ?? null;
  return head;
}

// RabbitMQ 3.7+: "2019-02-13 10:50:08.774 [error] <0.823.0> msg"; ≤3.6: "=ERROR REPORT==== 3-Apr-2018::15:33:14 ==="
const rabbitHead = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+(?:[+-]\d\d:\d\d)?) \[(\w+)\] (<[\d.]+>) (.*)$/;
const rabbitReport = /^=(\w+) REPORT==== (\d{1,2})-(\w{3})-(\d{4})::(\d\d:\d\d:\d\d) ===$/;

function parseRabbit(line: string, ctx: ParseContext): LineHead | null {
  const m = rabbitHead.exec(line);
  if (m) {
    const head = emptyHead(m[4] ?? "");
    head.time = parseIsoTime(m[1] ?? "");
    head.level = normaliseLevel(m[2]);
    return head;
  }
  const r = rabbitReport.exec(line);
  if (!r) return null;
  const head = emptyHead(line);
  head.level = normaliseLevel(r[1]);
  const time = parseSyslogTime(`${r[3]} ${r[2]} ${r[5]}`, Date.UTC(Number(r[4]), 11, 31));
  if (time) head.time = { time: time.time, timestamp: time.timestamp };
  void ctx;
  return head;
}

// MariaDB ≥10.3 "2020-10-27 18:27:01 512 [Warning] …" (hour space-padded), MySQL 5.7+ "2015-11-28T02:50:01.238745Z 3 [Note] …"
const mysqlHead = /^(\d{4}-\d\d-\d\d[ T] ?\d{1,2}:\d\d:\d\d(?:\.\d+Z?)?) +(\d+) \[(\w+)\] (?:\[MY-\d+\] \[\w+\] )?(.*)$/;

function parseMysql(line: string): LineHead | null {
  const m = mysqlHead.exec(line);
  if (!m) return null;
  const head = emptyHead(m[4] ?? "");
  head.time = parseIsoTime((m[1] ?? "").replace(/ (\d):/, " 0$1:").replace(/ {2}/, " "));
  head.level = normaliseLevel(m[3] === "Note" ? "INFO" : m[3]);
  return head;
}

const leadingTime = /^\[?(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\]?[ :]+(.*)$/;
const genericLevel = /^(?:\[?(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL)\]?[: ])/;

function parseGeneric(line: string, ctx: ParseContext): LineHead {
  const head = emptyHead(line);
  const m = leadingTime.exec(line);
  if (m) {
    head.time = parseIsoTime(m[1] ?? "");
    head.message = m[2] ?? "";
  } else {
    const syslogTime = parseSyslogTime(line, ctx.referenceMs);
    if (syslogTime) head.time = syslogTime;
  }
  const level = genericLevel.exec(head.message);
  if (level) head.level = normaliseLevel(level[1]);
  return head;
}

/** How one format reads a file: which lines open a record, what such a line says, and how it is recognised. */
interface Format {
  /** Whether a line opens a record; lines that do not continue the record before them. */
  opens: (line: string) => boolean;
  /** Reads a first line; null when the line is not of this shape. */
  parse: ((line: string, ctx: ParseContext) => LineHead | null) | null;
  /** Whether a line at a file's start votes for this format; stricter than opens where a shape is shared. */
  detects?: (line: string) => boolean;
}

const always = () => true;
const syslogOpens = (l: string) => syslogHead.test(l) || journalIsoHead.test(l) || journalUnixHead.test(l) || pebbleHead.test(l);

/** Detection tries the formats in this order and a line votes for the first that claims it. */
const formats: Record<FormatName, Format> = {
  "journal-json": {
    opens: always,
    parse: parseJournalJson,
    detects: (l) => l.startsWith("{") && /"(MESSAGE|__CURSOR|__REALTIME_TIMESTAMP|_HOSTNAME|PRIORITY)"/.test(l),
  },
  oslo: { opens: (l) => osloHead.test(l), parse: parseOslo },
  libvirt: { opens: (l) => libvirtHead.test(l) || libvirtOldHead.test(l), parse: parseLibvirt },
  zstack: { opens: (l) => zstackHead.test(l), parse: parseZstack },
  kvmagent: { opens: (l) => kvmagentHead.test(l), parse: parseKvmagent },
  httpd: {
    opens: (l) => httpdHead.test(l) || httpdKeystoneHead.test(l),
    parse: parseHttpd,
    detects: (l) => httpdHead.test(l) || (httpdKeystoneHead.test(l) && l.includes("mod_wsgi")),
  },
  qemu: { opens: always, parse: parseQemu, detects: (l) => qemuLibvirtLine.test(l) && /starting up|shutting down/.test(l) },
  syslog: {
    opens: (l) => syslogOpens(l) || l.startsWith("-- "),
    parse: parseSyslog,
    detects: (l) => syslogOpens(l) || l.startsWith("-- Logs begin") || l.startsWith("-- Journal begins"),
  },
  rabbitmq: { opens: (l) => rabbitHead.test(l) || rabbitReport.test(l), parse: parseRabbit },
  mysql: { opens: (l) => mysqlHead.test(l), parse: parseMysql },
  // Generic has no reading of its own and is what detection falls back to.
  generic: { opens: always, parse: null, detects: () => false },
};

export function parseHead(format: FormatName, line: string, ctx: ParseContext): LineHead {
  const head = formats[format].parse?.(line, ctx) ?? null;
  // Per-line fallback: a line of another shape inside a file is still read for what it says.
  return head ?? parseOslo(line) ?? parseGeneric(line, ctx);
}

/** Whether a line opens a record in this format; lines that do not continue the record before them. */
export function isHeaderLine(format: FormatName, line: string): boolean {
  return formats[format].opens(line);
}

const detectors = Object.entries(formats).map(([name, f]) => [name as FormatName, f.detects ?? f.opens] as const);

/** Picks the format most of the first lines agree on; the path breaks ties for QEMU domain logs. */
export function detectFormat(firstLines: string[], path: string): FormatName {
  if (/(^|\/)(libvirt|containers)\/qemu\/[^/]+$/.test(path)) return "qemu";
  const votes = new Map<FormatName, number>();
  for (const line of firstLines) {
    if (!line.trim()) continue;
    for (const [name, test] of detectors) {
      if (test(line)) {
        votes.set(name, (votes.get(name) ?? 0) + 1);
        break;
      }
    }
  }
  let best: FormatName = "generic";
  let bestVotes = 0;
  for (const [name, count] of votes) {
    if (count > bestVotes) {
      best = name;
      bestVotes = count;
    }
  }
  return best;
}
