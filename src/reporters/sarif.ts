// SARIF 2.1.0 reporter: findings as code-scanning results for GitHub, GitLab and Azure DevOps.
import { createHash } from "node:crypto";
import type { Finding, Incident, RelatedLine, RuleInfo, ScanResult, Severity } from "../model.js";
import type { ReportContext } from "./context.js";

export const SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json";
export const INFORMATION_URI = "https://www.npmjs.com/package/cloudtriage";
/** Bump the suffix when the masking changes: old alerts then close and reopen once, not silently merge. */
export const FINGERPRINT_KEY = "cloudtriage/v1";

/** Finding kinds the correlator emits itself; they have no rule file, so ctx.rules may lack them. */
export const BUILTIN_KINDS: readonly string[] = [
  "request-lost",
  "service-silent",
  "instance-error-without-cause",
  "unmatched-error",
];

type SarifLevel = "error" | "warning" | "note";

interface Message {
  text: string;
}

interface PhysicalLocation {
  artifactLocation: { uri: string; uriBaseId?: string };
  region?: { startLine: number };
}

interface ReportingDescriptor {
  id: string;
  name: string;
  shortDescription: Message;
  fullDescription: Message;
  help: Message;
  helpUri?: string;
  defaultConfiguration: { level: SarifLevel };
  properties: { tags: string[]; severity: Severity };
}

interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: SarifLevel;
  message: Message;
  locations: { physicalLocation: PhysicalLocation }[];
  relatedLocations?: { id: number; physicalLocation: PhysicalLocation; message: Message }[];
  partialFingerprints: Record<string, string>;
  properties: Record<string, unknown>;
}

interface Notification {
  level: "warning" | "note";
  message: Message;
  descriptor: { id: string; index: number };
  locations?: { physicalLocation: PhysicalLocation }[];
}

const LEVELS: Record<Severity, SarifLevel> = { critical: "error", error: "error", warning: "warning", info: "note" };

// Notification descriptors, referenced by index from invocations[0].toolExecutionNotifications.
const NOTIFICATIONS = [
  { id: "input-skipped", shortDescription: { text: "An input could not be read; the rest was scanned" } },
  { id: "lines-truncated", shortDescription: { text: "Lines longer than the matching cap were matched on their first bytes only" } },
];

export function formatSarif(result: ScanResult, ctx: ReportContext): string {
  const rules = describeRules(result.findings, ctx.rules);
  const ruleIndex = new Map(rules.map((rule, index) => [rule.id, index]));
  const incidentOf = incidentsByFinding(result.incidents);

  const results = result.findings.map((finding) =>
    toResult(finding, ruleIndex.get(finding.ruleId) ?? 0, incidentOf.get(finding.id)),
  );

  const notifications: Notification[] = result.summary.skipped.map((skipped) => ({
    level: "warning",
    message: { text: `${skipped.path}: ${skipped.reason}` },
    descriptor: { id: "input-skipped", index: 0 },
    locations: [{ physicalLocation: { artifactLocation: artifactLocation(skipped.path) } }],
  }));
  if (result.summary.truncatedLines > 0) {
    notifications.push({
      level: "note",
      message: { text: `${result.summary.truncatedLines} lines were longer than the matching cap and were matched on their first bytes only` },
      descriptor: { id: "lines-truncated", index: 1 },
    });
  }

  const log = {
    $schema: SARIF_SCHEMA_URI,
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "cloudtriage",
            version: ctx.toolVersion,
            informationUri: INFORMATION_URI,
            rules,
            notifications: NOTIFICATIONS,
          },
        },
        // Paths are relative to the scanned directory; which one that is only the caller knows.
        originalUriBaseIds: {
          SRCROOT: { description: { text: `The scanned input: ${ctx.inputs.join(", ") || "-"}` } },
        },
        invocations: [
          {
            // Skipped inputs are reported, not fatal: the scan finished (STYLE.md, Errors).
            executionSuccessful: true,
            ...(notifications.length > 0 ? { toolExecutionNotifications: notifications } : {}),
          },
        ],
        language: ctx.language,
        results,
        properties: {
          summary: {
            files: result.summary.files,
            lines: result.summary.lines,
            bytes: result.summary.bytes,
            suppressed: result.summary.suppressed,
          },
          incidents: result.incidents.map((incident) => incidentProperties(incident, result.findings)),
        },
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}

/** ctx.rules first, in order, then one descriptor per other rule id a finding uses, so every ruleIndex resolves. */
function describeRules(findings: Finding[], known: RuleInfo[]): ReportingDescriptor[] {
  const descriptors = known.map((rule) => describeRule(rule, false));
  const seen = new Set(known.map((rule) => rule.id));
  for (const finding of findings) {
    if (seen.has(finding.ruleId)) continue;
    seen.add(finding.ruleId);
    // The correlator gives its findings a title and remediation in the chosen language: reuse them.
    const isBuiltin = BUILTIN_KINDS.includes(finding.ruleId);
    descriptors.push(
      describeRule(
        {
          id: finding.ruleId,
          title: finding.title,
          severity: finding.severity,
          remediation: finding.remediation,
          references: finding.references,
          layer: isBuiltin ? "correlator" : "unknown",
        },
        isBuiltin,
      ),
    );
  }
  return descriptors;
}

function describeRule(rule: RuleInfo, isBuiltin: boolean): ReportingDescriptor {
  const explanation = leadingProse(rule.remediation);
  // A built-in kind's id has no product prefix ("request-lost"), so it is tagged by where it comes from.
  const tags = isBuiltin ? ["built-in", rule.layer] : [product(rule.id), rule.layer];
  const helpUri = rule.references[0];
  return {
    id: rule.id,
    name: pascalCase(rule.id),
    shortDescription: { text: rule.title },
    fullDescription: { text: explanation === "" ? rule.title : `${rule.title}${/[.!?。]$/u.test(rule.title) ? "" : "."} ${explanation}` },
    help: { text: rule.remediation.trim() === "" ? rule.title : rule.remediation.trim() },
    // helpUri must be an absolute URI; a bare bug number in references would fail validation.
    ...(helpUri !== undefined && isAbsoluteUri(helpUri) ? { helpUri } : {}),
    defaultConfiguration: { level: LEVELS[rule.severity] },
    properties: { tags: [...new Set(tags)], severity: rule.severity },
  };
}

function toResult(finding: Finding, ruleIndex: number, incident: Incident | undefined): SarifResult {
  const properties: Record<string, unknown> = {
    severity: finding.severity,
    count: finding.count,
    requestIds: finding.requestIds,
    instanceIds: finding.instanceIds,
  };
  if (finding.host !== null) properties.host = finding.host;
  if (finding.component !== null) properties.component = finding.component;
  if (finding.timestamp !== null) properties.timestamp = finding.timestamp;
  if (incident !== undefined) {
    properties.incidentId = incident.id;
    properties.isRootCause = incident.rootCause === finding.id;
  }
  return {
    ruleId: finding.ruleId,
    ruleIndex,
    level: LEVELS[finding.severity],
    message: { text: `${finding.title}: ${finding.message}` },
    locations: [{ physicalLocation: physicalLocation(finding.path, finding.line) }],
    ...(finding.related.length > 0
      ? {
          relatedLocations: finding.related.map((related, index) => ({
            id: index + 1,
            physicalLocation: physicalLocation(related.path, related.line),
            message: { text: relatedText(related) },
          })),
        }
      : {}),
    partialFingerprints: { [FINGERPRINT_KEY]: fingerprint(finding) },
    properties,
  };
}

/**
 * Stable across rescans, rotation and line moves: the rule, where it happened and what it said,
 * with the parts that differ between two occurrences of the same failure masked.
 */
export function fingerprint(finding: Pick<Finding, "ruleId" | "host" | "component" | "message">): string {
  const parts = [finding.ruleId, finding.host ?? "", finding.component ?? "", maskVolatile(finding.message)];
  return createHash("sha256").update(parts.join("\u0000")).digest("hex");
}

// Order matters: times and ids before the hex and number masks would cut them into pieces.
const VOLATILE: readonly [RegExp, string][] = [
  [/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?/g, "<time>"],
  [/\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b/g, "<time>"],
  [/\breq-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "<req>"],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "<uuid>"],
  [/\b0x[0-9a-f]+\b/gi, "<hex>"],
  // Keystone and ZStack ids are 32 hex digits without dashes; a digit keeps words like "deadbeef" intact.
  [/\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi, "<hex>"],
  // Digits glued to a letter, "-" or "_" name something (compute-2, x86_64, node158): they stay.
  [/(?<![A-Za-z_-])\d+(?:[.,]\d+)*/g, "<n>"],
  [/\s+/g, " "],
];

export function maskVolatile(message: string): string {
  let masked = message;
  for (const [pattern, replacement] of VOLATILE) masked = masked.replace(pattern, replacement);
  return masked.trim();
}

function physicalLocation(path: string, line: number): PhysicalLocation {
  // A region needs startLine >= 1; stdin and whole-file findings may carry 0.
  return { artifactLocation: artifactLocation(path), ...(line >= 1 ? { region: { startLine: line } } : {}) };
}

/** Relative display paths resolve against SRCROOT; absolute ones become file URIs with no base. */
function artifactLocation(path: string): { uri: string; uriBaseId?: string } {
  const slashed = path.replace(/\\/g, "/");
  const drive = /^([A-Za-z]):\//.exec(slashed);
  if (drive !== null) return { uri: `file:///${drive[1]}:/${encodePath(slashed.slice(3))}` };
  if (slashed.startsWith("/")) return { uri: `file://${encodePath(slashed)}` };
  return { uri: encodePath(slashed), uriBaseId: "SRCROOT" };
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

function relatedText(related: RelatedLine): string {
  const where = [related.host, related.component].filter((part) => part !== null).join(" ");
  const level = related.level === null ? "" : `${related.level} `;
  return `${where === "" ? "" : `${where}: `}${level}${related.message}`;
}

function incidentsByFinding(incidents: Incident[]): Map<string, Incident> {
  const byFinding = new Map<string, Incident>();
  for (const incident of incidents) {
    for (const findingId of incident.findings) if (!byFinding.has(findingId)) byFinding.set(findingId, incident);
  }
  return byFinding;
}

function incidentProperties(incident: Incident, findings: Finding[]): Record<string, unknown> {
  const rootCause = findings.find((finding) => finding.id === incident.rootCause);
  return {
    id: incident.id,
    rootCause: incident.rootCause,
    ...(rootCause !== undefined ? { rootCauseRuleId: rootCause.ruleId } : {}),
    summary: incident.summary,
    findings: incident.findings,
    requestIds: incident.requestIds,
    instanceIds: incident.instanceIds,
  };
}

/** The explanation that opens a remediation, before its numbered commands. */
function leadingProse(remediation: string): string {
  const lines: string[] = [];
  for (const line of remediation.split("\n")) {
    if (/^\s*(?:\d+[.)]|[-*])\s/.test(line) || (line.trim() === "" && lines.length > 0)) break;
    if (line.trim() !== "") lines.push(line.trim());
  }
  return lines.join(" ");
}

function product(ruleId: string): string {
  return ruleId.split("-")[0] ?? ruleId;
}

function pascalCase(ruleId: string): string {
  return ruleId
    .split(/[^A-Za-z0-9]+/)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join("");
}

function isAbsoluteUri(text: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(text);
}
