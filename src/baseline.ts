// Baselines ("these problems are known; show what is new") and suppressions files: read, write, apply to a ScanResult.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { isMap, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import { z } from "zod";
import { globToRegExp } from "./engine/config-check.js";
import { SEVERITIES, type Finding, type ScanResult, type Severity } from "./model.js";
import { rotationKey } from "./reader/inputs.js";
import { fingerprint, FINGERPRINT_KEY, maskVolatile } from "./reporters/sarif.js";

/** A baseline file that cannot be used; the message starts with the file name. */
export class BaselineError extends Error {}

/** A suppressions file that cannot be used; the message starts with `file:line:col`. */
export class SuppressionError extends Error {}

export const BASELINE_VERSION = 1;

/**
 * What makes two findings "the same known problem" across captures: rule, host, component and the message with
 * times, request ids, UUIDs, hex ids and numbers masked. This is the SARIF `partialFingerprints` value, so a
 * baseline entry and a code-scanning alert for the same problem carry the same hash.
 *
 * Left out on purpose:
 * - the line number, which moves whenever the file grows or is cut;
 * - the path: logrotate renames `nova-compute.log` to `.1`, `.2.gz` or `-20240312` between captures, and a
 *   sosreport, a kolla tree and a plain `/var/log` copy put the same file under different roots. Host and
 *   component already say where the problem is; stripping rotation suffixes alone would still miss the root change.
 */
export function findingFingerprint(f: Finding): string {
  return fingerprint(f);
}

export interface Applied {
  result: ScanResult;
  /** Findings removed by this call; also added to `result.summary.suppressed`. */
  suppressed: number;
}

/**
 * Removes the findings `isHidden` picks and keeps the rest of the result consistent. Ids are not renumbered, so
 * `F7` in today's report is `F7` in the unfiltered JSON of the same run.
 *
 * Incidents: a hidden finding leaves every incident; an incident left with no finding disappears. When an
 * incident's root cause is hidden but one of its symptoms is not, the root cause stays visible (and is not
 * counted as suppressed): a new symptom is explained by its root cause, and an incident whose `rootCause` names a
 * finding that is not in the report would leave every reporter with a dangling id. An incident whose symptoms are
 * all hidden keeps its (new) root cause alone; its summary still names the known symptoms it led to.
 */
function hideFindings(result: ScanResult, isHidden: (f: Finding) => boolean): Applied {
  const hidden = new Set(result.findings.filter(isHidden).map((f) => f.id));
  // A root cause made visible may be a symptom of another incident; repeat until nothing changes.
  for (let changed = true; changed; ) {
    changed = false;
    for (const incident of result.incidents) {
      const hasVisibleSymptom = incident.findings.some((id) => id !== incident.rootCause && !hidden.has(id));
      if (hasVisibleSymptom && hidden.delete(incident.rootCause)) changed = true;
    }
  }
  if (hidden.size === 0) return { result, suppressed: 0 };
  const findings = result.findings.filter((f) => !hidden.has(f.id));
  const incidents = result.incidents
    .map((incident) => ({ ...incident, findings: incident.findings.filter((id) => !hidden.has(id)) }))
    .filter((incident) => incident.findings.length > 0);
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) bySeverity[f.severity]++;
  const suppressed = result.findings.length - findings.length;
  return {
    result: {
      ...result,
      summary: {
        ...result.summary,
        findings: findings.length,
        incidents: incidents.length,
        bySeverity,
        // Baseline and suppressions may both run; their counts add up.
        suppressed: result.summary.suppressed + suppressed,
      },
      findings,
      incidents,
    },
    suppressed,
  };
}

export interface BaselineEntry {
  fingerprint: string;
  ruleId: string;
  host: string | null;
  component: string | null;
  /** The masked message, for a person reading the file; matching uses `fingerprint` only. */
  message: string;
  /** Occurrences in the scan that wrote the baseline (the sum of the findings' counts). */
  count: number;
}

export interface Baseline {
  created: string;
  fingerprints: BaselineEntry[];
}

/** The entries of a baseline for `result`, one per fingerprint, sorted so that rewriting it gives small diffs. */
export function baselineEntries(result: ScanResult): BaselineEntry[] {
  const byFingerprint = new Map<string, BaselineEntry>();
  for (const f of result.findings) {
    const key = findingFingerprint(f);
    const earlier = byFingerprint.get(key);
    if (earlier) earlier.count += f.count;
    else byFingerprint.set(key, { fingerprint: key, ruleId: f.ruleId, host: f.host, component: f.component, message: maskVolatile(f.message), count: f.count });
  }
  // Grouped the way a person scans the file (rule, then host); the hash only breaks ties, so order never depends on input order.
  return [...byFingerprint.values()].sort(
    (a, b) =>
      compareText(a.ruleId, b.ruleId) ||
      compareText(a.host ?? "", b.host ?? "") ||
      compareText(a.component ?? "", b.component ?? "") ||
      compareText(a.message, b.message) ||
      compareText(a.fingerprint, b.fingerprint),
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Writes the baseline through a temporary file, so an interrupted CI job never leaves half a baseline behind. */
export function writeBaseline(result: ScanResult, file: string, now: Date): void {
  const body = {
    cloudtriageBaseline: BASELINE_VERSION,
    // If the masking changes, an old baseline would match nothing, silently; readBaseline refuses it instead.
    fingerprintKey: FINGERPRINT_KEY,
    created: now.toISOString(),
    fingerprints: baselineEntries(result),
  };
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify(body, null, 2)}\n`);
    renameSync(temporary, file);
  } catch (error) {
    throw new BaselineError(`${file}: cannot write baseline: ${describeFsError(error)}`, { cause: error });
  }
}

const baselineSchema = z.object({
  cloudtriageBaseline: z.literal(BASELINE_VERSION),
  fingerprintKey: z.string().optional(),
  created: z.string(),
  fingerprints: z.array(
    z.object({
      fingerprint: z.string().regex(/^[0-9a-f]{64}$/, "expected a 64-digit hex sha256"),
      ruleId: z.string(),
      host: z.string().nullable(),
      component: z.string().nullable(),
      message: z.string(),
      count: z.number().int().nonnegative(),
    }),
  ),
});

/** Reads a file `writeBaseline` wrote. `display` names the file in errors. */
export function readBaseline(file: string, display = file): Baseline {
  const again = "write it again with --write-baseline";
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new BaselineError(`${display}: cannot read baseline: ${describeFsError(error)}; ${again}`, { cause: error });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new BaselineError(`${display}: baseline is not JSON (${firstLine((error as Error).message)}); ${again}`, { cause: error });
  }
  if (typeof data !== "object" || data === null || !("cloudtriageBaseline" in data)) {
    throw new BaselineError(`${display}: not a cloudtriage baseline (no "cloudtriageBaseline" key); ${again}`);
  }
  const version = data.cloudtriageBaseline;
  if (version !== BASELINE_VERSION) {
    throw new BaselineError(`${display}: baseline version ${JSON.stringify(version)}; this cloudtriage reads version ${BASELINE_VERSION}; ${again}`);
  }
  const parsed = baselineSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? fieldPath(issue.path) : "";
    throw new BaselineError(`${display}: ${where ? `${where}: ` : ""}${issue?.message ?? "invalid baseline"}; ${again}`);
  }
  const key = parsed.data.fingerprintKey;
  if (key !== undefined && key !== FINGERPRINT_KEY) {
    throw new BaselineError(`${display}: fingerprints were made with ${key} masking, this cloudtriage uses ${FINGERPRINT_KEY}, so none would match; ${again}`);
  }
  return { created: parsed.data.created, fingerprints: parsed.data.fingerprints };
}

/** Hides every finding whose fingerprint the baseline lists: what remains is new since the baseline was written. */
export function applyBaseline(result: ScanResult, baseline: Baseline): Applied {
  const known = new Set(baseline.fingerprints.map((entry) => entry.fingerprint));
  return hideFindings(result, (f) => known.has(findingFingerprint(f)));
}

export interface SuppressionEntry {
  rule: string;
  host?: string | undefined;
  component?: string | undefined;
  path?: string | undefined;
  reason: string;
  /** Last day (UTC) the entry hides findings, `YYYY-MM-DD`. */
  expires?: string | undefined;
}

/** One entry of a suppressions file, with where it was written. */
export interface Suppression {
  entry: SuppressionEntry;
  file: string;
  line: number;
}

export interface AppliedSuppressions extends Applied {
  /** Entries past their `expires` date: they hid nothing. */
  expired: Suppression[];
}

const FIELDS = "rule, host, component, path, reason, expires";

function isCalendarDate(text: string): boolean {
  const [y, m, d] = text.split("-").map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

const glob = z.string().trim().min(1, "give a glob (`*`, `**`, `?`) or leave the key out");

const suppressionSchema = z.strictObject(
  {
    rule: z
      .string({ error: "give the id of the rule whose findings to hide, e.g. nova-no-valid-host" })
      .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "give a rule id such as nova-no-valid-host; `rule` takes no globs, narrow with host, component or path"),
    host: glob.optional(),
    component: glob.optional(),
    path: glob.optional(),
    reason: z
      .string({ error: "say why these findings may be hidden (a ticket, an owner)" })
      .trim()
      .min(1, "say why these findings may be hidden (a ticket, an owner)"),
    expires: z
      .string({ error: "write the date as YYYY-MM-DD, e.g. 2026-01-31" })
      .regex(/^\d{4}-\d{2}-\d{2}$/, "write the date as YYYY-MM-DD, e.g. 2026-01-31")
      .refine(isCalendarDate, "no such day; write the date as YYYY-MM-DD, e.g. 2026-01-31")
      .optional(),
  },
  { error: `each entry is a mapping of ${FIELDS}` },
);

const suppressionsFileSchema = z.strictObject({
  suppressions: z.array(suppressionSchema, { error: "give a list of entries, each `- rule: …` with a `reason:`" }),
});

interface Position {
  line: number;
  col: number;
}

// Small copies of ruleset/load.ts's helpers, which that module does not export.
function nodePosition(doc: Document, counter: LineCounter, keyPath: (string | number)[]): Position {
  for (let depth = keyPath.length; depth >= 0; depth--) {
    const node = doc.getIn(keyPath.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === "object" && node.range) return counter.linePos(node.range[0]);
  }
  return { line: 1, col: 1 };
}

function keyPosition(doc: Document, counter: LineCounter, objectPath: (string | number)[], key: string): Position {
  const node = objectPath.length ? doc.getIn(objectPath, true) : doc.contents;
  if (isMap(node)) {
    for (const item of node.items) {
      if (isScalar(item.key) && item.key.value === key && item.key.range) return counter.linePos(item.key.range[0]);
    }
  }
  return nodePosition(doc, counter, objectPath);
}

function failAt(file: string, pos: Position, message: string): never {
  throw new SuppressionError(`${file}:${pos.line}:${pos.col}: ${message}`);
}

function valueAt(data: unknown, keyPath: (string | number)[]): unknown {
  let value = data;
  for (const key of keyPath) value = typeof value === "object" && value !== null ? (value as Record<string | number, unknown>)[key] : undefined;
  return value;
}

/** Reads and validates a suppressions file. `display` names the file in errors and in each `Suppression`. */
export function loadSuppressions(file: string, display = file): Suppression[] {
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (error) {
    throw new SuppressionError(`${display}: cannot read suppressions file: ${describeFsError(error)}`, { cause: error });
  }
  const counter = new LineCounter();
  const doc = parseDocument(source, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) failAt(display, counter.linePos(yamlError.pos[0]), `YAML: ${firstLine(yamlError.message)}`);
  const data = doc.toJS() as unknown;
  if (typeof data !== "object" || data === null || Array.isArray(data) || !("suppressions" in data)) {
    failAt(display, { line: 1, col: 1 }, `expected \`suppressions:\` and a list of entries (${FIELDS})`);
  }
  const parsed = suppressionsFileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (!issue) return failAt(display, { line: 1, col: 1 }, "invalid suppressions file");
    const keyPath = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    if (issue.code === "unrecognized_keys") {
      const key = issue.keys[0] ?? "";
      const known = keyPath.length === 0 ? "the file holds only `suppressions:`" : `a suppression takes ${FIELDS}`;
      failAt(display, keyPosition(doc, counter, keyPath, key), `unknown key \`${fieldPath([...keyPath, key])}\`; ${known}`);
    }
    const key = keyPath[keyPath.length - 1];
    if (typeof key === "string" && keyPath.length > 1 && valueAt(data, keyPath) === undefined) {
      // A missing key has no node of its own; point at the entry and name the key to add.
      failAt(display, nodePosition(doc, counter, keyPath), `${fieldPath(keyPath.slice(0, -1))} has no \`${key}\`; add \`${key}:\` and ${issue.message}`);
    }
    failAt(display, nodePosition(doc, counter, keyPath), `${fieldPath(keyPath)}: ${issue.message}`);
  }
  return parsed.data.suppressions.map((entry, i) => ({
    entry,
    file: display,
    line: nodePosition(doc, counter, ["suppressions", i]).line,
  }));
}

/** True once `now` is past the entry's last day (UTC): `expires: 2026-01-31` still hides findings on the 31st. */
export function isExpired(entry: SuppressionEntry, now: Date): boolean {
  if (entry.expires === undefined) return false;
  const [y, m, d] = entry.expires.split("-").map(Number) as [number, number, number];
  return now.getTime() >= Date.UTC(y, m - 1, d + 1);
}

interface CompiledSuppression {
  rule: string;
  host: RegExp | null;
  component: RegExp | null;
  path: RegExp | null;
}

function compile(entry: SuppressionEntry): CompiledSuppression {
  return {
    rule: entry.rule,
    host: entry.host === undefined ? null : globToRegExp(entry.host),
    component: entry.component === undefined ? null : globToRegExp(entry.component),
    path: entry.path === undefined ? null : globToRegExp(entry.path),
  };
}

// A glob on a field the finding lacks (host null, stdin path) never matches: the entry asked for a narrower scope.
function matchesSuppression(s: CompiledSuppression, f: Finding): boolean {
  if (s.rule !== f.ruleId) return false;
  if (s.host && (f.host === null || !s.host.test(f.host))) return false;
  if (s.component && (f.component === null || !s.component.test(f.component))) return false;
  // `path: var/log/nova/nova-compute.log` also covers the rotated `.1`, `.2.gz` and `-20240312` copies.
  if (s.path && !s.path.test(f.path) && !s.path.test(rotationKey(f.path).base)) return false;
  return true;
}

/** Hides the findings that an unexpired entry matches; expired entries hide nothing and are returned for a warning. */
export function applySuppressions(result: ScanResult, suppressions: Suppression[], now: Date): AppliedSuppressions {
  const expired = suppressions.filter((s) => isExpired(s.entry, now));
  const active = suppressions.filter((s) => !isExpired(s.entry, now)).map((s) => compile(s.entry));
  const applied = hideFindings(result, (f) => active.some((s) => matchesSuppression(s, f)));
  return { ...applied, expired };
}

/** The warning for an expired entry, without the `cloudtriage: ` prefix the CLI adds. */
export function describeExpiredSuppression(s: Suppression): string {
  return `${s.file}:${s.line}: suppression for ${s.entry.rule} expired on ${s.entry.expires ?? "?"}; it no longer hides findings`;
}

function fieldPath(keyPath: readonly PropertyKey[]): string {
  return keyPath.map((key, i) => (typeof key === "number" ? `[${key}]` : `${i === 0 ? "" : "."}${String(key)}`)).join("");
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return firstLine((error as Error).message);
}
