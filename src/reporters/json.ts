// The JSON contract (schemaVersion 1), with keys in the documented order; NDJSON writes one finding per line.
import type { Finding, Incident, ScanResult } from "../model.js";
import type { ReportContext } from "./context.js";

export function orderedFinding(f: Finding): Finding {
  return {
    id: f.id,
    ruleId: f.ruleId,
    title: f.title,
    severity: f.severity,
    component: f.component,
    host: f.host,
    path: f.path,
    line: f.line,
    timestamp: f.timestamp,
    message: f.message,
    count: f.count,
    requestIds: f.requestIds,
    instanceIds: f.instanceIds,
    fields: f.fields,
    remediation: f.remediation,
    references: f.references,
    related: f.related.map((r) => ({ path: r.path, line: r.line, host: r.host, component: r.component, timestamp: r.timestamp, level: r.level, message: r.message })),
  };
}

function orderedIncident(i: Incident): Incident {
  return { id: i.id, requestIds: i.requestIds, instanceIds: i.instanceIds, findings: i.findings, rootCause: i.rootCause, summary: i.summary };
}

export function formatJson(result: ScanResult, _ctx?: ReportContext): string {
  const s = result.summary;
  const ordered = {
    schemaVersion: 1,
    language: result.language,
    summary: {
      files: s.files,
      lines: s.lines,
      bytes: s.bytes,
      findings: s.findings,
      incidents: s.incidents,
      bySeverity: s.bySeverity,
      skipped: s.skipped,
      truncatedLines: s.truncatedLines,
      suppressed: s.suppressed,
    },
    findings: result.findings.map(orderedFinding),
    incidents: result.incidents.map(orderedIncident),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

export function formatNdjsonFinding(finding: Finding): string {
  return `${JSON.stringify(orderedFinding(finding))}\n`;
}
