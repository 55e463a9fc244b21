// Small field extractors shared by the format parsers: times, levels, ids, components, escapes.
import type { Level } from "../model.js";

const months: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

export interface ParsedTime {
  timestamp: string;
  time: number;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** `2024-03-12 10:15:40.027` or `2024-03-12T10:15:40,027+00:00`; a zone suffix is kept in the ISO text. */
export function parseIsoTime(text: string): ParsedTime | null {
  const m = /^(\d{4})-(\d\d)-(\d\d)[ T]([ \d]\d):(\d\d):(\d{1,2})(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)?/.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, "0")) : 0;
  let time = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (Number.isNaN(time)) return null;
  let zoneText = "";
  if (zone && zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.replace(/[+:-]/g, "");
    const offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
    time -= offsetMinutes * 60_000;
    zoneText = offsetMinutes === 0 ? "Z" : `${zone.slice(0, 3)}:${digits.slice(2, 4)}`;
  } else if (zone === "Z") {
    zoneText = "Z";
  }
  const fracText = frac ? `.${frac.slice(0, 6)}` : "";
  const timestamp = `${y}-${mo}-${d}T${pad(Number(h))}:${mi}:${pad(Number(s))}${fracText}${zoneText}`;
  return { timestamp, time };
}

/** Syslog and journal `short` times have no year: take the reference year, or the year before when that would lie ahead. */
export function parseSyslogTime(text: string, referenceMs: number): ParsedTime | null {
  const m = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?/.exec(text);
  if (!m) return null;
  const [, mon, d, h, mi, s, frac] = m;
  const month = months[mon ?? ""];
  if (month === undefined) return null;
  const ref = new Date(referenceMs);
  let year = ref.getUTCFullYear();
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, "0")) : 0;
  let time = Date.UTC(year, month, Number(d), Number(h), Number(mi), Number(s), ms);
  if (time > referenceMs + 2 * 86_400_000) {
    year--;
    time = Date.UTC(year, month, Number(d), Number(h), Number(mi), Number(s), ms);
  }
  const timestamp = `${year}-${pad(month + 1)}-${pad(Number(d))}T${h}:${mi}:${s}${frac ? `.${frac}` : ""}`;
  return { timestamp, time };
}

export function parseEpochMicros(text: string): ParsedTime | null {
  if (!/^\d{10,17}$/.test(text)) return null;
  const time = Math.floor(Number(text) / 1000);
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) return null;
  return { timestamp: date.toISOString().replace(/Z$/, "Z"), time };
}

const levelWords: Record<string, Level> = {
  TRACE: "TRACE",
  DEBUG: "DEBUG",
  INFO: "INFO",
  AUDIT: "INFO",
  NOTICE: "NOTICE",
  WARN: "WARNING",
  WARNING: "WARNING",
  ERROR: "ERROR",
  ERR: "ERROR",
  SEVERE: "ERROR",
  CRITICAL: "CRITICAL",
  CRIT: "CRITICAL",
  FATAL: "CRITICAL",
  ALERT: "CRITICAL",
  EMERG: "CRITICAL",
};

export function normaliseLevel(word: string | undefined): Level | null {
  if (!word) return null;
  return levelWords[word.toUpperCase()] ?? null;
}

/** journald PRIORITY (syslog severity) to a level. */
export function levelFromPriority(priority: string | number | undefined): Level | null {
  const p = Number(priority);
  if (!Number.isInteger(p)) return null;
  if (p <= 2) return "CRITICAL";
  if (p === 3) return "ERROR";
  if (p === 4) return "WARNING";
  if (p === 5) return "NOTICE";
  if (p === 6) return "INFO";
  return "DEBUG";
}

const uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const requestIdPattern = new RegExp(`\\breq-${uuid}\\b`, "g");
// Where nova names an instance in its text: the [instance: X] prefix, "Instance X …", "instance ID 'X'",
// "Build of instance X", and ZStack's vm[uuid:X] (32 hex digits, no dashes).
const instancePatterns = [
  new RegExp(`\\[instance: (${uuid})\\]`, "g"),
  new RegExp(`\\b[Ii]nstance (?:ID )?'?(${uuid})\\b`, "g"),
  new RegExp(`\\binstance[_ ]uuid[=:'" ]+(${uuid})\\b`, "g"),
  /\bvm\[uuid:([0-9a-f]{32})\b/g,
  new RegExp(`-uuid (${uuid})\\b`, "g"),
];

export function findRequestIds(text: string): string[] {
  if (!text.includes("req-")) return [];
  const found = text.match(requestIdPattern);
  return found ? [...new Set(found)] : [];
}

export function findInstanceIds(text: string): string[] {
  // Every pattern holds one of these words: most messages hold neither, and skip five regular expressions.
  if (!text.includes("nstance") && !text.includes("uuid")) return [];
  const out = new Set<string>();
  for (const pattern of instancePatterns) {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m; m = pattern.exec(text)) if (m[1]) out.add(m[1]);
  }
  return [...out];
}

/** libvirt and QEMU name nova's domains instance-%08x. */
export function findDomainNames(text: string): string[] {
  const found = text.match(/\binstance-[0-9a-f]{8}\b/g);
  return found ? [...new Set(found)] : [];
}

/** `\u627e` → 找, as nova-api request bodies and Python reprs write non-ASCII text. */
export function decodeEscapes(text: string): string {
  if (!text.includes("\\u")) return text;
  return text.replace(/\\u([0-9a-fA-F]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Sunbeam/pebble and some journals leave ANSI colour codes in the text. */
export function stripAnsi(text: string): string {
  return text.includes("\x1b[") ? text.replace(/\x1b\[[0-9;]*m/g, "") : text;
}

/** The component a path names: `var/log/nova/nova-compute.log.1` → nova-compute. */
export function componentFromPath(path: string): string | null {
  const p = path.split("\\").join("/");
  if (/(^|\/)libvirt\/qemu\/[^/]+$/.test(p) || /(^|\/)containers\/qemu\/[^/]+$/.test(p)) return "qemu";
  let base = (p.split("/").pop() ?? "").replace(/\.(gz|xz|bz2|zst)$/, "").replace(/(\.\d+|-\d{8,10})$/, "");
  // sosreport's tail of a big log: sos_strings/nova/var.log.nova.nova-compute.log.tailed
  if (base.endsWith(".tailed")) {
    const parts = base.replace(/\.tailed$/, "").split(".");
    const logAt = parts.lastIndexOf("log");
    base = logAt > 0 ? `${parts[logAt - 1]}.log` : parts.join(".");
  }
  if (base.startsWith("management-server")) return "zstack-management";
  if (base.startsWith("zstack-kvmagent")) return "zstack-kvmagent";
  if (/^(libvirtd|virtqemud|virtsecretd|virtproxyd)\.log$/.test(base)) return base.replace(/\.log$/, "");
  const dir = p.split("/").slice(-2, -1)[0] ?? "";
  if (/^(httpd|apache2)$/.test(dir)) {
    const service = /^(keystone|horizon|placement|nova|cinder|glance|aodh|gnocchi|heat|octavia|barbican)/.exec(base)?.[1];
    return service ?? "httpd";
  }
  if (dir === "horizon") return "horizon";
  const named = /^([a-z][a-z0-9_-]*?)(?:\.log)?$/.exec(base)?.[1];
  if (!named || /^(messages|syslog|kern|journal.*|journalctl_.*)$/.test(named)) return null;
  if (named === "api" || named === "registry") {
    // glance's packaged layout: /var/log/glance/api.log
    return dir ? `${dir}-${named}` : named;
  }
  return named;
}

/** `openstack-nova-compute.service` → nova-compute; `devstack@n-cpu.service` keeps its own name. */
export function componentFromUnit(unit: string | undefined | null): string | null {
  if (!unit) return null;
  const name = unit.replace(/\.(service|scope|socket)$/, "").replace(/^openstack-/, "");
  return name || null;
}

/** nova.scheduler.utils → nova (used only when nothing better is known). */
export function componentFromLogger(logger: string | null): string | null {
  if (!logger) return null;
  return logger.split(".")[0] ?? null;
}

/** journalctl's header ("-- Logs begin at …, end at Tue 2024-05-14 12:40:02 UTC. --") gives the year short times lack. */
export function journalRangeEnd(line: string): number | null {
  const m = /^-- (?:Logs begin at|Journal begins at) \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[^,]*, (?:end at|ends at) \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)/.exec(line);
  return m?.[2] ? Date.parse(`${m[2].replace(" ", "T")}Z`) + 86_400_000 : null;
}
