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
