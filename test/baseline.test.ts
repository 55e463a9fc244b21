// Baselines and suppressions: a rescan of the same cloud hides what was known and shows only what is new.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  applyBaseline,
  applySuppressions,
  BaselineError,
  describeExpiredSuppression,
  findingFingerprint,
  loadSuppressions,
  readBaseline,
  SuppressionError,
  writeBaseline,
  type Suppression,
} from "../src/baseline.js";
import { SEVERITIES, type Finding, type Incident, type ScanResult, type Severity } from "../src/model.js";
import { fingerprint } from "../src/reporters/sarif.js";
import { makeFinding } from "./helpers/findings.js";

const dir = mkdtempSync(path.join(tmpdir(), "cloudtriage-baseline-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW = new Date("2026-02-10T08:00:00Z");

function scanResult(findings: Finding[], incidents: Incident[] = []): ScanResult {
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) bySeverity[f.severity]++;
  return {
    schemaVersion: 1,
    language: "en",
    summary: { files: 4, lines: 18_000, bytes: 2_400_000, findings: findings.length, incidents: incidents.length, bySeverity, skipped: [], truncatedLines: 0, suppressed: 0 },
    findings,
    incidents,
  };
}

/**
 * One capture of a cloud with two failures (messages from ../shared/reference/signatures.md): a boot that found
 * no valid host, and a boot whose disk QEMU could not open. Each call gives other request ids, instance UUIDs,
 * times and line numbers, and may put the conductor log under its rotated name, as a later capture would.
 */
function capture(c: { req: string; instance: string; day: string; conductorLine: number; conductorPath: string; shift: number }): ScanResult {
  const t = (clock: string) => `${c.day}T${clock}`;
  const noValidHost = makeFinding({
    id: "F1",
    ruleId: "nova-no-valid-host",
    component: "nova-conductor",
    host: "controller-0",
    path: c.conductorPath,
    line: c.conductorLine,
    timestamp: t("10:15:40.027"),
    message: "Failed to schedule instances: nova.exception_Remote.NoValidHost_Remote: No valid host was found. There are not enough hosts available.",
    requestIds: [c.req],
  });
  const setError = makeFinding({
    id: "F2",
    ruleId: "nova-set-instance-error",
    severity: "warning",
    component: "nova-conductor",
    host: "controller-0",
    path: c.conductorPath,
    line: c.conductorLine + 3,
    timestamp: t("10:15:40.133"),
    message: "Setting instance to ERROR state.: nova.exception_Remote.NoValidHost_Remote: No valid host was found. There are not enough hosts available.",
    requestIds: [c.req],
    instanceIds: [c.instance],
  });
  const diskDenied = makeFinding({
    id: "F3",
    ruleId: "libvirt-disk-permission-denied",
    component: "libvirtd",
    host: "compute-1",
    path: "var/log/libvirt/libvirtd.log",
    line: 2204 + c.shift,
    timestamp: t("14:01:02.112"),
    message: `internal error: qemu unexpectedly closed the monitor: ${c.day}T14:01:02.088417Z qemu-kvm: Could not open '/var/lib/nova/instances/${c.instance}/disk': Permission denied`,
    instanceIds: [c.instance],
  });
  const rescheduled = makeFinding({
    id: "F4",
    ruleId: "nova-build-rescheduled",
    severity: "warning",
    component: "nova-compute",
    host: "compute-1",
    path: "var/log/nova/nova-compute.log",
    line: 9120 + c.shift,
    timestamp: t("14:01:02.402"),
    message: `Build of instance ${c.instance} was re-scheduled: internal error: qemu unexpectedly closed the monitor: ${c.day}T14:01:02.088417Z qemu-kvm: Could not open '/var/lib/nova/instances/${c.instance}/disk': Permission denied`,
    count: 3,
    requestIds: [c.req],
    instanceIds: [c.instance],
  });
  return scanResult(
    [noValidHost, setError, diskDenied, rescheduled],
    [
      { id: "I1", requestIds: [c.req], instanceIds: [c.instance], findings: ["F1", "F2"], rootCause: "F1", summary: "The scheduler found no valid host for the request (nova-conductor on controller-0)" },
      { id: "I2", requestIds: [c.req], instanceIds: [c.instance], findings: ["F3", "F4"], rootCause: "F3", summary: "QEMU could not open a disk image: permission denied (libvirtd on compute-1)" },
    ],
  );
}

const monday = capture({
  req: "req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27",
  instance: "4f75fd35-c53c-4feb-90bf-391996dee667",
  day: "2024-03-12",
  conductorLine: 412,
  conductorPath: "var/log/nova/nova-conductor.log",
  shift: 0,
});
// A week later: logrotate moved the conductor log, the lines moved, and every id and time is new.
const nextMonday = capture({
  req: "req-db4bd5bb-49e0-415e-8564-8a4c7bdc8a91",
  instance: "fdc62393-892e-43f4-8ecf-1da87ac21a81",
  day: "2024-03-19",
  conductorLine: 30_877,
  conductorPath: "var/log/nova/nova-conductor.log.1",
  shift: 5_000,
});

function baselineOf(result: ScanResult, name: string) {
  const file = path.join(dir, name);
  writeBaseline(result, file, NOW);
  return { file, baseline: readBaseline(file) };
}

function writeFile(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a throw");
}

describe("findingFingerprint", () => {
  it("is the SARIF fingerprint, so baseline entries and code-scanning alerts agree", () => {
    for (const f of monday.findings) expect(findingFingerprint(f)).toBe(fingerprint(f));
  });

  it("ignores line numbers, rotated paths, times, request ids and instance UUIDs", () => {
    expect(nextMonday.findings.map(findingFingerprint)).toEqual(monday.findings.map(findingFingerprint));
  });

  it("tells hosts, rules and masked messages apart", () => {
    const [noValidHost] = monday.findings as [Finding];
    const base = findingFingerprint(noValidHost);
    expect(findingFingerprint({ ...noValidHost, host: "controller-1" })).not.toBe(base);
    expect(findingFingerprint({ ...noValidHost, ruleId: "nova-set-instance-error" })).not.toBe(base);
    expect(findingFingerprint({ ...noValidHost, message: "Failed to compute_task_migrate_server: No valid host was found. " })).not.toBe(base);
  });
});

describe("writeBaseline", () => {
  it("writes one masked, sorted entry per fingerprint with its occurrence count", () => {
    const { file } = baselineOf(monday, "monday.json");
    const written = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    expect(written).toMatchObject({ cloudtriageBaseline: 1, created: "2026-02-10T08:00:00.000Z" });
    const entries = written.fingerprints as Record<string, unknown>[];
    expect(entries.map((e) => [e.ruleId, e.host, e.count])).toEqual([
      ["libvirt-disk-permission-denied", "compute-1", 1],
      ["nova-build-rescheduled", "compute-1", 3],
      ["nova-no-valid-host", "controller-0", 1],
      ["nova-set-instance-error", "controller-0", 1],
    ]);
    expect(entries[1]).toEqual({
      fingerprint: findingFingerprint(monday.findings[3] as Finding),
      ruleId: "nova-build-rescheduled",
      host: "compute-1",
      component: "nova-compute",
      message: "Build of instance <uuid> was re-scheduled: internal error: qemu unexpectedly closed the monitor: <time> qemu-kvm: Could not open '/var/lib/nova/instances/<uuid>/disk': Permission denied",
      count: 3,
    });
  });

  it("merges findings with one fingerprint and writes the same bytes whatever the finding order", () => {
    const twice = scanResult([...monday.findings].reverse().concat(nextMonday.findings));
    const a = readFileSync(baselineOf(twice, "a.json").file, "utf8");
    const b = readFileSync(baselineOf(scanResult([...twice.findings].reverse()), "b.json").file, "utf8");
    expect(a).toBe(b);
    expect(a.endsWith("}\n")).toBe(true);
    const counts = (JSON.parse(a) as { fingerprints: { count: number }[] }).fingerprints.map((e) => e.count);
    expect(counts).toEqual([2, 6, 2, 2]);
  });
});

describe("applyBaseline", () => {
  const { baseline } = baselineOf(monday, "known.json");

  it("hides every known failure in a rescan where lines, ids and times moved", () => {
    const { result, suppressed } = applyBaseline(nextMonday, baseline);
    expect(suppressed).toBe(4);
    expect(result.findings).toEqual([]);
    expect(result.incidents).toEqual([]);
    expect(result.summary).toMatchObject({ findings: 0, incidents: 0, suppressed: 4, bySeverity: { critical: 0, error: 0, warning: 0, info: 0 } });
    expect(nextMonday.findings).toHaveLength(4);
  });

  it("shows only a failure of a rule the baseline has not seen", () => {
    const imageDenied = makeFinding({
      id: "F5",
      ruleId: "nova-image-not-authorized",
      component: "nova-compute",
      host: "compute-1",
      path: "var/log/nova/nova-compute.log",
      line: 14_333,
      message: "Instance failed to spawn: nova.exception.ImageNotAuthorized: Not authorized for image dcd85799-92f6-4294-91ec-48670a218651.",
    });
    const rescan = scanResult([...nextMonday.findings, imageDenied], nextMonday.incidents);
    const { result, suppressed } = applyBaseline(rescan, baseline);
    expect(suppressed).toBe(4);
    expect(result.findings.map((f) => [f.id, f.ruleId])).toEqual([["F5", "nova-image-not-authorized"]]);
    expect(result.summary).toMatchObject({ findings: 1, incidents: 0, suppressed: 4, bySeverity: { error: 1, warning: 0 } });
  });

  it("shows a known rule whose masked message is new", () => {
    const migrate = makeFinding({
      id: "F5",
      ruleId: "nova-no-valid-host",
      component: "nova-conductor",
      host: "controller-0",
      path: "var/log/nova/nova-conductor.log",
      line: 88,
      message: "Failed to compute_task_migrate_server: No valid host was found. ",
      requestIds: ["req-1a4f54e2-e71b-4863-8ab7-6e4142eaf263"],
    });
    const { result, suppressed } = applyBaseline(scanResult([...nextMonday.findings, migrate], nextMonday.incidents), baseline);
    expect(suppressed).toBe(4);
    expect(result.findings.map((f) => f.id)).toEqual(["F5"]);
  });

  it("keeps a known root cause visible when its incident has a new symptom", () => {
    const unknownSymptom = makeFinding({
      id: "F5",
      ruleId: "nova-set-instance-error",
      severity: "warning",
      component: "nova-compute",
      host: "compute-1",
      path: "var/log/nova/nova-compute.log",
      line: 9140,
      message: "Setting instance vm_state to ERROR",
      instanceIds: ["fdc62393-892e-43f4-8ecf-1da87ac21a81"],
    });
    const incidents = nextMonday.incidents.map((i) => (i.id === "I2" ? { ...i, findings: [...i.findings, "F5"] } : i));
    const { result, suppressed } = applyBaseline(scanResult([...nextMonday.findings, unknownSymptom], incidents), baseline);
    // F3 is known, but it explains F5, so it stays; F4 (known symptom) goes; I1 is wholly known and goes.
    expect(result.findings.map((f) => f.id)).toEqual(["F3", "F5"]);
    expect(result.incidents).toEqual([{ ...incidents[1], findings: ["F3", "F5"], rootCause: "F3" }]);
    expect(suppressed).toBe(3);
    expect(result.summary).toMatchObject({ findings: 2, incidents: 1, suppressed: 3, bySeverity: { error: 1, warning: 1 } });
  });

  it("keeps an incident whose new root cause remains after its known symptoms are hidden", () => {
    const findings = nextMonday.findings.map((f) => (f.id === "F3" ? { ...f, message: "internal error: process exited while connecting to monitor: qemu-kvm: Could not open '/dev/sdb': Permission denied" } : f));
    const { result } = applyBaseline(scanResult(findings, nextMonday.incidents), baseline);
    expect(result.findings.map((f) => f.id)).toEqual(["F3"]);
    expect(result.incidents.map((i) => [i.id, i.findings, i.rootCause])).toEqual([["I2", ["F3"], "F3"]]);
  });
});

describe("readBaseline", () => {
  it.each([
    ["missing", null, /^missing\.json: cannot read baseline: no such file; write it again with --write-baseline$/],
    ["not-json", "{ fingerprints: [", /^not-json\.json: baseline is not JSON \(.+\); write it again with --write-baseline$/],
    ["version", JSON.stringify({ cloudtriageBaseline: 2, created: "2026-02-10T08:00:00.000Z", fingerprints: [] }), /^version\.json: baseline version 2; this cloudtriage reads version 1; write it again/],
    ["foreign", JSON.stringify({ version: "2.1.0", runs: [] }), /^foreign\.json: not a cloudtriage baseline \(no "cloudtriageBaseline" key\)/],
    ["entry", JSON.stringify({ cloudtriageBaseline: 1, created: "x", fingerprints: [{ ruleId: "nova-no-valid-host" }] }), /^entry\.json: fingerprints\[0\]\.fingerprint: /],
    ["masking", JSON.stringify({ cloudtriageBaseline: 1, fingerprintKey: "cloudtriage/v0", created: "x", fingerprints: [] }), /^masking\.json: fingerprints were made with cloudtriage\/v0 masking/],
  ])("names the file and the problem in one line: %s", (name, text, message) => {
    const file = text === null ? path.join(dir, `${name}.json`) : writeFile(`${name}.json`, text);
    const error = thrown(() => readBaseline(file, `${name}.json`));
    expect(error).toBeInstanceOf(BaselineError);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain("\n");
  });
});

const SUPPRESSIONS = `# Known problems on the staging cloud.
suppressions:
  - rule: libvirt-disk-permission-denied
    host: compute-*
    reason: OPS-4411, NFS export squashes root on the compute nodes
  - rule: nova-no-valid-host
    expires: 2026-01-31
    reason: capacity ticket OPS-4380; expansion lands in January
  - rule: nova-build-rescheduled
    path: var/log/nova/nova-compute.log
    expires: 2026-02-10
    reason: follows from OPS-4411
  - rule: nova-set-instance-error
    host: controller-?
    component: nova-*
    path: "**/nova-scheduler.log"
    reason: only scheduler-side copies are noise
`;

describe("applySuppressions", () => {
  const file = writeFile("suppressions.yml", SUPPRESSIONS);
  const suppressions: Suppression[] = loadSuppressions(file, "suppressions.yml");

  it("loads each entry with the line it starts on", () => {
    expect(suppressions.map((s) => [s.entry.rule, s.line])).toEqual([
      ["libvirt-disk-permission-denied", 3],
      ["nova-no-valid-host", 6],
      ["nova-build-rescheduled", 9],
      ["nova-set-instance-error", 13],
    ]);
    expect(suppressions[1]?.entry).toEqual({ rule: "nova-no-valid-host", expires: "2026-01-31", reason: "capacity ticket OPS-4380; expansion lands in January" });
  });

  it("hides by host and path glob, skips expired entries and reports them", () => {
    const { result, suppressed, expired } = applySuppressions(nextMonday, suppressions, NOW);
    // F3 by host glob; F4 by path, on its entry's last day; F1's entry expired; F2 is in the conductor log, not the scheduler's.
    expect(result.findings.map((f) => f.id)).toEqual(["F1", "F2"]);
    expect(suppressed).toBe(2);
    expect(result.summary).toMatchObject({ findings: 2, incidents: 1, suppressed: 2 });
    expect(expired.map(describeExpiredSuppression)).toEqual([
      "suppressions.yml:6: suppression for nova-no-valid-host expired on 2026-01-31; it no longer hides findings",
    ]);
  });

  it("matches a path glob against the rotated copies of a file", () => {
    const rotated = scanResult(nextMonday.findings.map((f) => (f.id === "F4" ? { ...f, path: "var/log/nova/nova-compute.log.2.gz" } : f)));
    const { result } = applySuppressions(rotated, suppressions, NOW);
    expect(result.findings.map((f) => f.id)).not.toContain("F4");
  });

  it("does not hide a finding on a host outside the glob", () => {
    const controller = scanResult(nextMonday.findings.map((f) => (f.id === "F3" ? { ...f, host: "controller-0" } : f)));
    const { result } = applySuppressions(controller, suppressions, NOW);
    expect(result.findings.map((f) => f.id)).toContain("F3");
  });

  it("stops hiding the day after an entry's last day", () => {
    const { result, expired } = applySuppressions(nextMonday, suppressions, new Date("2026-02-11T00:00:00Z"));
    expect(expired.map((s) => s.entry.rule)).toEqual(["nova-no-valid-host", "nova-build-rescheduled"]);
    // F4 is back, and so is F3, its incident's root cause, though its host glob still matches.
    expect(result.findings.map((f) => f.id)).toEqual(["F1", "F2", "F3", "F4"]);
    expect(result.summary.suppressed).toBe(0);
  });

  it("adds to what a baseline already suppressed", () => {
    const otherDisk = makeFinding({ id: "F5", ruleId: "libvirt-disk-permission-denied", host: "compute-2", message: "Could not open '/dev/sdc': Permission denied" });
    const afterBaseline = applyBaseline(scanResult([...nextMonday.findings, otherDisk]), readBaseline(path.join(dir, "known.json"))).result;
    const { result, suppressed } = applySuppressions(afterBaseline, suppressions, NOW);
    expect(suppressed).toBe(1);
    expect(result.summary).toMatchObject({ findings: 0, suppressed: 5 });
  });
});

describe("loadSuppressions errors", () => {
  it.each([
    [
      "missing reason",
      "suppressions:\n  - rule: nova-no-valid-host\n    host: compute-*\n",
      "bad.yml:2:5: suppressions[0] has no `reason`; add `reason:` and say why these findings may be hidden (a ticket, an owner)",
    ],
    [
      "blank reason",
      'suppressions:\n  - rule: nova-no-valid-host\n    reason: "  "\n',
      "bad.yml:3:13: suppressions[0].reason: say why these findings may be hidden (a ticket, an owner)",
    ],
    [
      "unknown key",
      "suppressions:\n  - rule: nova-no-valid-host\n    reason: OPS-4380\n    hosts: compute-*\n",
      "bad.yml:4:5: unknown key `suppressions[0].hosts`; a suppression takes rule, host, component, path, reason, expires",
    ],
    [
      "unknown top-level key",
      "suppressions: []\nbaseline: known.json\n",
      "bad.yml:2:1: unknown key `baseline`; the file holds only `suppressions:`",
    ],
    [
      "bad date",
      "suppressions:\n  - rule: nova-no-valid-host\n    reason: OPS-4380\n    expires: 31/01/2026\n",
      "bad.yml:4:14: suppressions[0].expires: write the date as YYYY-MM-DD, e.g. 2026-01-31",
    ],
    [
      "no such day",
      "suppressions:\n  - rule: nova-no-valid-host\n    reason: OPS-4380\n    expires: 2026-02-30\n",
      "bad.yml:4:14: suppressions[0].expires: no such day; write the date as YYYY-MM-DD, e.g. 2026-01-31",
    ],
    [
      "rule glob",
      "suppressions:\n  - rule: nova-*\n    reason: OPS-4380\n",
      "bad.yml:2:11: suppressions[0].rule: give a rule id such as nova-no-valid-host; `rule` takes no globs, narrow with host, component or path",
    ],
    ["no list", "- rule: nova-no-valid-host\n", "bad.yml:1:1: expected `suppressions:` and a list of entries (rule, host, component, path, reason, expires)"],
    ["YAML", "suppressions:\n  - rule: a\n    rule: b\n", /^bad\.yml:3:5: YAML: /],
  ])("says where and what to fix: %s", (_name, text, message) => {
    const file = writeFile("bad.yml", text);
    const error = thrown(() => loadSuppressions(file, "bad.yml"));
    expect(error).toBeInstanceOf(SuppressionError);
    if (typeof message === "string") expect(error.message).toBe(message);
    else expect(error.message).toMatch(message);
  });

  it("names a missing file", () => {
    const error = thrown(() => loadSuppressions(path.join(dir, "absent.yml"), "absent.yml"));
    expect(error).toBeInstanceOf(SuppressionError);
    expect(error.message).toBe("absent.yml: cannot read suppressions file: no such file");
  });
});
