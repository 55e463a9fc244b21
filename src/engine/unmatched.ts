// Groups ERROR, CRITICAL and traceback records no rule matched into templates, so unknown failures still show.
import type { Language, LogRecord } from "../model.js";
import { redactText } from "../redact/redact.js";
import type { CollectedFinding } from "./findings.js";

interface Template {
  template: string;
  record: LogRecord;
  sourceIndex: number;
  /** The file of the last sighting, to merge workers' templates in file order. */
  lastSourceIndex: number;
  count: number;
  firstTimestamp: string | null;
  lastTimestamp: string | null;
}

const maxTemplates = 10_000;

/** Masks what varies between occurrences: ids, UUIDs, addresses, paths, numbers. */
export function templateOf(message: string): string {
  // Secrets go before numbers are masked: a half-masked password ("dbPw<n>xyz") would still leak.
  const first = redactText(message.split("\n", 1)[0] ?? "");
  return first
    .slice(0, 400)
    .replace(/\breq-[0-9a-f-]{36}\b/g, "<req>")
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "<uuid>")
    .replace(/\b[0-9a-f]{32}\b/gi, "<uuid>")
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g, "<ip>")
    .replace(/(?:\/[\w.@%+-]+){2,}\/?/g, "<path>")
    .replace(/\b0x[0-9a-f]+\b/gi, "<hex>")
    .replace(/\b[0-9a-f]{12,}\b/gi, "<hex>")
    .replace(/\d+/g, "<n>");
}

const titles = {
  en: "Error no rule recognises",
  "zh-CN": "没有规则识别的错误",
};

const remediation = {
  en: "No rule in the pack knows this error yet. Read the example record and the related lines; if it is a real failure, write a rule for it (cloudtriage rules show nova-no-valid-host shows the format) and add its lines as examples.",
  "zh-CN": "规则包中还没有规则识别这个错误。请阅读示例记录和相关日志行；如果这是真实的故障，请为它编写规则（cloudtriage rules show nova-no-valid-host 可查看格式），并把这些日志行作为示例加入。",
};

export type UnmatchedTemplate = Template & { key: string };

export class UnmatchedErrors {
  private readonly templates = new Map<string, Template>();

  /** For a worker to hand its templates to the main thread. */
  export(): UnmatchedTemplate[] {
    return [...this.templates.entries()].map(([key, t]) => ({ ...t, key }));
  }

  /**
   * Merges a worker's templates, or those of a later part of the same file (merged in file order);
   * counts add up, the earliest example stays.
   */
  merge(templates: UnmatchedTemplate[]): void {
    for (const { key, ...t } of templates) {
      const existing = this.templates.get(key);
      if (!existing) {
        if (this.templates.size < maxTemplates) this.templates.set(key, t);
        continue;
      }
      existing.count += t.count;
      if (t.sourceIndex < existing.sourceIndex) {
        existing.record = t.record;
        existing.sourceIndex = t.sourceIndex;
        existing.firstTimestamp = t.firstTimestamp;
      }
      // The last sighting is the one in the latest file, whichever worker came back first (or the later part).
      if (t.lastSourceIndex >= existing.lastSourceIndex && t.lastTimestamp) {
        existing.lastTimestamp = t.lastTimestamp;
        existing.lastSourceIndex = t.lastSourceIndex;
      }
    }
  }

  add(record: LogRecord, sourceIndex: number): void {
    const template = templateOf(record.message);
    const key = `${record.component ?? ""}\u0000${record.level ?? ""}\u0000${template}`;
    const existing = this.templates.get(key);
    if (existing) {
      existing.count++;
      if (record.timestamp) {
        existing.lastTimestamp = record.timestamp;
        existing.lastSourceIndex = sourceIndex;
      }
      return;
    }
    if (this.templates.size >= maxTemplates) return;
    // A sighting without a time says nothing of when the template was last seen.
    this.templates.set(key, { template, record, sourceIndex, lastSourceIndex: record.timestamp ? sourceIndex : -1, count: 1, firstTimestamp: record.timestamp, lastTimestamp: record.timestamp });
  }

  /** The most frequent templates first, at most `limit`, as info findings. */
  findings(limit: number, language: Language): CollectedFinding[] {
    const all = [...this.templates.values()];
    // CRITICAL first (a service that died is never left out for being rare), then the most frequent.
    const rank = (t: Template) => (t.record.level === "CRITICAL" ? 0 : 1);
    // Ties go to the template seen first, as a single thread meets them, whatever order workers merged in.
    all.sort((a, b) => rank(a) - rank(b) || b.count - a.count || a.sourceIndex - b.sourceIndex || a.record.line - b.record.line);
    return all.slice(0, limit).map((t) => ({
      finding: {
        id: "",
        ruleId: "unmatched-error",
        title: titles[language],
        severity: "info",
        component: t.record.component,
        host: t.record.host,
        path: t.record.path,
        line: t.record.line,
        timestamp: t.record.timestamp,
        message: t.record.message.split("\n", 1)[0] ?? "",
        count: t.count,
        requestIds: t.record.requestIds,
        instanceIds: t.record.instanceIds,
        fields: { template: t.template, firstSeen: t.firstTimestamp ?? "", lastSeen: t.lastTimestamp ?? "" },
        remediation: remediation[language],
        references: [],
        related: [],
      },
      meta: { rule: null, time: t.record.time, sourceIndex: t.sourceIndex, explains: [], layer: "service" },
    }));
  }
}
