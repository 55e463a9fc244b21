// A scan over several threads must say exactly what one thread says: findings, links, notices, skips.
import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { minParallelBytes } from "../src/scan.js";
import { makeTree } from "./helpers/cli.js";

const bin = path.resolve("bin/cloudtriage.js");

function scan(root: string, jobs: number, extra: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, "scan", root, "--format", "json", "--jobs", String(jobs), ...extra], { encoding: "utf8", maxBuffer: 256 << 20, env: { PATH: process.env.PATH } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("--jobs 2", () => {
  let root = "";
  beforeAll(() => {
    root = makeTree({}, "ct-parallel-");
    const gen = spawnSync(process.execPath, ["scripts/gen-logs.mjs", "--out", root, "--size", "200MiB", "--seed", "3", "--failure-every", "4MiB"], { encoding: "utf8" });
    expect(gen.status).toBe(0);
  }, 60_000);

  it("gives the JSON, notices and skips of --jobs 1, byte for byte, on a tree big enough to be scanned in parallel", () => {
    // Files that make notices and skips, so their order after the merge is tested too.
    copyFileSync("fixtures/bad-input/invalid-utf8.log", path.join(root, "var/log/nova/nova-bad.log"));
    copyFileSync("fixtures/bad-input/truncated.log.gz", path.join(root, "var/log/nova/nova-old.log.1.gz"));
    writeFileSync(path.join(root, "var/log/nova/nova-empty.log"), "");
    const total = ["nova/nova-api.log", "nova/nova-compute.log", "nova/nova-scheduler.log", "nova/nova-conductor.log", "libvirt/libvirtd.log"].reduce((n, f) => n + statSync(path.join(root, "var/log", f)).size, 0);
    expect(total).toBeGreaterThan(minParallelBytes);

    const one = scan(root, 1);
    const two = scan(root, 2);
    expect(two.code).toBe(one.code);
    expect(two.stderr).toBe(one.stderr);
    expect(two.stdout).toBe(one.stdout);
    // Each thread's index overflows a budget this small: the second read links the same lines.
    const budget = scan(root, 2, ["--index-memory", "1MiB"]);
    expect(budget.stderr).toBe(`${one.stderr}cloudtriage: the id index passed --index-memory 1MiB; reading the logs again to link the findings (slower, same report)\n`);
    expect(budget.stdout).toBe(one.stdout);

    const result = JSON.parse(one.stdout);
    const injected: { rule: string; line: number; path: string }[] = JSON.parse(readFileSync(path.join(root, "injected.json"), "utf8"));
    type Found = { ruleId: string; path: string; line: number; count: number };
    const found = new Set(result.findings.map((f: Found) => `${f.ruleId} ${f.path} ${f.line}`));
    // A folded finding (count > 1) stands for the later identical records of its rule in its file.
    const folded = (e: { rule: string; path: string; line: number }) => result.findings.some((f: Found) => f.count > 1 && f.ruleId === e.rule && f.path === e.path && f.line <= e.line);
    expect(injected.filter((e) => !found.has(`${e.rule} ${e.path} ${e.line}`) && !folded(e))).toEqual([]);
    expect(result.incidents.length).toBeGreaterThan(0);
    expect(one.stderr).toMatch(/nova-bad\.log:\d+: invalid UTF-8/);
    expect(one.stderr).toMatch(/nova-old\.log\.1\.gz: truncated gzip stream/);
  }, 60_000);

  it("reports the bytes every thread read to the progress bar, for both passes", async () => {
    const { scan: scanTree } = (await import(path.resolve("dist/scan.js"))) as typeof import("../src/scan.js");
    const { loadRules } = (await import(path.resolve("dist/ruleset/load.js"))) as typeof import("../src/ruleset/load.js");
    const seen: { files: number; totalFiles: number; bytes: number; totalBytes: number; pass: 1 | 2 }[] = [];
    const inputs = [path.join(root, "var/log")];
    const result = await scanTree({ inputs, cwd: root, rules: loadRules(), language: "en", jobs: 2, ruleSource: { dirs: [], cwd: root }, indexBytes: 1 << 20, onProgress: (p) => seen.push(p) });
    for (const pass of [1, 2] as const) {
      const reports = seen.filter((p) => p.pass === pass);
      expect(reports.length).toBeGreaterThan(1);
      // Never backwards, and at the end close to all of it: each thread adds what it read as it goes.
      expect(reports.every((p, i) => i === 0 || (p.bytes >= (reports[i - 1]?.bytes ?? 0) && p.files >= (reports[i - 1]?.files ?? 0)))).toBe(true);
      expect(reports[0]?.bytes).toBe(0);
      // Each thread counts whole KiB: the end is short of the text by less than 1 KiB a thread.
      expect(result.summary.bytes - (reports.at(-1)?.bytes ?? 0)).toBeGreaterThanOrEqual(0);
      expect(result.summary.bytes - (reports.at(-1)?.bytes ?? 0)).toBeLessThan(2048);
      expect(reports.at(-1)?.files).toBe(reports.at(-1)?.totalFiles);
    }
    // The total counts gzip files by their inflated text, as the bytes read do.
    expect(seen[0]?.totalBytes).toBeGreaterThanOrEqual(result.summary.bytes);
    const lastFirstPass = seen.length - 1 - [...seen].reverse().findIndex((p) => p.pass === 1);
    expect(seen.findIndex((p) => p.pass === 2)).toBeGreaterThan(lastFirstPass);
  }, 60_000);

  it("fails the scan with the worker's error when a worker cannot start, instead of ending the process", async () => {
    // The built module, as the installed command runs it: its workers are dist/scan-worker.js.
    const { scan: scanTree } = (await import(path.resolve("dist/scan.js"))) as typeof import("../src/scan.js");
    const { loadRules } = (await import(path.resolve("dist/ruleset/load.js"))) as typeof import("../src/ruleset/load.js");
    const missing = path.join(root, "no-such-rules");
    const scanning = scanTree({ inputs: [path.join(root, "var/log")], cwd: root, rules: loadRules(), language: "en", jobs: 2, ruleSource: { dirs: [missing], cwd: root } });
    await expect(scanning).rejects.toThrow(/no-such-rules/);
  }, 60_000);
});

describe("one big oslo.log over two threads", () => {
  type ScanModule = typeof import("../src/scan.js");
  let root = "";
  let file = "";
  beforeAll(() => {
    root = makeTree({}, "ct-parts-");
    const gen = spawnSync(process.execPath, ["scripts/gen-logs.mjs", "--out", root, "--size", "64MiB", "--seed", "5", "--failure-every", "2MiB"], { encoding: "utf8" });
    expect(gen.status).toBe(0);
    // nova-compute.log with, every 300 KB or so, what a part must hand on to the next: a traceback record
    // that folds into one finding, an ERROR line with invalid UTF-8 and a line over the matching cap
    // (each noticed once a file), so some cuts fall next to them and every part holds them.
    const log = readFileSync(path.join(root, "var/log/nova/nova-compute.log"));
    // Its time goes up from piece to piece (and before the log's own): the file's first time is the first part's.
    const traceback = (k: number) => {
      const ts = `2018-05-14 09:${String(k % 60).padStart(2, "0")}:02.114 21301 ERROR nova.context`;
      const lines = [
        `${ts} [req-a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d - - - - -] Error gathering result from cell 00000000-0000-0000-0000-000000000000`,
        `${ts} Traceback (most recent call last):`,
        `${ts}   File "/usr/lib/python2.7/site-packages/nova/context.py", line 438, in gather_result`,
        `${ts}     result = fn(cctxt, *args, **kwargs)`,
        `${ts} OperationalError: (pymysql.err.OperationalError) (1044, u"Access denied for user 'nova'@'%' to database 'nova_cell0'")`,
      ];
      return Buffer.from(`${lines.join("\n")}\n`);
    };
    // An error no rule knows, first seen in a late part: its example's line is counted across the parts.
    const lateError = Buffer.from("2024-03-12 08:00:00.000 2741 ERROR nova.compute.manager [-] the fan controller stopped answering\n");
    // Its last sighting is in the last part: the template's lastSeen comes from there.
    const odd = (k: number) => Buffer.from(`2024-03-12 07:${String(k % 60).padStart(2, "0")}:00.000 2741 ERROR nova.compute.manager [-] unreadable \xff\xfe bytes from the hypervisor\n`, "latin1");
    const long = Buffer.from(`2024-03-12 07:00:00.001 2741 WARNING nova.compute.manager [-] ${"x".repeat(100_000)}\n`);
    const pieces: Buffer[] = [];
    for (let at = 0; at < log.length; ) {
      let next = log.indexOf(10, Math.min(log.length - 1, at + 300_000)) + 1;
      if (next <= 0) next = log.length;
      pieces.push(log.subarray(at, next), traceback(pieces.length), odd(pieces.length), long);
      if (at < (log.length * 2) / 3 && next >= (log.length * 2) / 3) pieces.push(lateError);
      at = next;
    }
    file = path.join(root, "var/log/nova/nova-big.log");
    writeFileSync(file, Buffer.concat(pieces));
  }, 60_000);

  async function report(scanModule: ScanModule, inputs: string[], jobs: number): Promise<string> {
    const { loadRules } = (await import(path.resolve("dist/ruleset/load.js"))) as typeof import("../src/ruleset/load.js");
    const said: string[] = [];
    const result = await scanModule.scan({ inputs, cwd: root, rules: loadRules(), language: "en", jobs, ruleSource: { dirs: [], cwd: root }, minParallelBytes: 1, minPartBytes: 1 << 20, maxLineBytes: 64 << 10, onNotice: (n) => said.push(`${n.path}:${n.line}: ${n.message}`), onSkip: (s) => said.push(`skip ${s.path}: ${s.reason}`) });
    return JSON.stringify({ result, said }, null, 1);
  }

  it("is cut into parts, and gives the report, notices and line numbers of one thread", async () => {
    const scanModule = (await import(path.resolve("dist/scan.js"))) as ScanModule;
    const { collectInputs } = (await import(path.resolve("dist/reader/inputs.js"))) as typeof import("../src/reader/inputs.js");
    const { sources } = await collectInputs([file], root);
    const units = scanModule.planUnits(sources, [statSync(file).size], 2, 1 << 20);
    expect(units.filter((u) => u.part !== null).length).toBeGreaterThanOrEqual(6);

    const one = await report(scanModule, [file], 1);
    const two = await report(scanModule, [file], 2);
    expect(two).toBe(one);
    const { result, said } = JSON.parse(one) as { result: { findings: { ruleId: string; count: number; line: number }[] }; said: string[] };
    // What the parts had to join: one finding for all the repeated tracebacks, and each notice once.
    const denied = result.findings.filter((f) => f.ruleId === "nova-db-access-denied");
    expect(denied).toHaveLength(1);
    expect(denied[0]?.count).toBeGreaterThanOrEqual(6);
    expect(said.filter((s) => s.includes("invalid UTF-8"))).toHaveLength(1);
    expect(said.filter((s) => /\d+ line\(s\) longer than/.test(s))).toHaveLength(1);
    // At the first long line of the file, counted from its start, not from a part's.
    const text = readFileSync(file, "latin1");
    const firstLong = text.slice(0, text.indexOf("x".repeat(1000))).split("\n").length;
    expect(firstLong).toBeGreaterThan(100);
    expect(said.find((s) => s.includes("longer than"))).toContain(`nova-big.log:${firstLong}: `);
  }, 60_000);

  it("joins the parts into what one read of the file gives: its description, index entries, unknown errors and findings", async () => {
    const { scanAssigned, joinParts, planUnits } = await import("../src/scan.js");
    const { collectInputs } = await import("../src/reader/inputs.js");
    const { loadRules } = await import("../src/ruleset/load.js");
    const { sources } = await collectInputs([file], root);
    const options = { inputs: [], cwd: root, rules: loadRules(), language: "en" as const, maxLineBytes: 64 << 10 };
    const queueOf = (units: import("../src/scan.js").WorkUnit[]) => ({ units, next: new Int32Array(new SharedArrayBuffer(4)), done: new Int32Array(new SharedArrayBuffer(12)) });
    const size = statSync(file).size;
    const whole = (await scanAssigned(options, sources, queueOf([{ source: 0, part: null, size }]))).whole;
    const parts = (await scanAssigned(options, sources, queueOf(planUnits(sources, [size], 2, 1 << 20)))).parts;
    expect(parts.length).toBeGreaterThanOrEqual(6);
    const joined = joinParts(0, parts, 64 << 10);
    const describe = (r: typeof whole) => {
      const { records, windows, firstTime, lastTime, lastLine, format, notices } = r.sources[0]?.info ?? {};
      const entries = r.index.blocks.flatMap((b) => Array.from(b.hashes.subarray(0, b.used), (h, i) => `${h}:${(b.lines[i] as number) + b.lineBase}`));
      const unknown = r.unmatched.map((t) => [t.key, t.record.line, t.count, t.firstTimestamp, t.lastTimestamp]).sort();
      const findings = r.findings.map((f) => [f.finding.ruleId, f.finding.line, f.finding.count]);
      return { records, windows, firstTime, lastTime, lastLine, format, notices, entries, unknown, findings, lines: r.lines, bytes: r.bytes };
    };
    const expected = describe(whole);
    expect(expected.windows).toBeGreaterThan(parts.length);
    expect(expected.unknown.some((t) => String(t[0]).includes("fan controller"))).toBe(true);
    expect(describe(joined)).toEqual(expected);
  }, 60_000);

  it("reads the file again whole when its own first lines say it is not an oslo.log", async () => {
    // Three long journal lines, then oslo lines: the cut's guess reads 40 lines and says oslo; the scan
    // decides from the lines in its first 64 KiB, which are journal lines.
    const journal = `Mar 12 06:00:01 compute-1 nova-compute[2741]: ${"y".repeat(25_000)}\n`.repeat(3);
    const mixed = path.join(root, "var/log/nova/nova-mixed.log");
    writeFileSync(mixed, Buffer.concat([Buffer.from(journal), readFileSync(file)]));
    const scanModule = (await import(path.resolve("dist/scan.js"))) as ScanModule;
    const { collectInputs } = (await import(path.resolve("dist/reader/inputs.js"))) as typeof import("../src/reader/inputs.js");
    const { sources } = await collectInputs([mixed], root);
    expect(scanModule.planUnits(sources, [statSync(mixed).size], 2, 1 << 20).filter((u) => u.part !== null).length).toBeGreaterThan(1);
    const one = await report(scanModule, [mixed], 1);
    expect(await report(scanModule, [mixed], 2)).toBe(one);
    expect(JSON.parse(one).result.findings.length).toBeGreaterThan(0);
  }, 60_000);
});
