// The report an operator reads at 3 a.m.: incidents first, root cause with its remediation, then a timeline.
import { Chalk, type ChalkInstance } from "chalk";
import type { Finding, Incident, Language, RelatedLine, ScanResult, Severity } from "../model.js";
import type { ReportContext } from "./context.js";

const words = {
  en: {
    scanned: (files: number, lines: number, mb: string) => `${files} files, ${grouped(lines)} lines, ${mb} MB scanned`,
    findings: "findings",
    incidents: "incidents",
    incident: "INCIDENT",
    rootCause: "Root cause",
    symptoms: "Symptoms",
    timeline: "Timeline",
    remediation: "What to do",
    other: "OTHER FINDINGS",
    skipped: "SKIPPED OR PARTLY READ",
    nothing: "No known failure found.",
    repeated: (n: number) => `×${n}`,
    references: "See",
    truncated: (n: number) => `${n} over-long lines were matched on their first bytes only`,
    suppressed: (n: number) => `${n} findings suppressed by baseline or suppressions`,
    alsoAt: "also at",
  },
  "zh-CN": {
    scanned: (files: number, lines: number, mb: string) => `已扫描 ${files} 个文件，${grouped(lines)} 行，${mb} MB`,
    findings: "个发现",
    incidents: "个事件",
    incident: "事件",
    rootCause: "根本原因",
    symptoms: "症状",
    timeline: "时间线",
    remediation: "处理步骤",
    other: "其他发现",
    skipped: "跳过或未完整读取",
    nothing: "没有发现已知故障。",
    repeated: (n: number) => `×${n}`,
    references: "参考",
    truncated: (n: number) => `${n} 个超长行只匹配了开头部分`,
    suppressed: (n: number) => `${n} 个发现被基线或抑制文件隐藏`,
    alsoAt: "同样出现在",
  },
} satisfies Record<Language, unknown>;

/** 104233 → "104,233" without loading ICU (toLocaleString costs tens of milliseconds at start-up). */
function grouped(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function severityColor(c: ChalkInstance, severity: Severity): ChalkInstance {
  return { critical: c.bgRed.white.bold, error: c.red.bold, warning: c.yellow.bold, info: c.cyan }[severity];
}

function shortTime(timestamp: string | null): string {
  if (!timestamp) return "".padEnd(12);
  const m = /T(\d\d:\d\d:\d\d(?:\.\d{1,3})?)/.exec(timestamp);
  return (m?.[1] ?? timestamp).padEnd(12);
}

function indent(text: string, prefix: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => `${prefix}${l}`)
    .join("\n");
}

function clip(text: string, width: number): string {
  const first = text.split("\n", 1)[0] ?? "";
  return first.length > width ? `${first.slice(0, width - 1)}…` : first;
}

function location(f: Finding): string {
  return `${f.path}:${f.line}`;
}

function findingBlock(c: ChalkInstance, f: Finding, w: (typeof words)["en"], withRemediation: boolean, prefix: string): string {
  const sev = severityColor(c, f.severity)(f.severity.toUpperCase().padEnd(8));
  const count = f.count > 1 ? c.magenta(` ${w.repeated(f.count)}`) : "";
  const where = [f.host, f.component].filter(Boolean).join(" ");
  const lines = [
    `${prefix}${sev} ${c.bold(f.title)}${count}  ${c.dim(f.ruleId)}`,
    `${prefix}         ${c.underline(location(f))}${where ? c.dim(`  ${where}`) : ""}${f.timestamp ? c.dim(`  ${f.timestamp}`) : ""}`,
    `${prefix}         ${c.gray("│")} ${clip(f.message, 200)}`,
  ];
  const fields = Object.entries(f.fields).filter(([, v]) => v !== "");
  if (fields.length) lines.push(`${prefix}         ${c.dim(fields.map(([k, v]) => `${k}=${clip(v, 80)}`).join("  "))}`);
  if (withRemediation && f.remediation) {
    lines.push(`${prefix}         ${c.green.bold(w.remediation)}:`);
    lines.push(c.green(indent(f.remediation, `${prefix}           `)));
    if (f.references[0]) lines.push(`${prefix}         ${c.dim(`${w.references}: ${f.references.slice(0, 2).join("  ")}`)}`);
  }
  return lines.join("\n");
}

interface TimelineEntry {
  timestamp: string | null;
  host: string | null;
  component: string | null;
  level: string | null;
  message: string;
  where: string;
  isFinding: boolean;
}

function timeline(members: Finding[]): TimelineEntry[] {
  const entries = new Map<string, TimelineEntry>();
  for (const f of members) {
    entries.set(location(f), { timestamp: f.timestamp, host: f.host, component: f.component, level: f.severity.toUpperCase(), message: f.message, where: location(f), isFinding: true });
    for (const r of f.related) {
      const key = `${r.path}:${r.line}`;
      if (!entries.has(key)) entries.set(key, relatedEntry(r));
    }
  }
  // DEBUG lines make way for the API request, scheduler results and errors when there are enough of those.
  let chosen = [...entries.values()];
  const informative = chosen.filter((e) => e.isFinding || e.level !== "DEBUG");
  if (informative.length >= 6) chosen = informative;
  return chosen.sort((a, b) => (a.timestamp ?? "9").localeCompare(b.timestamp ?? "9")).slice(0, 30);
}

function relatedEntry(r: RelatedLine): TimelineEntry {
  return { timestamp: r.timestamp, host: r.host, component: r.component, level: r.level, message: r.message, where: `${r.path}:${r.line}`, isFinding: false };
}

function incidentBlock(c: ChalkInstance, incident: Incident, byId: Map<string, Finding>, w: (typeof words)["en"]): string {
  const members = incident.findings.map((id) => byId.get(id)).filter((f): f is Finding => f !== undefined);
  const root = byId.get(incident.rootCause);
  const out = [c.bold.inverse(` ${w.incident} ${incident.id} `) + " " + c.bold(incident.summary)];
  const keys = [...incident.requestIds.slice(0, 3), ...incident.instanceIds.slice(0, 3)];
  if (keys.length) out.push(c.dim(`  ${keys.join("  ")}`));
  if (root) {
    out.push(`  ${c.bold(w.rootCause)}:`);
    out.push(findingBlock(c, root, w, true, "  "));
  }
  const symptoms = members.filter((m) => m !== root);
  if (symptoms.length) {
    out.push(`  ${c.bold(w.symptoms)}:`);
    // The same failure read twice (a file and its journal copy, a message and its traceback summary) shows once.
    const groups = new Map<string, Finding[]>();
    for (const s of symptoms) {
      const key = `${s.ruleId}\u0000${s.host ?? ""}\u0000${(s.timestamp ?? "").slice(0, 19)}\u0000${s.message}`;
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    const journalLast = (a: Finding, b: Finding) => Number(/journal/.test(a.path)) - Number(/journal/.test(b.path));
    for (const group of groups.values()) {
      const [first, ...copies] = group.sort(journalLast);
      if (!first) continue;
      out.push(findingBlock(c, first, w, false, "  "));
      if (copies.length) out.push(c.dim(`           ${w.alsoAt}: ${copies.map(location).join("  ")}`));
    }
  }
  const entries = timeline(members);
  if (entries.length > 1) {
    out.push(`  ${c.bold(w.timeline)}:`);
    for (const e of entries) {
      const level = (e.level ?? "").padEnd(8);
      const levelText = /ERROR|CRITICAL/.test(level) ? c.red(level) : /WARN/.test(level) ? c.yellow(level) : c.dim(level);
      const line = `    ${c.dim(shortTime(e.timestamp))} ${(e.host ?? "-").padEnd(14)} ${(e.component ?? "-").padEnd(16)} ${levelText} ${clip(e.message, 110)}`;
      out.push(e.isFinding ? c.bold(line) : line);
      out.push(c.dim(`    ${"".padEnd(12)} ${e.where}`));
    }
  }
  return out.join("\n");
}

export function formatText(result: ScanResult, ctx: Pick<ReportContext, "colorLevel" | "language">): string {
  const c = new Chalk({ level: ctx.colorLevel });
  const w = words[ctx.language];
  const s = result.summary;
  const out: string[] = [];
  const counts = (["critical", "error", "warning", "info"] as Severity[])
    .filter((sev) => s.bySeverity[sev] > 0)
    .map((sev) => severityColor(c, sev)(`${s.bySeverity[sev]} ${sev}`))
    .join(", ");
  out.push(c.bold(`cloudtriage: ${w.scanned(s.files, s.lines, (s.bytes / 1e6).toFixed(1))}`) + (s.findings ? ` — ${s.findings} ${w.findings} (${counts}), ${s.incidents} ${w.incidents}` : ""));
  out.push("");
  const byId = new Map(result.findings.map((f) => [f.id, f]));
  const inIncident = new Set(result.incidents.flatMap((i) => i.findings));
  for (const incident of result.incidents) {
    out.push(incidentBlock(c, incident, byId, w));
    out.push("");
  }
  const others = result.findings.filter((f) => !inIncident.has(f.id));
  if (others.length) {
    if (result.incidents.length) out.push(c.bold(w.other));
    const order = { critical: 0, error: 1, warning: 2, info: 3 };
    for (const f of [...others].sort((a, b) => order[a.severity] - order[b.severity])) {
      out.push(findingBlock(c, f, w, f.severity !== "info" || f.ruleId === "unmatched-error", ""));
      out.push("");
    }
  }
  if (result.findings.length === 0) out.push(c.green(w.nothing), "");
  if (s.skipped.length) {
    out.push(c.bold(w.skipped));
    for (const k of s.skipped) out.push(`  ${k.path}: ${k.reason}`);
    out.push("");
  }
  if (s.truncatedLines) out.push(c.dim(w.truncated(s.truncatedLines)));
  if (s.suppressed) out.push(c.dim(w.suppressed(s.suppressed)));
  return `${out.join("\n").replace(/\n+$/, "")}\n`;
}
