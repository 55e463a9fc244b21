// The command line as an operator meets it: exit codes, stdin, formats, colour, errors on stderr.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadRules } from "../src/ruleset/load.js";
import { scan } from "../src/scan.js";
import { makeTree, runCli } from "./helpers/cli.js";

const bin = path.resolve("bin/cloudtriage.js");

const conductor = [
  "2024-03-12 10:15:39.001 2744 INFO nova.conductor.manager [None req-0c4f9e3d-0a57-4b41-8f46-1c3e5d7f9a01 - - default default] Scheduling",
  "2024-03-12 10:15:40.121 2744 WARNING nova.scheduler.utils [None req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 - - default default] Failed to compute_task_build_instances: No valid host was found. There are not enough hosts available.",
  "2024-03-12 10:15:41.121 2744 INFO nova.conductor.manager [None req-0c4f9e3d-0a57-4b41-8f46-1c3e5d7f9a01 - - default default] Done",
  "",
].join("\n");

const tree = (files: Record<string, string>) => makeTree(files, "ct-cli-");
const runIn = runCli;

function spawnBin(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; closeAfterFirstLine?: boolean } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
      if (options.closeAfterFirstLine && stdout.includes("\n")) child.stdout.destroy();
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

describe("cloudtriage scan", () => {
  it("reports a finding with path and line, and exits 1", async () => {
    const root = tree({ "var/log/nova/nova-conductor.log": conductor });
    const { code, stdout } = await runIn(["scan", root, "--format", "json"]);
    expect(code).toBe(1);
    const result = JSON.parse(stdout);
    expect(result.schemaVersion).toBe(1);
    expect(result.findings.map((f: { ruleId: string; path: string; line: number }) => [f.ruleId, f.path, f.line])).toEqual([["nova-no-valid-host", "var/log/nova/nova-conductor.log", 2]]);
    expect(result.findings[0].component).toBe("nova-conductor");
    expect(result.findings[0].requestIds).toEqual(["req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27"]);
    expect(Object.keys(result.summary)).toEqual(expect.arrayContaining(["files", "lines", "bytes", "findings", "incidents", "bySeverity", "skipped"]));
    expect(result.summary.lines).toBe(3);
  });

  it("exits 0 with --fail-on never and with a clean tree", async () => {
    const root = tree({ "var/log/nova/nova-conductor.log": conductor, "clean/var/log/nova/nova-api.log": "2024-03-12 10:00:00.000 1 INFO nova.api [-] ok\n" });
    expect((await runIn(["scan", root, "--fail-on", "never"])).code).toBe(0);
    expect((await runIn(["scan", path.join(root, "clean")])).code).toBe(0);
  });

  it("exits 2 on a usage error, never commander's 1", async () => {
    const bad = await runIn(["scan", "--format", "yaml", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/yaml/);
    expect((await runIn(["scan", "--no-such-flag"])).code).toBe(2);
    expect((await runIn(["frobnicate"])).code).toBe(2);
  });

  it("links the same lines with a second read of the logs when the id index passes --index-memory", async () => {
    // libvirt-host links libvirtd's lines through QEMU domain names, which the second pass indexes itself.
    for (const fixture of ["fixtures/openstack-controller-compute", "fixtures/libvirt-host"]) {
      const plain = await runIn(["scan", fixture, "--format", "json"]);
      const small = await runIn(["scan", fixture, "--format", "json", "--index-memory", "1KiB"]);
      expect(small.stderr).toBe("cloudtriage: the id index passed --index-memory 1KiB; reading the logs again to link the findings (slower, same report)\n");
      expect(small.code).toBe(plain.code);
      expect(small.stdout).toBe(plain.stdout);
      const result = JSON.parse(small.stdout);
      expect(result.incidents.length).toBeGreaterThan(0);
      expect(result.findings.some((f: { related: unknown[] }) => f.related.length > 0)).toBe(true);
    }
    const fixture = "fixtures/openstack-controller-compute";
    // Standard input is read again from its spool: the scheduler's log piped in, whose lines the conductor's findings link to.
    const nova = `${fixture}/controller-0/var/log/nova`;
    const scheduler = readFileSync(`${nova}/nova-scheduler.log`, "utf8");
    const args = ["scan", "-", `${nova}/nova-conductor.log`, `${nova}/nova-api.log`, "--format", "json"];
    const piped = await runIn([...args, "--index-memory", "1KiB"], { stdin: scheduler });
    expect(piped.stderr).toMatch(/reading the logs again/);
    const pipedOnce = await runIn(args, { stdin: scheduler });
    expect(piped.stdout).toBe(pipedOnce.stdout);
    const related = JSON.parse(pipedOnce.stdout).findings.flatMap((f: { related: { path: string }[] }) => f.related.filter((r) => r.path === "-"));
    expect(related.length).toBeGreaterThan(0);
    expect((await runIn(["scan", fixture, "--quiet", "--format", "json", "--index-memory", "1KiB"])).stderr).toBe("");
  });

  it("drops the same old standard-input lines in both passes under --since with a duration", async () => {
    // Today's compute node logs as files, last year's libvirtd log piped in: --since 48h keeps none of the pipe.
    const today = new Date().toISOString().slice(0, 10);
    const recent = (file: string) => readFileSync(`fixtures/libvirt-host/var/log/${file}`, "utf8").replaceAll("2024-06-18", today);
    const root = tree({ "var/log/nova/nova-compute.log": recent("nova/nova-compute.log"), "var/log/libvirt/qemu/instance-0000002a.log": recent("libvirt/qemu/instance-0000002a.log") });
    const libvirtd = readFileSync("fixtures/libvirt-host/var/log/libvirt/libvirtd.log", "utf8");
    const args = ["scan", "-", root, "--since", "48h", "--format", "json"];
    const once = await runIn(args, { stdin: libvirtd });
    const twice = await runIn([...args, "--index-memory", "1KiB"], { stdin: libvirtd });
    expect(twice.stderr).toMatch(/reading the logs again/);
    expect(twice.stdout).toBe(once.stdout);
    expect(JSON.parse(once.stdout).findings.length).toBeGreaterThan(0);
  });

  it("links the same lines in both passes when a libvirt log names a domain more often than the index keeps per file", async () => {
    const log = readFileSync("fixtures/libvirt-host/var/log/libvirt/libvirtd.log", "utf8");
    const failure = log.split("\n").find((l) => l.includes("QEMU unexpectedly closed the monitor (vm='instance-0000002a')")) as string;
    const again = Array.from({ length: 60 }, (_, i) => failure.replace("07:05:41.268", `07:${String(10 + Math.floor(i / 6)).padStart(2, "0")}:${String((i % 6) * 10).padStart(2, "0")}.268`));
    const root = tree({ "var/log/libvirt/libvirtd.log": `${log}${again.join("\n")}\n`, "var/log/libvirt/qemu/instance-0000002a.log": readFileSync("fixtures/libvirt-host/var/log/libvirt/qemu/instance-0000002a.log", "utf8"), "var/log/nova/nova-compute.log": readFileSync("fixtures/libvirt-host/var/log/nova/nova-compute.log", "utf8") });
    const once = await runIn(["scan", root, "--format", "json"]);
    const twice = await runIn(["scan", root, "--format", "json", "--index-memory", "1KiB"]);
    expect(twice.stderr).toMatch(/reading the logs again/);
    expect(twice.stdout).toBe(once.stdout);
    expect(JSON.parse(once.stdout).findings.some((f: { related: { path: string }[] }) => f.related.some((r) => r.path === "var/log/libvirt/libvirtd.log"))).toBe(true);
  });

  it("keeps the links when the scan fills the index to its last entry and the correlator adds the domain mentions", async () => {
    // The smallest budget that holds every entry of the scan: the QEMU domain mentions come after it.
    const fixture = "fixtures/libvirt-host";
    const rules = loadRules();
    const secondPass = async (entries: number) => {
      let read = false;
      await scan({ inputs: [fixture], cwd: process.cwd(), rules, language: "en", indexBytes: entries * 8, onSecondPass: () => (read = true) });
      return read;
    };
    let lo = 1;
    let hi = 1 << 20;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (await secondPass(mid)) lo = mid + 1;
      else hi = mid;
    }
    const full = await runIn(["scan", fixture, "--format", "json"]);
    const edge = await runIn(["scan", fixture, "--format", "json", "--index-memory", String(lo * 8)]);
    expect(edge.stderr).toBe("");
    expect(edge.stdout).toBe(full.stdout);
  });

  it("refuses an --index-memory that is not a size, in one line", async () => {
    const bad = await runIn(["scan", "fixtures/openstack-controller-compute", "--index-memory", "lots"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("cloudtriage: option '--index-memory <size>' argument 'lots' is invalid. expected a size such as 64MiB, 512KiB or 1.5GiB\n");
    const tiny = await runIn(["scan", "fixtures/openstack-controller-compute", "--index-memory", "512"]);
    expect(tiny.code).toBe(2);
    expect(tiny.stderr).toBe("cloudtriage: option '--index-memory <size>' argument '512' is invalid. expected at least 1KiB\n");
    // Sizes operators write: decimals, MB for MiB, lower case. A big budget keeps one pass on this fixture.
    for (const size of ["1.5GiB", "64MB", "64m", "2048k"]) {
      const ok = await runIn(["scan", "fixtures/openstack-controller-compute", "--format", "json", "--index-memory", size]);
      expect(ok.stderr).toBe("");
      expect(ok.code).toBe(1);
    }
  });

  it("exits 2 when no input can be read, naming the path", async () => {
    const { code, stderr } = await runIn(["scan", "/nonexistent/nova.log"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^cloudtriage: no readable input: \/nonexistent\/nova.log: no such file/);
  });

  it("reads standard input when given - and reports its path as -", async () => {
    const { code, stdout } = await runIn(["scan", "-", "--format", "json"], { stdin: conductor });
    expect(code).toBe(1);
    expect(JSON.parse(stdout).findings[0]).toMatchObject({ path: "-", line: 2, ruleId: "nova-no-valid-host" });
  });

  it("writes one JSON finding per line with --format ndjson", async () => {
    const second = conductor.replace("req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27", "req-7d3e604e-126d-4fc4-a14f-a2770f843a66");
    const { stdout } = await runIn(["scan", "-", "--format", "ndjson"], { stdin: conductor + second + conductor });
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => JSON.parse(l).line)).toEqual([2, 5]);
  });

  it("folds identical repeats into one finding with a count", async () => {
    const { stdout } = await runIn(["scan", "-", "--format", "json"], { stdin: conductor + conductor + conductor });
    const findings = JSON.parse(stdout).findings;
    expect(findings.map((f: { line: number; count: number }) => [f.line, f.count])).toEqual([[2, 3]]);
  });

  it("names a broken rule file with file:line:col and exits 2", async () => {
    const pack = tree({ "bad/bad-rule.yaml": "id: bad-rule\ntitle: x\nseverity: loud\n" });
    const { code, stderr } = await runIn(["scan", "-", "--rules", path.join(pack, "bad")], { stdin: conductor });
    expect(code).toBe(2);
    expect(stderr).toMatch(/bad-rule\.yaml:3:11: `severity`: /);
  });

  it("refuses a rule whose regex can backtrack catastrophically", async () => {
    const pack = tree({
      "p/slow-rule.yaml": [
        "id: slow-rule",
        "title: {en: slow, zh-CN: 慢}",
        "severity: error",
        "hint: No valid host",
        "match: '(No valid host\\s?)+$'",
        "remediation: {en: x, zh-CN: 中}",
        "references: ['https://example.org/x']",
        "examples: {positive: [{line: a}], negative: [{line: b, why: c}]}",
        "",
      ].join("\n"),
    });
    const { code, stderr } = await runIn(["scan", "-", "--rules", path.join(pack, "p")], { stdin: conductor });
    expect(code).toBe(2);
    expect(stderr).toMatch(/slow-rule\.yaml:5:8: regular expression may backtrack catastrophically/);
  });
});

describe("selecting inputs and rules", () => {
  it("expands a glob, reads the rotated series oldest first, and keeps exact line numbers", async () => {
    const root = tree({ "nova-conductor.log.1": conductor, "nova-conductor.log": conductor.replace("req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27", "req-7d3e604e-126d-4fc4-a14f-a2770f843a66") });
    const { stdout } = await runIn(["scan", "nova-conductor.log*", "--format", "json"], { cwd: root });
    expect(JSON.parse(stdout).findings.map((f: { path: string; line: number }) => `${f.path}:${f.line}`)).toEqual(["nova-conductor.log.1:2", "nova-conductor.log:2"]);
  });

  it("runs only the rules --only names, and none that --exclude names", async () => {
    const only = await runIn(["scan", "-", "--format", "json", "--only", "nova-set-instance-error"], { stdin: conductor });
    expect(JSON.parse(only.stdout).findings).toEqual([]);
    expect(only.code).toBe(0);
    const excluded = await runIn(["scan", "-", "--format", "json", "--exclude", "nova-no-valid-host"], { stdin: conductor });
    expect(JSON.parse(excluded.stdout).findings).toEqual([]);
    const unknown = await runIn(["scan", "-", "--only", "nova-no-such-rule"], { stdin: conductor });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown rule id `nova-no-such-rule`/);
  });

  it("reads journalctl -o json on standard input", async () => {
    const { readFileSync } = await import("node:fs");
    const json = readFileSync("fixtures/journal-json/journal.json", "utf8");
    const { code, stdout } = await runIn(["scan", "-", "--format", "json"], { stdin: json });
    expect(code).toBe(1);
    const findings = JSON.parse(stdout).findings as { ruleId: string; path: string; host: string }[];
    expect(findings.some((f) => f.ruleId === "nova-no-valid-host" && f.path === "-" && f.host === "compute-4")).toBe(true);
  });

  it("reports journal lines whose inner oslo, libvirt or bare line is an error, and no lines that only mention one", async () => {
    const journal = [
      "-- Logs begin at Fri 2024-03-08 09:34:04 UTC, end at Tue 2024-03-12 16:19:19 UTC. --",
      "Mar 12 10:15:40 compute-1 systemd[1]: Started Session 5 of user root.",
      "Mar 12 10:15:41 compute-1 kernel: ACPI Error: AE_NOT_FOUND, While resolving a named reference package element",
      "Mar 12 10:15:42 compute-1 nova-compute[2741]: 2024-03-12 10:15:42.318 2741 ERROR nova.compute.manager [None req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 - - default default] Error updating resources for node compute-1.",
      "Mar 12 10:15:43 compute-1 libvirtd[3310]: 2024-03-12 10:15:43.101+0000: 3310: error : virConnectListAllDomains:6950 : this function is not supported by the connection driver: virConnectListAllDomains",
      "Mar 12 10:15:44 controller-1 nova-api[1877]: CRITICAL nova [-] Unhandled error",
      "Mar 12 10:15:45 compute-1 nova-compute[2741]: 2024-03-12 10:15:45.000 2741 INFO nova.compute.manager [-] Retrying after error",
      "Mar 12 10:15:46 compute-1 libvirtd[3310]: 2024-03-12 10:15:46.101+0000: 3310: info : virObjectNew:225 : OBJECT_NEW: obj=0x7f1 error=none",
      "",
    ].join("\n");
    const { code, stdout } = await runIn(["scan", "-", "--format", "json"], { stdin: journal });
    // Unmatched errors are information: they do not fail the run.
    expect(code).toBe(0);
    const findings = JSON.parse(stdout).findings as { ruleId: string; line: number; component: string }[];
    expect(findings.map((f) => [f.ruleId, f.line, f.component]).sort((a, b) => (a[1] as number) - (b[1] as number))).toEqual([
      ["unmatched-error", 4, "nova-compute"],
      ["unmatched-error", 5, "libvirtd"],
      ["unmatched-error", 6, "nova-api"],
    ]);
  });

  it("reports the lower-case and abbreviated error levels of RabbitMQ, MariaDB and httpd logs", async () => {
    const root = tree({
      "var/log/rabbitmq/rabbit@ctl-1.log": [
        "2022-02-04 09:52:57.561 [info] <0.8.0> Feature flags: list of feature flags found:",
        "2022-02-04 09:53:08.006 [error] <0.1129.0> Supervisor {<0.1129.0>,rabbit_channel_sup} had child channel started with rabbit_channel:start_link() at undefined exit with reason normal in context shutdown_error",
        "2022-02-04 09:53:09.112 [warning] <0.1130.0> Mirrored queue 'notifications.info' in vhost 'openstack': Stopping all nodes on master shutdown since no synchronised slave is available",
        "",
      ].join("\n"),
      "var/log/mysql/error.log": ["2020-10-27 18:27:01 0 [Note] InnoDB: Using Linux native AIO", "2020-10-27 18:27:02 512 [ERROR] mysqld: Table './nova/instances' is marked as crashed and should be repaired", ""].join("\n"),
      "var/log/httpd/error_log": [
        "[Thu Nov 19 00:23:02.663867 2015] [mpm_event:notice] [pid 15:tid 140219478353664] AH00489: Apache/2.4.6 configured -- resuming normal operations",
        '[Thu Nov 19 00:23:03.101010 2015] [core:crit] [pid 15:tid 140219478353664] AH00102: [Thu Nov 19 00:23:03 2015] file worker.c, line 1020, assertion "rv == APR_SUCCESS" failed',
        "",
      ].join("\n"),
    });
    const { stdout } = await runIn(["scan", root, "--format", "json"]);
    const findings = JSON.parse(stdout).findings as { ruleId: string; path: string; line: number }[];
    expect(findings.map((f) => [f.ruleId, f.path, f.line]).sort()).toEqual([
      ["unmatched-error", "var/log/httpd/error_log", 2],
      ["unmatched-error", "var/log/mysql/error.log", 2],
      ["unmatched-error", "var/log/rabbitmq/rabbit@ctl-1.log", 2],
    ]);
  });
});

describe("exit codes a pipeline acts on", () => {
  it("leaves a clean run clean when an input is skipped, unless --strict", async () => {
    const root = tree({ "var/log/nova/nova-api.log": "2024-03-12 10:00:00.000 1 INFO nova.api [-] ok\n", "var/log/nova/core.log": "\u0000\u0001binary" });
    const relaxed = await runIn(["scan", root]);
    expect(relaxed.code).toBe(0);
    expect(relaxed.stderr).toMatch(/core\.log: binary file/);
    expect((await runIn(["scan", root, "--strict"])).code).toBe(2);
  });

  it("keeps only the window --since and --until give, in absolute times", async () => {
    const two = conductor + conductor.replace("req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27", "req-7d3e604e-126d-4fc4-a14f-a2770f843a66").replaceAll("2024-03-12", "2024-03-14");
    const lines = async (...flags: string[]) => (JSON.parse((await runIn(["scan", "-", "--format", "json", ...flags], { stdin: two })).stdout).findings as { line: number }[]).map((f) => f.line);
    expect(await lines()).toEqual([2, 5]);
    expect(await lines("--since", "2024-03-13T00:00")).toEqual([5]);
    expect(await lines("--until", "2024-03-13")).toEqual([2]);
    const bad = await runIn(["scan", "-", "--since", "yesterday-ish"], { stdin: two });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since takes an ISO time/);
  });
});

describe("severity that depends on what a finding explains", () => {
  const downLine = "2024-03-12 10:15:39.950 3011 WARNING nova.scheduler.filters.compute_filter [None req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 - - default default] (compute-2, compute-2.example.com) ram: 31488MB disk: 412672MB io_ops: 0 instances: 3, allocation_candidates: 1 has not been heard from in a while\n";

  it("reports a compute service record that is down, alone, as a warning (a stale record fails no pipeline)", async () => {
    const { code, stdout } = await runIn(["scan", "-", "--format", "json"], { stdin: downLine });
    expect(JSON.parse(stdout).findings.map((f: { ruleId: string; severity: string }) => [f.ruleId, f.severity])).toEqual([["nova-compute-service-down", "warning"]]);
    expect(code).toBe(0);
  });

  it("keeps it an error when it explains the NoValidHost of the same request", async () => {
    const { code, stdout } = await runIn(["scan", "-", "--format", "json"], { stdin: downLine + conductor });
    const findings = JSON.parse(stdout).findings as { ruleId: string; severity: string }[];
    expect(findings.find((f) => f.ruleId === "nova-compute-service-down")?.severity).toBe("error");
    expect(code).toBe(1);
  });
});

describe("cloudtriage rules", () => {
  it("lists every rule with its severity, as text and JSON", async () => {
    const text = await runIn(["rules", "list"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^nova-no-valid-host\s+error\s+/m);
    const json = JSON.parse((await runIn(["rules", "list", "--format", "json", "--lang", "zh-CN"])).stdout) as { id: string; title: string }[];
    expect(json.find((r) => r.id === "zstack-no-vmx-svm")?.title).toMatch(/[\u4e00-\u9fff]/);
  });

  it("shows one rule in full, and says so for an unknown one", async () => {
    const shown = await runIn(["rules", "show", "libvirt-rbd-secret-not-found"]);
    expect(shown.stdout).toMatch(/virsh secret-list|secret-define/);
    expect((await runIn(["rules", "show", "nope-nope"])).code).toBe(2);
  });

  it("tests a user pack and fails on a rule whose example does not fire", async () => {
    const pack = tree({
      "p/user-broken-example.yaml": [
        "id: user-broken-example",
        "title: {en: A user rule, zh-CN: 用户规则}",
        "severity: warning",
        "match: 'Migration may lead to data corruption'",
        "remediation: {en: Fix the cache mode., zh-CN: 修改缓存模式。}",
        "references: ['https://libvirt.org/formatdomain.html']",
        "examples:",
        "  source: var/log/libvirt/libvirtd.log",
        "  positive:",
        "    - line: '2024-03-12 13:05:11.020+0000: 2411: error : qemuMigrationSrcIsSafe:1411 : Unsafe migration: disks are fine'",
        "  negative:",
        "    - line: '2024-03-12 13:05:11.020+0000: 2411: info : ok'",
        "      why: an info line",
        "",
      ].join("\n"),
    });
    const { code, stdout } = await runIn(["rules", "test", path.join(pack, "p")]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/FAIL user-broken-example/);
    expect(stdout).toMatch(/Missing: .*expected exactly one finding, got 0/);
    expect(stdout).toMatch(/1 passed, 1 failed/);
  });

  it("lints the built-in pack clean", async () => {
    const { code, stdout } = await runIn(["rules", "lint"]);
    expect(stdout).toMatch(/rules, no problems/);
    expect(code).toBe(0);
  });
});

describe("the installed command", () => {
  it("reads a pipe when no path is given", async () => {
    const { code, stdout } = await spawnBin(["scan", "--format", "json"], { input: conductor });
    expect(code).toBe(1);
    expect(JSON.parse(stdout).findings).toHaveLength(1);
  });

  it("ends quietly when the reader of stdout goes away (| head -1)", async () => {
    const input = Array.from({ length: 400 }, () => conductor).join("");
    const { stderr } = await spawnBin(["scan", "-", "--format", "ndjson"], { input, closeAfterFirstLine: true });
    expect(stderr).not.toMatch(/Error|at /);
  });

  it("writes a live NDJSON finding while the pipe stays open and quiet (journalctl -f)", async () => {
    const child = spawn(process.execPath, [bin, "scan", "-", "--format", "ndjson"], { stdio: ["pipe", "pipe", "pipe"] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d;
        if (out.includes("\n")) resolve(out.split("\n", 1)[0] ?? "");
      });
      child.on("close", () => reject(new Error(`ended without a finding: ${out}`)));
      // One healthy line, then the failure, then nothing: the pipe is not closed.
      child.stdin.write(conductor.split("\n")[0] + "\n");
      setTimeout(() => child.stdin.write(conductor.split("\n")[1] + "\n"), 100);
    });
    expect(JSON.parse(line)).toMatchObject({ ruleId: "nova-no-valid-host", path: "-", line: 2 });
    const closed = new Promise((resolve) => child.on("close", (code, signal) => resolve(code ?? signal)));
    child.kill("SIGTERM");
    expect(await closed).toBe(143);
    // The copy of standard input kept for re-reading goes with the process.
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith(`cloudtriage-${child.pid}-`))).toEqual([]);
  });

  it("honours NO_COLOR over FORCE_COLOR, and --color over both", async () => {
    const plain = await spawnBin(["scan", "-"], { input: conductor, env: { NO_COLOR: "1", FORCE_COLOR: "1" } });
    expect(plain.stdout).not.toMatch(/\x1b\[/);
    const forced = await spawnBin(["scan", "-", "--color"], { input: conductor, env: { NO_COLOR: "1" } });
    expect(forced.stdout).toMatch(/\x1b\[/);
  });

  it("prints titles and remediation in Chinese under LANG=zh_CN.UTF-8, and JSON says which language", async () => {
    const text = await spawnBin(["scan", "fixtures/openstack-controller-compute", "--no-color"], { env: { LANG: "zh_CN.UTF-8" } });
    expect(text.code).toBe(1);
    expect(text.stdout).toContain("根本原因");
    expect(text.stdout).toContain("处理步骤");
    expect(text.stdout).toMatch(/调度器|主机/);
    const json = await spawnBin(["scan", "fixtures/openstack-controller-compute", "--format", "json", "--lang", "zh-CN"]);
    const result = JSON.parse(json.stdout);
    expect(result.language).toBe("zh-CN");
    expect(result.findings.find((f: { ruleId: string }) => f.ruleId === "nova-no-valid-host").remediation).toMatch(/[\u4e00-\u9fff]/);
  });

  it("prints usage errors on stderr with exit 2", async () => {
    const { code, stderr } = await spawnBin(["scan", "--fail-on", "sometimes", "x"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/fail-on/);
  });
});
