// What the correlator notes while the scan runs: accepted API requests, domain names, error records.
import { detach, type LogRecord } from "../model.js";
import { hashOfId } from "../parser/assemble.js";
import type { LogRule } from "../ruleset/rule.js";

export interface ApiRequest {
  requestIds: string[];
  method: string;
  url: string;
  status: number;
  time: number | null;
  timestamp: string | null;
  sourceIndex: number;
  path: string;
  line: number;
  host: string | null;
  component: string | null;
}

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
    internalRule("_api-request", ['/servers" status: 202', "/servers HTTP/1.1\" status: 202", "/servers HTTP/1.0\" status: 202"], String.raw`"(?<method>POST) (?<url>/v2(?:\.1)?/(?:[0-9a-f]{32}/)?servers)(?: HTTP/1\.[01])?" status: (?<status>202)`),
  ];
}

export class Observations {
  readonly apiRequests: ApiRequest[] = [];
  /** nova's domain names (instance-0000000a) and the UUIDs QEMU logs give them. */
  readonly domains = new Map<string, string>();
  /** Where libvirt lines name a domain, to index them under the UUID once it is known. */
  readonly domainMentions: { name: string; sourceIndex: number; line: number }[] = [];
  /** Hashes of the ids that ERROR and CRITICAL records carry. */
  readonly errorIdHashes = new Set<number>();

  merge(other: { apiRequests: ApiRequest[]; domains: Map<string, string>; domainMentions: { name: string; sourceIndex: number; line: number }[]; errorIdHashes: Set<number> }): void {
    // A worker may send hundreds of thousands of entries: no spread arguments, which blow the stack.
    for (const r of other.apiRequests) this.apiRequests.push(r);
    for (const [name, uuid] of other.domains) this.noteDomain(name, uuid);
    for (const m of other.domainMentions) this.noteDomainMention(m.name, m.sourceIndex, m.line);
    for (const h of other.errorIdHashes) this.errorIdHashes.add(h);
  }

  add(ruleId: string, record: LogRecord, fields: Record<string, string>, sourceIndex: number): void {
    if (ruleId !== "_api-request") return;
    this.apiRequests.push({
      // Tens of thousands are kept: none may pin its decoded line.
      requestIds: record.requestIds.map(detach),
      method: detach(fields.method ?? ""),
      url: detach(fields.url ?? ""),
      status: Number(fields.status),
      time: record.time,
      timestamp: record.timestamp,
      sourceIndex,
      path: record.path,
      line: record.line,
      host: record.host,
      component: record.component,
    });
  }

  noteDomain(name: string, uuid: string): void {
    if (!this.domains.has(name)) this.domains.set(name, uuid);
  }

  noteDomainMention(name: string, sourceIndex: number, line: number): void {
    if (this.domainMentions.length < 100_000) this.domainMentions.push({ name, sourceIndex, line });
  }

  noteError(record: LogRecord): void {
    for (const id of [...record.requestIds, ...record.instanceIds]) {
      const h = hashOfId(id);
      if (h >= 0) this.errorIdHashes.add(h);
    }
  }
}
