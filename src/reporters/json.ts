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
  return [...jsonChunks(result)].join("");
}

/**
 * The report as formatJson writes it, in pieces of one finding or incident each: the report of a big
 * scan is tens of MB, and as one string (and one buffer to write it) it was the scan's peak of memory.
 */
export function* jsonChunks(result: ScanResult): Generator<string> {
  const s = result.summary;
  const head = {
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
  };
  // The same text as JSON.stringify(report, null, 2): the head without its closing "\n}", then the two lists.
  yield `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "findings": `;
  yield* listChunks(result.findings.map(orderedFinding));
  yield `,\n  "incidents": `;
  yield* listChunks(result.incidents.map(orderedIncident));
  yield "\n}\n";
}

/** A top-level list at JSON.stringify's two-space indent: its items sit four spaces in. */
function* listChunks(items: object[]): Generator<string> {
  if (items.length === 0) {
    yield "[]";
    return;
  }
  for (let i = 0; i < items.length; i++) {
    // Two lists deep, JSON.stringify already indents the item by four: "[\n  [\n    {…}\n  ]\n]" loses its brackets.
    const nested = JSON.stringify([[items[i]]], null, 2);
    yield `${i === 0 ? "[\n" : ",\n"}${nested.slice(6, -6)}`;
  }
  yield "\n  ]";
}

export function formatNdjsonFinding(finding: Finding): string {
  return `${JSON.stringify(orderedFinding(finding))}\n`;
}
