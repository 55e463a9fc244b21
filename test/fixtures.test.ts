// Each fixture tree through the whole pipeline: the findings, lines, related lines and incidents a person wrote down.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { loadRules } from "../src/ruleset/load.js";
import { scan } from "../src/scan.js";
import { exitCodeFor } from "../src/cli/exit-code.js";
import type { Finding, ScanResult } from "../src/model.js";

interface Place {
  rule: string;
  path: string;
  line: number;
}

interface Expected {
  description: string;
  exitCode: number;
  findings: (Place & { count?: number; host?: string; fields?: Record<string, string>; related?: { path: string; line: number }[] })[];
  incidents?: { rootCause: Place; findings: Place[] }[];
}

const root = path.resolve("fixtures");
const rules = loadRules();
const cases = readdirSync(root).filter((name) => existsSync(path.join(root, name, "expected.yaml")));

function key(p: { rule?: string; ruleId?: string; path: string; line: number }): string {
  return `${p.rule ?? p.ruleId} ${p.path}:${p.line}`;
}

const results = new Map<string, Promise<ScanResult>>();
function scanCase(name: string): Promise<ScanResult> {
  let result = results.get(name);
  if (!result) {
    result = scan({ inputs: [path.join(root, name)], cwd: process.cwd(), rules, language: "en" });
    results.set(name, result);
  }
  return result;
}

it("has the fixture trees the pipeline is proven on", () => {
  expect(cases.length).toBeGreaterThanOrEqual(3);
});

it("exercises every rule in some fixture's expected.yaml", () => {
  const expectedRules = new Set(cases.flatMap((name) => (parse(readFileSync(path.join(root, name, "expected.yaml"), "utf8")) as Expected).findings.map((f) => f.rule)));
  expect(rules.map((r) => r.id).filter((id) => !expectedRules.has(id))).toEqual([]);
});

for (const name of cases) {
  const expected = parse(readFileSync(path.join(root, name, "expected.yaml"), "utf8")) as Expected;
  describe(`fixtures/${name}`, () => {
    it("produces exactly the expected findings (rule, path, line)", async () => {
      const result = await scanCase(name);
      expect(result.findings.map(key).sort()).toEqual(expected.findings.map(key).sort());
    });

    it("gives each finding its count, host and fields", async () => {
      const result = await scanCase(name);
      const byKey = new Map(result.findings.map((f) => [key(f), f]));
      for (const e of expected.findings) {
        const f = byKey.get(key(e)) as Finding | undefined;
        if (!f) continue;
        if (e.count !== undefined) expect(f.count, `count of ${key(e)}`).toBe(e.count);
        if (e.host !== undefined) expect(f.host, `host of ${key(e)}`).toBe(e.host);
        for (const [field, value] of Object.entries(e.fields ?? {})) expect(f.fields[field], `${field} of ${key(e)}`).toBe(value);
      }
    });

    it("links the related lines from other files and hosts", async () => {
      const result = await scanCase(name);
      const byKey = new Map(result.findings.map((f) => [key(f), f]));
      for (const e of expected.findings) {
        const f = byKey.get(key(e));
        if (!f || !e.related) continue;
        const related = f.related.map((r) => `${r.path}:${r.line}`);
        for (const r of e.related) expect(related, `related lines of ${key(e)}`).toContain(`${r.path}:${r.line}`);
      }
    });

    it("groups findings into incidents with the right root cause", async () => {
      const result = await scanCase(name);
      const idOf = new Map(result.findings.map((f) => [key(f), f.id]));
      for (const incident of expected.incidents ?? []) {
        const rootId = idOf.get(key(incident.rootCause));
        const found = result.incidents.find((i) => i.rootCause === rootId);
        expect(found, `an incident rooted at ${key(incident.rootCause)}`).toBeDefined();
        const members = incident.findings.map((p) => idOf.get(key(p)));
        expect([...(found?.findings ?? [])].sort()).toEqual(expect.arrayContaining(members.sort()));
      }
    });

    it("exits with the expected code", async () => {
      expect(exitCodeFor(await scanCase(name), "error")).toBe(expected.exitCode);
    });
  });
}

describe("fixtures/journal-compute on standard input", () => {
  it("gives the same findings, at the same lines, with path -, when piped (journalctl | cloudtriage scan -)", async () => {
    const { runCli } = await import("./helpers/cli.js");
    const text = readFileSync(path.join(root, "journal-compute", "journal.txt"));
    const { code, stdout } = await runCli(["scan", "-", "--format", "json"], { stdin: text });
    const expected = parse(readFileSync(path.join(root, "journal-compute", "expected.yaml"), "utf8")) as Expected;
    expect(code).toBe(expected.exitCode);
    const piped = (JSON.parse(stdout) as ScanResult).findings.map((f) => `${f.ruleId} ${f.path}:${f.line}`).sort();
    expect(piped).toEqual(expected.findings.map((f) => `${f.rule} -:${f.line}`).sort());
  });

  it("links the other services' lines of the same journal, never the finding's own service", async () => {
    const { runCli } = await import("./helpers/cli.js");
    const text = readFileSync(path.join(root, "journal-compute", "journal.txt"));
    const { stdout } = await runCli(["scan", "-", "--format", "json"], { stdin: text });
    const findings = (JSON.parse(stdout) as ScanResult).findings;
    const libvirtd = findings.find((f) => f.ruleId === "libvirt-rbd-secret-not-found" && f.line === 955);
    expect(libvirtd?.component).toBe("libvirtd");
    expect(libvirtd?.related.map((r) => `${r.path}:${r.line}`)).toEqual(expect.arrayContaining(["-:953", "-:956"]));
    for (const f of findings) for (const r of f.related) expect(r.component, `a related line of ${f.ruleId} at ${f.line}`).not.toBe(f.component);
  });
});

describe("fixtures/journal-json: an entry whose MESSAGE holds a whole oslo record", () => {
  it("reads the header off its first line and keeps the traceback as the rest of the message", async () => {
    const dir = path.join(root, "journal-json");
    const result = await scan({ inputs: [dir], cwd: dir, rules, language: "en" });
    // Line 202: oslo.log's journal handler sent "ts pid ERROR logger [ctx] Failed to schedule…\nTraceback…".
    const finding = result.findings.find((f) => f.ruleId === "nova-no-valid-host" && f.line === 202);
    expect(finding?.message).toBe("Failed to schedule instances: nova.exception_Remote.NoValidHost_Remote: No valid host was found. ");
    expect(finding?.timestamp).toBe("2024-06-20T14:02:11.506");
    const related = result.findings.find((f) => f.ruleId === "nova-no-allocation-candidates")?.related.find((r) => r.line === 202);
    expect(related?.message).toBe("Failed to schedule instances: nova.exception_Remote.NoValidHost_Remote: No valid host was found. ");
  });
});

describe("fixtures/openstack-controller-compute: a service's log file and its journal in one sosreport", () => {
  it("shows an event written to both once, from the log file", async () => {
    const dir = path.join(root, "openstack-controller-compute");
    const result = await scan({ inputs: [dir], cwd: dir, rules, language: "en" });
    const finding = result.findings.find((f) => f.ruleId === "qemu-guest-memory-enomem" && f.path === "compute-1/var/log/libvirt/libvirtd.log");
    const related = finding?.related.map((r) => `${r.path}:${r.line}`) ?? [];
    // The same claim, "2024-05-14 10:41:06.811 2741 INFO nova.compute.claims …", is at both places.
    expect(related).toContain("compute-1/var/log/nova/nova-compute.log:883");
    expect(related).not.toContain("compute-1/sos_commands/logs/journalctl_--no-pager:920");
    for (const f of result.findings) {
      const events = f.related.map((r) => `${r.host} ${r.component} ${r.timestamp} ${r.message}`);
      expect(new Set(events).size, `related lines of ${f.ruleId} at ${f.path}:${f.line}`).toBe(events.length);
    }
  });
});

describe("a log that changes while it is scanned", () => {
  it("still reports the lost request, with its id, when the API log is truncated before the resolve pass", async () => {
    const tree = mkdtempSync(path.join(tmpdir(), "ct-rotated-"));
    cpSync(path.join(root, "openstack-controller-compute"), tree, { recursive: true });
    const api = path.join(tree, "controller-0/var/log/nova/nova-api.log");
    let truncated = false;
    const result = await scan({
      inputs: [tree],
      cwd: tree,
      rules,
      language: "en",
      // logrotate's copytruncate, between the API log's scan and the end: the conductor is read after it.
      onFinding: (f) => {
        if (!truncated && f.path.endsWith("nova-conductor.log")) {
          truncateSync(api, 0);
          truncated = true;
        }
      },
    });
    expect(truncated).toBe(true);
    const lost = result.findings.filter((f) => f.ruleId === "request-lost");
    expect(lost.map((f) => [f.path, f.line, f.requestIds, f.component, f.host])).toEqual([["controller-0/var/log/nova/nova-api.log", 409, ["req-d5efc361-5d70-479b-a6b9-115be1211d11"], "nova-api", "controller-0"]]);
    expect(lost[0]?.message).toContain("the line changed after the scan read it");
  });
});
