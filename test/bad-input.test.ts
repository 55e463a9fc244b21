// Bad input as an operator meets it: each broken file, link, pipe, stream or rule pack gets one stderr line, and the scan goes on.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";

const bin = path.resolve("bin/cloudtriage.js");
const repo = process.cwd();
const badInput = "fixtures/bad-input";

const requestId = "req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27";
const failure = `2024-03-12 10:15:40.121 2744 WARNING nova.scheduler.utils [None ${requestId} - - default default] Failed to compute_task_build_instances: No valid host was found. There are not enough hosts available.`;
const info = (message: string) => `2024-03-12 10:15:39.001 2744 INFO nova.conductor.manager [None req-0c4f9e3d-0a57-4b41-8f46-1c3e5d7f9a01 - - default default] ${message}`;
const conductor = "var/log/nova/nova-conductor.log";
const noSuchFile = "no such file (it vanished or is a dangling link)";
const notRegular = "not a regular file (FIFO, socket or device); skipped";

interface Skipped {
  path: string;
  reason: string;
}
interface Finding {
  ruleId: string;
  path: string;
  line: number;
  message: string;
  requestIds: string[];
  component: string | null;
}
interface Report {
  summary: { files: number; lines: number; skipped: Skipped[]; truncatedLines: number };
  findings: Finding[];
}

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function tempDir(): string {
  const root = mkdtempSync(path.join(tmpdir(), "ct-bad-"));
  roots.push(root);
  return root;
}

function tree(files: Record<string, string | Buffer>): string {
  const root = tempDir();
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), content);
  }
  return root;
}

function runIn(argv: string[], options: { stdin?: string | Buffer; cwd?: string } = {}) {
  return runCli(argv, { ...options, cwd: options.cwd ?? repo });
}

/** `scan … --format json`, parsed: what an operator's tooling reads, and the stderr they see. */
async function scanJson(paths: string[], options: { stdin?: string | Buffer; cwd?: string; extra?: string[] } = {}) {
  const { code, stdout, stderr } = await runIn(["scan", ...paths, "--format", "json", ...(options.extra ?? [])], options);
  return { code, stderr, report: JSON.parse(stdout) as Report };
}

const where = (report: Report) => report.findings.map((f) => [f.ruleId, f.path, f.line]);

/**
 * The command as an unprivileged user runs it. When that user cannot reach this checkout (CI may clone
 * under /root), a world-readable copy of what the scan needs is made once: the build, the rules, and the
 * runtime dependencies.
 */
let nobodyBin: string | null = null;
function binFor(uid: number | undefined): string {
  if (uid === undefined) return bin;
  if (nobodyBin) return nobodyBin;
  const reachable = spawnSync(process.execPath, ["-e", `require("fs").accessSync(${JSON.stringify(bin)})`], { uid, gid: uid }).status === 0;
  if (reachable) return (nobodyBin = bin);
  const copy = mkdtempSync(path.join(tmpdir(), "ct-nobody-"));
  for (const part of ["bin", "dist", "rules", "package.json"]) cpSync(path.join(repo, part), path.join(copy, part), { recursive: true, preserveTimestamps: true });
  for (const dep of ["commander", "chalk", "yaml", "zod", "safe-regex2", "ret"]) cpSync(path.join(repo, "node_modules", dep), path.join(copy, "node_modules", dep), { recursive: true });
  execFileSync("chmod", ["-R", "a+rX", copy]);
  return (nobodyBin = path.join(copy, "bin", "cloudtriage.js"));
}

function spawnBin(args: string[], options: { cwd?: string; uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {}) {
  return spawn(process.execPath, [binFor(options.uid), ...args], {
    cwd: options.cwd ?? repo,
    env: { PATH: process.env.PATH, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}),
  });
}

function collect(child: ReturnType<typeof spawnBin>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d));
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

describe("files that are not clean text", () => {
  it("skips a binary file with its reason and still reports the good file beside it", async () => {
    const root = tree({ [conductor]: `${failure}\n` });
    const { code, stderr, report } = await scanJson([`${badInput}/binary.log`, path.join(root, conductor)]);
    expect(report.summary.skipped).toEqual([{ path: `${badInput}/binary.log`, reason: "binary file (NUL byte at offset 9); skipped" }]);
    expect(report.summary.skipped[0]?.reason).toMatch(/^binary file/);
    expect(stderr).toBe(`cloudtriage: ${badInput}/binary.log: binary file (NUL byte at offset 9); skipped\n`);
    expect(where(report)).toEqual([["nova-no-valid-host", path.join(root, conductor), 1]]);
    expect(code).toBe(1);
  });

  it("finds the failure on its own line after invalid UTF-8, and says once where the bad bytes are", async () => {
    const { code, stderr, report } = await scanJson([`${badInput}/invalid-utf8.log`]);
    expect(where(report)).toEqual([["nova-no-valid-host", `${badInput}/invalid-utf8.log`, 3]]);
    expect(stderr).toBe(`cloudtriage: ${badInput}/invalid-utf8.log:2: invalid UTF-8 (shown as U+FFFD; line numbers are unaffected)\n`);
    expect(report.summary).toMatchObject({ lines: 4, skipped: [] });
    expect(code).toBe(1);
  });

  it("scans a log with NUL bytes after its first 8 KiB, and finds the line a crash's NUL padding ran into", async () => {
    const before = Array.from({ length: 120 }, (_, i) => info(`Scheduling instance ${i}`));
    expect(before.join("\n").length).toBeGreaterThan(8192);
    const nulInText = `2024-03-12 10:15:39.900 2744 WARNING nova.scheduler.host_manager [None ${requestId} - - default default] Host compute-1\0\0\0\0 has not reported`;
    // Power loss: the file system had allocated blocks the log never wrote, and the restarted service writes after them.
    const body = Buffer.concat([Buffer.from(`${before.join("\n")}\n${nulInText}\n`), Buffer.alloc(4096), Buffer.from(`${failure}\n${info("Done")}\n`)]);
    const root = tree({ [conductor]: body });
    const { code, stderr, report } = await scanJson([root]);
    expect(report.summary.skipped).toEqual([]);
    expect(report.summary.lines).toBe(123);
    expect(report.findings.map((f) => [f.ruleId, f.line, f.requestIds])).toEqual([["nova-no-valid-host", 122, [requestId]]]);
    expect(stderr).toBe(`cloudtriage: ${conductor}:121: NUL bytes inside the text (kept; line numbers are unaffected)\n`);
    expect(code).toBe(1);
  });

  it("keeps line numbers and strips CR from a CRLF log", async () => {
    const { code, stderr, report } = await scanJson([`${badInput}/crlf.log`]);
    expect(where(report)).toEqual([["nova-no-valid-host", `${badInput}/crlf.log`, 3]]);
    expect(report.findings[0]?.message).toBe("Failed to compute_task_build_instances: No valid host was found. There are not enough hosts available.");
    expect(JSON.stringify(report.findings)).not.toContain("\\r");
    expect(report.summary.lines).toBe(4);
    expect(stderr).toBe("");
    expect(code).toBe(1);
  });

  it("matches a 5 MB line on its head, counts it, and keeps the next line's number", async () => {
    const huge = `2024-03-12 10:15:39.500 2744 DEBUG oslo_messaging._drivers.amqpdriver [-] received message {"payload": "${"A".repeat(5 * 1024 * 1024)}"}`;
    const root = tree({ [conductor]: `${info("Scheduling")}\n${huge}\n${failure}\n` });
    const { code, stderr, report } = await scanJson([root]);
    expect(where(report)).toEqual([["nova-no-valid-host", conductor, 3]]);
    expect(report.summary).toMatchObject({ lines: 3, truncatedLines: 1, skipped: [] });
    expect(stderr).toBe(`cloudtriage: ${conductor}:2: 1 line(s) longer than 1 MiB; matched on their first bytes only\n`);
    expect(code).toBe(1);
  });

  it("reads an empty file as zero lines, with nothing on stderr", async () => {
    const { code, stderr, report } = await scanJson([`${badInput}/empty.log`]);
    expect(report.summary).toMatchObject({ files: 1, lines: 0, skipped: [] });
    expect(report.findings).toEqual([]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("scans what a truncated gzip gave before the cut and says it was truncated", async () => {
    const { code, stderr, report } = await scanJson([`${badInput}/truncated.log.gz`]);
    expect(where(report)).toEqual([["nova-no-valid-host", `${badInput}/truncated.log.gz`, 2]]);
    const [skipped] = report.summary.skipped;
    expect(report.summary.skipped).toHaveLength(1);
    expect(skipped?.path).toBe(`${badInput}/truncated.log.gz`);
    expect(skipped?.reason).toMatch(/^truncated gzip stream after \d+\.\d MB; earlier lines were scanned$/);
    expect(stderr).toBe(`cloudtriage: ${badInput}/truncated.log.gz: ${skipped?.reason}\n`);
    // The whole log had 3002 lines; most of the first 60 % of its compressed bytes decode.
    expect(report.summary.lines).toBeGreaterThan(1000);
    expect(report.summary.lines).toBeLessThan(3002);
    expect(code).toBe(1);
  });

  it("scans every gzip member before trailing garbage and names where the garbage starts", async () => {
    // Node's gunzip throws away what it decoded in the step that meets garbage; nothing before it may be lost.
    const file = `${badInput}/trailing-garbage.log.gz`;
    const reason = "trailing garbage at byte 426, after the gzip data; earlier lines were scanned";
    const { code, stderr, report } = await scanJson([file]);
    expect(where(report)).toEqual([["nova-no-valid-host", file, 3]]);
    expect(report.summary.lines).toBe(4);
    expect(report.summary.skipped).toEqual([{ path: file, reason }]);
    expect(stderr).toBe(`cloudtriage: ${file}: ${reason}\n`);
    expect(code).toBe(1);

    const piped = await scanJson(["-"], { stdin: readFileSync(file) });
    expect(where(piped.report)).toEqual([["nova-no-valid-host", "-", 3]]);
    expect(piped.stderr).toBe(`cloudtriage: -: ${reason}\n`);
  });

  it("reads a gzip padded with zero bytes quietly, as gzip does", async () => {
    const { code, stderr, report } = await scanJson([`${badInput}/zero-padded.log.gz`]);
    expect(where(report)).toEqual([["nova-no-valid-host", `${badInput}/zero-padded.log.gz`, 1]]);
    expect(report.summary).toMatchObject({ lines: 2, skipped: [] });
    expect(stderr).toBe("");
    expect(code).toBe(1);
  });

  it("survives timestamps from the future, the past and no calendar, with every line number right", async () => {
    const file = `${badInput}/clock-skew.log`;
    const { code, stderr, report } = await scanJson([file]);
    expect(report.findings.map((f) => [f.ruleId, f.line]).sort((a, b) => (a[1] as number) - (b[1] as number))).toEqual([
      ["unmatched-error", 3],
      ["nova-no-valid-host", 4],
      ["unmatched-error", 6],
    ]);
    expect(report.summary.lines).toBe(6);
    expect(stderr).toBe("");
    expect(code).toBe(1);
    // A time window over such a log still runs; the failure dated 2087 is inside "the last 24 hours".
    const windowed = await scanJson([file], { extra: ["--since", "24h"] });
    expect(windowed.report.findings.filter((f) => f.ruleId === "nova-no-valid-host").map((f) => f.line)).toEqual([4]);
    expect(windowed.stderr).toBe("");
  });

  it("parses the other entries of a journal JSON export and names the line that is not JSON", async () => {
    const file = `${badInput}/journal-bad-line.json`;
    const { code, stderr, report } = await scanJson([file]);
    expect(report.findings.map((f) => [f.ruleId, f.line, f.component, f.requestIds])).toEqual([["nova-no-valid-host", 3, "nova-conductor", [requestId]]]);
    expect(report.summary.lines).toBe(4);
    expect(stderr).toBe(`cloudtriage: ${file}:1: not a journal JSON object; read as plain text\n`);
    expect(code).toBe(1);
  });
});

describe("paths that cannot be read", () => {
  it("skips a file and a directory it may not read, each with one line, and scans the rest", async () => {
    const root = tree({ [conductor]: `${failure}\n`, "var/log/nova/nova-api.log": `${failure}\n`, "var/log/locked/nova-compute.log": `${failure}\n` });
    let result: { code: number | null; stderr: string; report: Report };
    if (process.getuid?.() === 0) {
      // root reads through chmod 000, so the scan runs as nobody over a tree everyone may read but for two entries.
      execFileSync("chmod", ["-R", "a+rX", root]);
      chmodSync(path.join(root, "var/log/nova/nova-api.log"), 0o000);
      chmodSync(path.join(root, "var/log/locked"), 0o000);
      const out = await collect(spawnBin(["scan", root, "--format", "json"], { cwd: root, uid: 65534, gid: 65534 }));
      result = { code: out.code, stderr: out.stderr, report: JSON.parse(out.stdout) as Report };
    } else {
      chmodSync(path.join(root, "var/log/nova/nova-api.log"), 0o000);
      chmodSync(path.join(root, "var/log/locked"), 0o000);
      try {
        result = await scanJson([root]);
      } finally {
        chmodSync(path.join(root, "var/log/locked"), 0o755);
      }
    }
    expect(result.report.summary.skipped).toEqual([
      { path: "var/log/locked", reason: "permission denied; directory skipped" },
      { path: "var/log/nova/nova-api.log", reason: "permission denied" },
    ]);
    expect(result.stderr).toBe("cloudtriage: var/log/locked: permission denied; directory skipped\ncloudtriage: var/log/nova/nova-api.log: permission denied\n");
    expect(where(result.report)).toEqual([["nova-no-valid-host", conductor, 1]]);
    expect(result.code).toBe(1);
  });

  it("skips a dangling symlink in a tree and on the command line", async () => {
    const root = tree({ [conductor]: `${failure}\n` });
    symlinkSync(path.join(root, "var/log/nova/nova-compute.log.gone"), path.join(root, "var/log/nova/nova-compute.log"));
    const walked = await scanJson([root]);
    expect(walked.report.summary.skipped).toEqual([{ path: "var/log/nova/nova-compute.log", reason: noSuchFile }]);
    expect(walked.stderr).toBe(`cloudtriage: var/log/nova/nova-compute.log: ${noSuchFile}\n`);
    expect(where(walked.report)).toEqual([["nova-no-valid-host", conductor, 1]]);

    const named = await scanJson(["var/log/nova/nova-compute.log", conductor], { cwd: root });
    expect(named.report.summary.skipped).toEqual([{ path: "var/log/nova/nova-compute.log", reason: noSuchFile }]);
    expect(where(named.report)).toEqual([["nova-no-valid-host", conductor, 1]]);
    expect(named.code).toBe(1);
  });

  it("walks a tree with a directory link to its parent and file links a→b→a once, naming each loop", async () => {
    const root = tree({ [conductor]: `${failure}\n` });
    symlinkSync("..", path.join(root, "var/log/nova/up"));
    symlinkSync("b.log", path.join(root, "var/log/nova/a.log"));
    symlinkSync("a.log", path.join(root, "var/log/nova/b.log"));
    const { code, stderr, report } = await scanJson([root]);
    expect(report.summary.skipped).toEqual([
      { path: "var/log/nova/a.log", reason: "symbolic link loop" },
      { path: "var/log/nova/b.log", reason: "symbolic link loop" },
      { path: "var/log/nova/up", reason: "symbolic link loop (directory already walked); skipped" },
    ]);
    expect(stderr.split("\n").filter(Boolean)).toEqual(report.summary.skipped.map((s) => `cloudtriage: ${s.path}: ${s.reason}`));
    expect(report.summary.files).toBe(1);
    expect(where(report)).toEqual([["nova-no-valid-host", conductor, 1]]);
    expect(code).toBe(1);
  });

  it("never opens a FIFO, in a tree, behind a link or named on the command line", async () => {
    const root = tree({ [conductor]: `${failure}\n` });
    execFileSync("mkfifo", [path.join(root, "var/log/nova/nova-compute.log")]);
    symlinkSync("nova-compute.log", path.join(root, "var/log/nova/nova-api.log"));
    const walked = await scanJson([root]);
    expect(walked.report.summary.skipped).toEqual([
      { path: "var/log/nova/nova-api.log", reason: notRegular },
      { path: "var/log/nova/nova-compute.log", reason: notRegular },
    ]);
    expect(walked.stderr).toBe(`cloudtriage: var/log/nova/nova-api.log: ${notRegular}\ncloudtriage: var/log/nova/nova-compute.log: ${notRegular}\n`);
    expect(where(walked.report)).toEqual([["nova-no-valid-host", conductor, 1]]);

    const named = await scanJson(["var/log/nova/nova-compute.log", conductor], { cwd: root });
    expect(named.report.summary.skipped).toEqual([{ path: "var/log/nova/nova-compute.log", reason: notRegular }]);
    expect(where(named.report)).toEqual([["nova-no-valid-host", conductor, 1]]);
  });

  it("finishes a directory of 20,000 small files and counts them all", async () => {
    const root = tempDir();
    const dir = path.join(root, "var/log/nova");
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 20_000; i++) {
      const name = `nova-compute.log-2024${String(i).padStart(5, "0")}`;
      writeFileSync(path.join(dir, name), i === 12_345 ? `${failure}\n` : `${info(`tick ${i}`)}\n`);
    }
    const { code, stderr, report } = await scanJson([root]);
    expect(report.summary.files).toBe(20_000);
    expect(report.summary.lines).toBe(20_000);
    expect(where(report)).toEqual([["nova-no-valid-host", "var/log/nova/nova-compute.log-202412345", 1]]);
    expect(stderr).toBe("");
    expect(code).toBe(1);
  });

  it("exits 2 with one line when the only path does not exist", async () => {
    const { code, stdout, stderr } = await runIn(["scan", "/nonexistent/var/log/nova/nova-compute.log"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(`cloudtriage: no readable input: /nonexistent/var/log/nova/nova-compute.log: ${noSuchFile}\n`);
  });

  it("skips a missing path next to a good file and reports the good file's finding with exit 1", async () => {
    const root = tree({ [conductor]: `${failure}\n` });
    const { code, stderr, report } = await scanJson(["var/log/nova/nova-compute.log", conductor], { cwd: root });
    expect(report.summary.skipped).toEqual([{ path: "var/log/nova/nova-compute.log", reason: noSuchFile }]);
    expect(stderr).toBe(`cloudtriage: var/log/nova/nova-compute.log: ${noSuchFile}\n`);
    expect(where(report)).toEqual([["nova-no-valid-host", conductor, 1]]);
    expect(code).toBe(1);
  });
});

describe("standard input and standard output", () => {
  it("exits 0 on a standard input that is closed at once", async () => {
    const inProcess = await runIn(["scan", "-", "--format", "json"], { stdin: "" });
    expect(inProcess.code).toBe(0);
    expect(JSON.parse(inProcess.stdout).summary).toMatchObject({ files: 1, lines: 0, skipped: [] });
    expect(inProcess.stderr).toBe("");

    const spool = tempDir();
    const child = spawnBin(["scan", "-"], { env: { TMPDIR: spool } });
    child.stdin.end();
    const out = await collect(child);
    expect(out).toMatchObject({ code: 0, stderr: "" });
    expect(out.stdout).toContain("No known failure found.");
    // The spool that lets the correlator re-read standard input is gone after the scan.
    expect(readdirSync(spool)).toEqual([]);
  });

  it("ends quietly, with no stack trace, when the reader of --format ndjson goes away (| head -1)", async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => failure.replace(requestId, `req-${(0x10000000 + i).toString(16)}-8d3f-4f61-9c2a-0e7b1d4a3f27`));
    const root = tree({ [conductor]: `${lines.join("\n")}\n` });
    const child = spawnBin(["scan", root, "--format", "ndjson"]);
    let first = "";
    child.stdout.on("data", (d: Buffer) => {
      first += d;
      if (first.includes("\n")) child.stdout.destroy();
    });
    const out = await collect(child);
    expect(JSON.parse(first.slice(0, first.indexOf("\n")))).toMatchObject({ ruleId: "nova-no-valid-host", line: 1 });
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
  });

  it("exits 130 with no stack trace on Ctrl-C while reading an endless standard input", async () => {
    const spool = tempDir();
    const child = spawnBin(["scan", "-", "--format", "ndjson"], { env: { TMPDIR: spool } });
    child.stdin.on("error", () => {});
    let n = 0;
    const feed = setInterval(() => child.stdin.write(`${failure.replace(requestId, `req-${(0x10000000 + n++).toString(16)}-8d3f-4f61-9c2a-0e7b1d4a3f27`)}\n`), 10);
    // Interrupt once findings are flowing: the scan is mid-stream, not starting or ending.
    child.stdout.once("data", () => child.kill("SIGINT"));
    const out = await collect(child);
    clearInterval(feed);
    expect(out.code).toBe(130);
    expect(out.stderr).toBe("");
    expect(JSON.parse(out.stdout.slice(0, out.stdout.indexOf("\n")))).toMatchObject({ ruleId: "nova-no-valid-host", path: "-", line: 1 });
  });

  it("exits 2 with one line when a report file cannot be written (--output json=/dev/full)", async () => {
    const root = tree({ [conductor]: `${failure}\n` });
    const { code, stderr } = await runIn(["scan", root, "--output", "json=/dev/full"]);
    expect(code).toBe(2);
    expect(stderr).toBe("cloudtriage: cannot write json report to /dev/full: no space left on device\n");
  });
});

describe("user rule packs", () => {
  // One rule file per case; the line and column in each message point into this text.
  const rule = (lines: string[]) => `${lines.join("\n")}\n`;
  const good = [
    "id: acme-widget-exploded",
    "title: A widget exploded",
    "severity: error",
    "hint: exploded",
    "match: 'Widget (?<name>\\w+) exploded'",
    "remediation: Replace the widget.",
    "references: ['https://example.org/widgets']",
    "examples:",
    "  positive: [{line: 'Widget foo exploded'}]",
    "  negative: [{line: 'Widget foo is fine', why: no explosion}]",
  ];
  const withLine = (index: number, line: string) => good.map((l, i) => (i === index ? line : l));

  async function scanWithPack(files: Record<string, string>, input = `${failure}\n`) {
    const root = tree(Object.fromEntries(Object.entries(files).map(([name, text]) => [path.join("pack", name), text])));
    return runIn(["scan", "-", "--rules", "pack", "--format", "json"], { stdin: input, cwd: root });
  }

  it.each([
    ["malformed YAML (an unquoted ': ' in a regex)", withLine(4, "match: Widget (?<name>\\w+): exploded"), "5:8: YAML: Nested mappings are not allowed in compact mappings"],
    ["a schema error", withLine(2, "severity: loud"), '3:11: `severity`: Invalid option: expected one of "critical"|"error"|"warning"|"info"'],
    ["an invalid regex", withLine(4, "match: 'Widget (?<name>\\w+ exploded'"), "5:8: invalid regular expression: /Widget (?<name>\\w+ exploded/m: Unterminated group"],
    ["an unknown field", [...good.slice(0, 3), "severty: error", ...good.slice(3)], "4:1: unknown field `severty`; see docs/rule-format.md for the fields a rule takes"],
    ["a regex that can backtrack catastrophically", withLine(4, "match: 'Widget (\\w+\\s?)+exploded'"), "5:8: regular expression may backtrack catastrophically (a quantifier inside a repeated group); rewrite it without nested repetition"],
  ])("exits 2 on %s, naming file:line:col in one line", async (_name, lines, message) => {
    const { code, stdout, stderr } = await scanWithPack({ "acme-widget-exploded.yaml": rule(lines) });
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(`cloudtriage: pack/acme-widget-exploded.yaml:${message}\n`);
  });

  it("exits 2 on a duplicate id, naming both files", async () => {
    const { code, stderr } = await scanWithPack({ "acme-widget-exploded.yaml": rule(good), "more/acme-widget-exploded.yaml": rule(good) });
    expect(code).toBe(2);
    expect(stderr).toBe("cloudtriage: pack/more/acme-widget-exploded.yaml:1:1: duplicate rule id `acme-widget-exploded` (also in pack/acme-widget-exploded.yaml); give one of them a new id\n");
  });

  it("finishes a scan whose user regex is merely slow on a pathological 60 KB line, and finds what follows it", async () => {
    // Quadratic, not exponential: the loader accepts it, and each record shows it at most 64 KiB.
    const slow = withLine(4, "match: '(?<name>\\w+)\\s+exploded$'");
    const pathological = `2024-03-12 10:15:39.700 2744 ERROR acme.widget [-] Widget ${"x".repeat(40_000)} exploded! ${" ".repeat(20_000)}`;
    expect(pathological.length).toBeGreaterThan(60_000);
    const { code, stdout, stderr } = await scanWithPack({ "acme-widget-exploded.yaml": rule(slow) }, `${pathological}\n${failure}\n`);
    const report = JSON.parse(stdout) as Report;
    expect(report.findings.filter((f) => f.ruleId === "nova-no-valid-host").map((f) => f.line)).toEqual([2]);
    expect(report.findings.some((f) => f.ruleId === "acme-widget-exploded")).toBe(false);
    expect(stderr).toBe("");
    expect(code).toBe(1);
  });
});
