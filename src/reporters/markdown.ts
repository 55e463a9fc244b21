// Markdown reporter: a short summary for a CI job summary or a pull-request comment.
import { SEVERITIES, type Finding, type Incident, type ScanResult } from "../model.js";
import { isAtOrAbove, severityRank, type ReportContext } from "./context.js";

export const MAX_MESSAGE_CHARS = 120;
/** GitHub refuses comments over 65,536 characters; a longer table belongs in SARIF or JSON. */
export const MAX_TABLE_ROWS = 100;

export function formatMarkdown(result: ScanResult, ctx: ReportContext): string {
  const byId = new Map(result.findings.map((finding) => [finding.id, finding]));
  const inIncident = new Set(result.incidents.flatMap((incident) => incident.findings));
  const loose = result.findings
    .filter((finding) => !inIncident.has(finding.id))
    // Stable sort: the scan's order within one severity.
    .sort((a, b) => severityRank(a.severity) - severityRank(b.severity));

  const out: string[] = [...headline(result, ctx)];

  if (result.incidents.length > 0) {
    out.push("", `### Incidents (${result.incidents.length})`);
    result.incidents.forEach((incident, index) => out.push("", ...formatIncident(incident, index + 1, byId)));
  }

  if (loose.length > 0) {
    out.push("", result.incidents.length > 0 ? "### Other findings" : "### Findings", "");
    out.push("| Severity | Rule | Host | Location | Count | Message |", "| --- | --- | --- | --- | ---: | --- |");
    for (const finding of loose.slice(0, MAX_TABLE_ROWS)) {
      out.push(
        `| ${finding.severity} | ${code(finding.ruleId, true)} | ${cell(finding.host ?? "-")} | ${code(location(finding), true)} | ${finding.count} | ${cell(truncate(finding.message))} |`,
      );
    }
    if (loose.length > MAX_TABLE_ROWS) out.push("", `…and ${loose.length - MAX_TABLE_ROWS} more; see the SARIF or JSON report.`);
  }

  if (result.summary.skipped.length > 0) {
    out.push("", `### Skipped inputs (${result.summary.skipped.length})`, "");
    for (const skipped of result.summary.skipped) out.push(`- ${code(skipped.path)}: ${inline(skipped.reason)}`);
  }
  return `${out.join("\n")}\n`;
}

function headline(result: ScanResult, ctx: ReportContext): string[] {
  const { summary } = result;
  const severities = SEVERITIES.filter((severity) => summary.bySeverity[severity] > 0)
    .map((severity) => `${summary.bySeverity[severity]} ${severity}`)
    .join(", ");
  const findings =
    summary.findings === 0 ? "no findings" : `${plural(summary.findings, "finding")}${severities === "" ? "" : ` (${severities})`}`;
  const extras = [
    ...(summary.incidents > 0 ? [plural(summary.incidents, "incident")] : []),
    ...(summary.skipped.length > 0 ? [`${plural(summary.skipped.length, "input")} skipped`] : []),
    ...(summary.suppressed > 0 ? [`${summary.suppressed} suppressed`] : []),
    ...(summary.truncatedLines > 0 ? [`${plural(summary.truncatedLines, "line")} truncated`] : []),
  ];
  const failing = result.findings.filter((finding) => isAtOrAbove(finding.severity, ctx.failOn)).length;
  const verdict =
    ctx.failOn === "never"
      ? "**Passed**: `--fail-on never`."
      : failing > 0
        ? `**Failed**: ${plural(failing, "finding")} at or above \`${ctx.failOn}\`.`
        : `**Passed**: nothing at or above \`${ctx.failOn}\`.`;
  return [
    `## cloudtriage: ${findings}`,
    "",
    `${[`${plural(summary.files, "file")}, ${plural(summary.lines, "line")} scanned`, ...extras].join(" · ")}. ${verdict}`,
  ];
}

function formatIncident(incident: Incident, number: number, byId: Map<string, Finding>): string[] {
  const root = byId.get(incident.rootCause);
  const out: string[] = [];
  if (root === undefined) {
    out.push(`#### ${number}. ${inline(incident.summary)}`);
  } else {
    const where = [root.host, root.component].filter((part) => part !== null).map((part) => code(part));
    out.push(
      `#### ${number}. ${inline(root.title)}`,
      "",
      `**Root cause** ${root.severity} ${code(root.ruleId)}${where.length > 0 ? ` on ${where.join(" / ")}` : ""} at ${code(location(root))}`,
      "",
      inline(incident.summary),
    );
  }
  const symptoms = incident.findings
    .filter((id) => id !== incident.rootCause)
    .map((id) => byId.get(id))
    .filter((finding) => finding !== undefined);
  if (symptoms.length > 0) {
    out.push("", "Symptoms:");
    for (const symptom of symptoms) {
      const host = symptom.host === null ? "" : ` on ${code(symptom.host)}`;
      out.push(`- ${symptom.severity} ${code(symptom.ruleId)}${host} at ${code(location(symptom))}: ${inline(truncate(symptom.message))}`);
    }
  }
  const ids = [...incident.requestIds, ...incident.instanceIds];
  if (ids.length > 0) out.push("", `Ids: ${ids.map((id) => code(id)).join(" ")}`);
  return out;
}

function location(finding: Finding): string {
  return `${finding.path}:${finding.line}`;
}

function plural(count: number, noun: string): string {
  return `${count.toLocaleString("en-US")} ${noun}${count === 1 ? "" : "s"}`;
}

/** One line, at most MAX_MESSAGE_CHARS code points. */
function truncate(message: string): string {
  const flat = message.replace(/\s+/g, " ").trim();
  const chars = [...flat];
  return chars.length <= MAX_MESSAGE_CHARS ? flat : `${chars.slice(0, MAX_MESSAGE_CHARS - 1).join("")}…`;
}

// Log text is full of <module>, *args, [instance: …] and __init__: escape what would render as markup.
function inline(value: string): string {
  return value
    .replace(/[\\`*_[\]<>~&|#]/g, "\\$&")
    .replace(/\r?\n/g, " ")
    .trim();
}

/** A table cell: inline text whose newlines become <br>, since a raw newline ends the row. */
function cell(value: string): string {
  return value
    .replace(/[\\`*_[\]<>~&|#]/g, "\\$&")
    .replace(/\r?\n/g, "<br>")
    .trim();
}

/** A code span whose fence outgrows any backtick run inside; in a table, | still needs its escape (GFM). */
function code(value: string, isInTable = false): string {
  const flat = value.replace(/\s*\r?\n\s*/g, " ");
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map((run) => run[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = flat.startsWith("`") || flat.endsWith("`") ? " " : "";
  const body = isInTable ? flat.replace(/\|/g, "\\|") : flat;
  return `${fence}${pad}${body}${pad}${fence}`;
}
