// Links findings across files, components and hosts by request id and instance UUID; names each incident's root cause.
import type { Language, RelatedLine } from "../model.js";
import { hashOfId } from "../parser/assemble.js";
import type { FormatName } from "../parser/formats.js";
import type { Rule } from "../ruleset/rule.js";
import type { CollectedFinding, FindingCollector } from "../engine/findings.js";
import { severityOrder } from "../engine/findings.js";
import type { Observations } from "./observations.js";
import { derivedFindings, derivedExplains } from "./derived.js";
import { readRecordsAt, type RelatedRecord } from "./reread.js";

export interface SourceInfo {
  displayPath: string;
  absPath: string;
  host: string | null;
  component: string | null;
  format: FormatName;
  firstTime: number | null;
  lastTime: number | null;
  /** First line of the last record: where a silent service stopped. */
  lastLine: number | null;
  records: number;
  /** Ten-minute windows that hold a record. */
  windows: number;
  /** The live file of a rotated series (`x.log`, not `x.log.1`). */
  isLive: boolean;
  /** Files of one capture: the host root, or the folder that holds var/log, or the file's folder. */
  treeKey: string;
  captureTime: number | null;
  /** False for syslog-style times whose year was guessed from the file's date. */
  yearKnown: boolean;
  /** Kinds of notice already given for this file (each is said once). */
  notices: string[];
  /** Pairs (line, byte offset) of line starts, about every 8 KiB; with `plain`, lines can be re-read there. */
  checkpoints: Float64Array;
  /** An uncompressed regular file: it can be read at an offset. */
  plain: boolean;
  /** A member of a tarball: re-read by streaming the archive again. */
  archive?: { path: string; member: string; root: string };
  /** Standard input copied to a temporary file so it can be read again. */
  isSpool: boolean;
}

/** The id index, or, once it passed its memory budget, a second read of the logs that answers the same questions. */
export interface IdLookup {
  add(hash: number, source: number, line: number): void;
  lookup(wanted: Set<number>): Map<number, Set<number>> | Promise<Map<number, Set<number>>>;
  presentIn(wanted: Set<number>, accept: (source: number) => boolean): Set<number> | Promise<Set<number>>;
}

export interface CorrelationInput {
  findings: CollectedFinding[];
  collector: FindingCollector;
  index: IdLookup;
  sources: SourceInfo[];
  observations: Observations;
  rules: Rule[];
  language: Language;
  maxRelated: number;
}

export interface CorrelatedIncident {
  id: string;
  requestIds: string[];
  instanceIds: string[];
  summary: string;
  members: CollectedFinding[];
  root: CollectedFinding;
}

const layerRank: Record<string, number> = { hardware: 0, kernel: 1, config: 2, storage: 3, network: 4, libvirt: 5, qemu: 6, service: 7 };
/** How far apart a libvirt line and nova's line for the same failure may be. */
const sameFailureWindowMs = 60_000;
/** How far before or after a failure a keyless cause on the same host may be (a log line, not a config file). */
const explainWindowMs = 10 * 60_000;
/** Related lines from one file, before lines from other files get their turn. */
const relatedPerFile = 3;

function keysOf(c: CollectedFinding): string[] {
  return [...c.finding.requestIds, ...c.finding.instanceIds];
}

/** libvirt and QEMU lines rarely carry nova's ids: take them from the domain name, or from nova's line for the same failure. */
function attachInstanceIds(input: CorrelationInput): void {
  const { observations, findings } = input;
  for (const c of findings) {
    const text = `${c.finding.message}`;
    for (const m of text.matchAll(/\binstance-[0-9a-f]{8}\b/g)) {
      const uuid = observations.domains.get(m[0]);
      if (uuid && !c.finding.instanceIds.includes(uuid)) c.finding.instanceIds.push(uuid);
    }
  }
  for (const c of findings) {
    if (keysOf(c).length > 0 || c.meta.time === null || !c.meta.rule || c.meta.rule.kind !== "log") continue;
    // The same failure seen by another component on the same host a moment apart: nova-compute's line
    // for libvirtd's error, or the file log for its journal copy. Take the ids of the nearest one.
    let twin: CollectedFinding | null = null;
    for (const o of findings) {
      if (o === c || o.finding.ruleId !== c.finding.ruleId || o.finding.host !== c.finding.host || o.meta.time === null) continue;
      if (o.finding.instanceIds.length === 0 && o.finding.requestIds.length === 0) continue;
      const gap = Math.abs(o.meta.time - c.meta.time);
      if (gap <= sameFailureWindowMs && (twin === null || gap < Math.abs((twin.meta.time as number) - c.meta.time))) twin = o;
    }
    if (twin) {
      for (const id of twin.finding.instanceIds) c.finding.instanceIds.push(id);
      for (const id of twin.finding.requestIds) if (!c.finding.requestIds.includes(id)) c.finding.requestIds.push(id);
    }
  }
  // Index the libvirt lines that name a domain under its UUID, so they become related lines too.
  observations.domainMentions.indexInto(input.index, observations.domains);
}

function scoreOf(r: RelatedRecord): number {
  let score = 0;
  const level = r.record.level;
  if (level === "WARNING" || level === "ERROR" || level === "CRITICAL") score += 4;
  const m = r.record.message;
  if (/"(?:GET|POST|PUT|DELETE|PATCH) [^"]+" status: \d{3}/.test(m)) score += 4;
  if (/Filter \w+ returned \d+ host|Filtering removed all hosts|Got no allocation candidates|has not been heard from/.test(m)) score += 3;
  if (/Attempting claim|Claim successful|Took [\d.]+ seconds to (?:spawn|build)|Creating image|spawn|Selected host|Terminating instance|Deleting instance/i.test(m)) score += 1;
  const component = r.record.component ?? "";
  if (/conductor|compute|scheduler/.test(component)) score += 1;
  if (/libvirt|virtqemud|qemu/.test(component) || r.record.format === "libvirt" || r.record.format === "qemu") score += 2;
  if (level === "DEBUG") score -= 2;
  return score;
}

/**
 * A finding's own service says nothing new about it. That is its own file, unless the file holds many
 * services (a journal, a syslog file): there only the lines of the finding's own component are left out.
 */
function sameService(r: RelatedRecord, c: CollectedFinding): boolean {
  return r.record.path === c.finding.path && r.record.component === c.finding.component;
}

/** One event written twice (a service's log file and its journal, both in a sosreport) is one related line. */
function eventOf(r: RelatedRecord): string {
  const { host, component, time, message } = r.record;
  return `${host ?? ""}\0${component ?? ""}\0${time ?? ""}\0${message.split("\n", 1)[0] ?? ""}`;
}

function fromJournal(r: RelatedRecord): boolean {
  return r.record.format === "syslog" || r.record.format === "journal-json";
}

function toRelated(r: RelatedRecord): RelatedLine {
  return {
    path: r.record.path,
    line: r.record.line,
    host: r.record.host,
    component: r.record.component,
    timestamp: r.record.timestamp,
    level: r.record.level,
    message: (r.record.message.split("\n", 1)[0] ?? "").slice(0, 500),
  };
}

/**
 * The keys a finding's related lines are looked up by. A finding that names only an instance (a QEMU
 * log, a libvirt line) also takes the request ids of its incident, so the API request that built the
 * instance shows beside it.
 */
function relatedKeys(input: CorrelationInput, groups: CollectedFinding[][]): Map<CollectedFinding, string[]> {
  const out = new Map<CollectedFinding, string[]>();
  const groupOf = new Map<CollectedFinding, CollectedFinding[]>();
  for (const g of groups) for (const m of g) groupOf.set(m, g);
  for (const c of input.findings) {
    const keys = keysOf(c);
    if (c.finding.requestIds.length === 0) {
      for (const m of groupOf.get(c) ?? []) for (const id of m.finding.requestIds) if (!keys.includes(id)) keys.push(id);
    }
    out.set(c, keys);
  }
  return out;
}

/**
 * What the choice of a finding's related lines asks of a related record, worked out once per record
 * (thousands of findings share them), with the line as the report shows it: the findings share that object.
 */
interface Candidate {
  r: RelatedRecord;
  score: number;
  service: string;
  event: string;
  journal: boolean;
  line: RelatedLine;
  /** The last finding that took it as a candidate: each counts a record once, whichever key found it. */
  seenBy: number;
}

async function attachRelated(input: CorrelationInput, groups: CollectedFinding[][]): Promise<void> {
  const keysFor = relatedKeys(input, groups);
  const wanted = new Set<number>();
  for (const c of input.findings) for (const key of keysFor.get(c) ?? []) {
    const h = hashOfId(key);
    if (h >= 0) wanted.add(h);
  }
  if (wanted.size === 0) return;
  const positions = await input.index.lookup(wanted);
  const records = await readRecordsAt(input.sources, positions, input.observations.domains);
  const byKey = new Map<string, Candidate[]>();
  for (const r of records) {
    const candidate: Candidate = { r, score: scoreOf(r), service: `${r.record.host ?? ""}\0${r.record.component ?? ""}`, event: eventOf(r), journal: fromJournal(r), line: toRelated(r), seenBy: -1 };
    for (const ids of [r.record.requestIds, r.record.instanceIds, r.extraIds]) {
      for (const id of ids) {
        let list = byKey.get(id);
        if (!list) byKey.set(id, (list = []));
        list.push(candidate);
      }
    }
  }
  input.findings.forEach((c, findingIndex) => {
    const candidates: { candidate: Candidate; worth: number }[] = [];
    for (const key of keysFor.get(c) ?? []) {
      for (const candidate of byKey.get(key) ?? []) {
        if (candidate.seenBy === findingIndex || sameService(candidate.r, c)) continue;
        candidate.seenBy = findingIndex;
        // Another component's or host's view is worth more than the same service's own lines again.
        const { record } = candidate.r;
        candidates.push({ candidate, worth: candidate.score + (record.component !== c.finding.component ? 2 : 0) + (record.host !== c.finding.host ? 1 : 0) });
      }
    }
    // Of an event written twice, the log file's copy comes first, and is the one kept.
    candidates.sort((a, b) => b.worth - a.worth || (a.candidate.r.record.time ?? 0) - (b.candidate.r.record.time ?? 0) || Number(a.candidate.journal) - Number(b.candidate.journal));
    // The best lines of each service first, so the API, scheduler and conductor are not crowded out by one
    // chatty log (a service's log file and its journal are one service).
    const perService = new Map<string, number>();
    const first: Candidate[] = [];
    const rest: Candidate[] = [];
    const events = new Set<string>();
    for (const { candidate } of candidates) {
      if (events.has(candidate.event)) continue;
      events.add(candidate.event);
      const n = perService.get(candidate.service) ?? 0;
      perService.set(candidate.service, n + 1);
      (n < relatedPerFile ? first : rest).push(candidate);
    }
    const chosen = [...first, ...rest].slice(0, input.maxRelated);
    chosen.sort((a, b) => (a.r.record.time ?? Infinity) - (b.r.record.time ?? Infinity) || a.r.record.line - b.r.record.line);
    c.finding.related = chosen.map((candidate) => candidate.line);
  });
}

class UnionFind {
  private readonly parent: number[];
  constructor(n: number) {
    this.parent = Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    while (this.parent[i] !== i) {
      const p = this.parent[i] as number;
      this.parent[i] = this.parent[p] as number;
      i = p;
    }
    return i;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[rb] = ra;
  }
}

function explainsOf(c: CollectedFinding): string[] {
  return [...(c.meta.rule?.explains ?? []), ...c.meta.explains, ...(derivedExplains[c.finding.ruleId] ?? [])];
}

function groupIncidents(input: CorrelationInput): CollectedFinding[][] {
  const findings = input.findings;
  const uf = new UnionFind(findings.length);
  const owner = new Map<string, number>();
  findings.forEach((c, i) => {
    for (const key of keysOf(c)) {
      const earlier = owner.get(key);
      if (earlier === undefined) owner.set(key, i);
      else uf.union(earlier, i);
    }
  });
  // Findings with no ids join the incidents of what they explain, on the same host first. A config
  // finding explains every such failure; a log finding only the nearest one in time (within minutes).
  findings.forEach((c, i) => {
    if (keysOf(c).length > 0) return;
    const explained = explainsOf(c);
    if (explained.length === 0) return;
    let targets = findings.map((o, j) => ({ o, j })).filter(({ o, j }) => j !== i && explained.includes(o.finding.ruleId));
    // A ZStack cause names its KVM host: it explains failures on that host only.
    const scope = c.meta.scope ?? [];
    if (scope.length) targets = targets.filter(({ o }) => (o.meta.scope ?? []).some((s) => scope.includes(s)));
    const sameHost = targets.filter(({ o }) => o.finding.host === c.finding.host);
    const pool = scope.length ? targets : sameHost.length ? sameHost : targets;
    // A standing condition (hardware, kernel, config) explains every such failure; a passing one the nearest.
    if (c.meta.time === null || ["hardware", "kernel", "config"].includes(c.meta.layer)) {
      for (const { j } of pool) uf.union(i, j);
      return;
    }
    const near = pool
      .filter(({ o }) => o.meta.time !== null && Math.abs((o.meta.time as number) - (c.meta.time as number)) <= explainWindowMs)
      .sort((a, b) => Math.abs((a.o.meta.time as number) - (c.meta.time as number)) - Math.abs((b.o.meta.time as number) - (c.meta.time as number)));
    if (near[0]) uf.union(i, near[0].j);
  });
  const groups = new Map<number, CollectedFinding[]>();
  findings.forEach((c, i) => {
    const root = uf.find(i);
    let group = groups.get(root);
    if (!group) groups.set(root, (group = []));
    group.push(c);
  });
  return [...groups.values()].filter((g) => g.length >= 2);
}

/**
 * A condition that matters only for what it causes (a compute service record ComputeFilter calls down)
 * takes its rule's `severityAlone` when its incident holds nothing it explains: a stale record of a
 * renamed host is worth a look, not a failed pipeline.
 */
function settleStandaloneSeverity(input: CorrelationInput, groups: CollectedFinding[][]): void {
  const groupOf = new Map<CollectedFinding, CollectedFinding[]>();
  for (const g of groups) for (const m of g) groupOf.set(m, g);
  for (const c of input.findings) {
    const alone = c.meta.rule?.severityAlone;
    if (!alone) continue;
    const explained = explainsOf(c);
    const members = groupOf.get(c) ?? [];
    if (!members.some((m) => m !== c && explained.includes(m.finding.ruleId))) c.finding.severity = alone;
  }
}

/** A QEMU failure read in QEMU's own log, a libvirt one in libvirtd's: closer to the cause than nova's or the journal's copy. */
function isAtOrigin(c: CollectedFinding): boolean {
  const component = c.finding.component ?? "";
  if (c.meta.layer === "qemu") return component === "qemu";
  if (c.meta.layer === "libvirt") return /^(libvirtd|virtqemud|virtsecretd|virtproxyd)$/.test(component) && !c.finding.path.includes("journal");
  if (c.meta.layer === "config") return true;
  return !c.finding.path.includes("journal");
}

function isEcho(c: CollectedFinding): boolean {
  return c.meta.level === "TRACE" || c.meta.level === "DEBUG";
}

/** The member that explains others and is explained by none; else infrastructure before service, then the earliest. */
export function chooseRootCause(members: CollectedFinding[]): CollectedFinding {
  const ids = new Set(members.map((m) => m.finding.ruleId));
  const explainsMember = (c: CollectedFinding) => explainsOf(c).some((id) => ids.has(id) && id !== c.finding.ruleId);
  const explainedBy = (c: CollectedFinding) => members.some((o) => o !== c && o.finding.ruleId !== c.finding.ruleId && explainsOf(o).includes(c.finding.ruleId));
  let candidates = members.filter((c) => explainsMember(c) && !explainedBy(c));
  if (candidates.length === 0) candidates = members.filter((c) => !explainedBy(c));
  if (candidates.length === 0) candidates = members;
  const ordered = [...candidates].sort(
    (a, b) =>
      (layerRank[a.meta.layer] ?? 9) - (layerRank[b.meta.layer] ?? 9) ||
      Number(isAtOrigin(b)) - Number(isAtOrigin(a)) ||
      Number(isEcho(a)) - Number(isEcho(b)) ||
      (a.meta.time ?? Infinity) - (b.meta.time ?? Infinity) ||
      severityOrder(a.finding.severity) - severityOrder(b.finding.severity),
  );
  return ordered[0] as CollectedFinding;
}

function summarise(root: CollectedFinding, members: CollectedFinding[]): string {
  const where = [root.finding.component, root.finding.host && `on ${root.finding.host}`].filter(Boolean).join(" ");
  const symptoms = [...new Set(members.filter((m) => m !== root && m.finding.ruleId !== root.finding.ruleId).map((m) => m.finding.title))];
  const tail = symptoms.length ? `; led to: ${symptoms.slice(0, 4).join("; ")}${symptoms.length > 4 ? `; and ${symptoms.length - 4} more` : ""}` : "";
  return `${root.finding.title}${where ? ` (${where})` : ""}${tail}`;
}

export async function correlate(input: CorrelationInput): Promise<CorrelatedIncident[]> {
  attachInstanceIds(input);
  for (const derived of await derivedFindings(input)) input.findings.push(derived);
  const groups = groupIncidents(input);
  settleStandaloneSeverity(input, groups);
  await attachRelated(input, groups);
  const incidents = groups.map((members, i): CorrelatedIncident => {
    const root = chooseRootCause(members);
    const requestIds = [...new Set(members.flatMap((m) => m.finding.requestIds))];
    const instanceIds = [...new Set(members.flatMap((m) => m.finding.instanceIds))];
    return { id: `I${i + 1}`, requestIds, instanceIds, members, root, summary: summarise(root, members) };
  });
  return incidents;
}
