// Turns rule matches into findings, folding identical repeats into one finding with a count.
import { detach, type Finding, type Language, type LogRecord, type Severity } from "../model.js";
import type { Rule } from "../ruleset/rule.js";

/** What the correlator needs of a finding beyond the JSON contract. */
export interface FindingMeta {
  rule: Rule | null;
  time: number | null;
  sourceIndex: number;
  /** Where a failure happened when no id says it: a ZStack host UUID. Narrows which findings a cause explains. */
  scope?: string[];
  /** When the finding's record is itself the explanation (config findings), the explained rule ids. */
  explains: string[];
  layer: string;
  /** The record's level: a TRACE or DEBUG echo of a failure is a worse root cause than the line that reports it. */
  level?: string | null;
  /** What identical repeats share (see addRecord): a file scanned in parts folds a later part's repeats into an earlier one's. */
  foldKey?: string;
}

export interface CollectedFinding {
  finding: Finding;
  meta: FindingMeta;
}

const maxIdsPerFinding = 50;

function firstLineOf(message: string): string {
  const nl = message.indexOf("\n");
  return nl < 0 ? message : message.slice(0, nl);
}

export class FindingCollector {
  readonly findings: CollectedFinding[] = [];
  private readonly byKey = new Map<string, CollectedFinding>();

  constructor(private readonly language: Language) {}

  addRecord(record: LogRecord, rule: Rule, fields: Record<string, string>, sourceIndex: number, scope: string[] = []): CollectedFinding | null {
    const message = firstLineOf(record.message);
    const key = [rule.id, record.path, record.host ?? "", message, record.requestIds.join(","), record.instanceIds.join(",")].join("\u0000");
    const earlier = this.byKey.get(key);
    if (earlier) {
      earlier.finding.count++;
      return null;
    }
    const collected = this.add(
      {
        ruleId: rule.id,
        title: rule.title[this.language],
        severity: rule.severity,
        component: record.component,
        host: record.host,
        path: record.path,
        line: record.line,
        timestamp: record.timestamp,
        // Copies: a finding lives to the end of the scan and must not pin its record's whole text.
        message: detach(message),
        requestIds: record.requestIds.slice(0, maxIdsPerFinding).map(detach),
        instanceIds: record.instanceIds.slice(0, maxIdsPerFinding).map(detach),
        fields: Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, detach(value)])),
        remediation: rule.remediation[this.language],
        references: rule.references,
      },
      { rule, time: record.time, sourceIndex, scope, explains: [], layer: rule.layer, level: record.level, foldKey: key },
    );
    this.byKey.set(key, collected);
    return collected;
  }

  add(
    finding: Omit<Finding, "id" | "count" | "related"> & { count?: number },
    meta: FindingMeta,
  ): CollectedFinding {
    const collected: CollectedFinding = { finding: { id: "", count: 1, related: [], ...finding }, meta };
    this.findings.push(collected);
    return collected;
  }
}

export function severityOrder(severity: Severity): number {
  return { critical: 0, error: 1, warning: 2, info: 3 }[severity];
}
