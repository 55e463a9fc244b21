// commander → options → scan() → reporters → exit code. Takes its I/O as arguments so tests run it in-process.
import { closeSync, openSync, writeSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { Finding, Language, RuleInfo, ScanResult, Severity } from "../model.js";
import { formatNdjsonFinding } from "../reporters/json.js";
import type { ReportContext } from "../reporters/context.js";
import { loadRules, RuleError } from "../ruleset/load.js";
import { ruleInfo, type Rule } from "../ruleset/rule.js";
import { defaultIndexBytes, NoInputError, scan } from "../scan.js";
import { redactOneFinding } from "../redact/redact.js";
import { ExitCode, exitCodeFor, type FailOn } from "./exit-code.js";
import { colorLevel, defaultLanguage, Progress } from "./terminal.js";
import { parseTimeOption } from "./time-option.js";

export interface CliIO {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  stdin: Readable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const version = "0.1.0";

/** A wrong flag or value: exit 2 with the message. */
export class UsageError extends Error {}

const formats = ["text", "json", "ndjson", "sarif", "junit", "markdown"] as const;
type Format = (typeof formats)[number];

interface ScanFlags {
  format: Format;
  output: string[];
  failOn: FailOn;
  rules: string[];
  only?: string;
  exclude?: string;
  lang?: Language;
  color?: boolean;
  maxRelated: number;
  since?: string;
  until?: string;
  correlate: boolean;
  redact: boolean;
  quiet?: boolean;
  strict?: boolean;
  jobs: number;
  indexMemory: number;
  baseline?: string;
  writeBaseline?: string;
  suppressions?: string;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
  return n;
}

/** "64MiB", "512KiB", "1.5GiB" or a number of bytes; K, M and G (with or without "B" or "iB") count in 1024s. */
function byteSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(?:([KMG])(?:i?B)?)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError("expected a size such as 64MiB, 512KiB or 1.5GiB");
  const unit = (m[2] ?? "").toUpperCase();
  const n = Math.floor(Number(m[1]) * (unit === "K" ? 1024 : unit === "M" ? 1024 ** 2 : unit === "G" ? 1024 ** 3 : 1));
  if (n < 1024) throw new InvalidArgumentError("expected at least 1KiB");
  return n;
}

function formatBinarySize(bytes: number): string {
  return bytes >= 1 << 20 ? `${+(bytes / (1 << 20)).toFixed(1)}MiB` : `${+(bytes / 1024).toFixed(1)}KiB`;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function selectRules(rules: Rule[], only?: string, exclude?: string): Rule[] {
  const known = new Set(rules.map((r) => r.id));
  const parse = (list?: string) => (list ? list.split(",").map((s) => s.trim()).filter(Boolean) : []);
  const onlyIds = parse(only);
  const excludeIds = parse(exclude);
  for (const id of [...onlyIds, ...excludeIds]) if (!known.has(id)) throw new UsageError(`unknown rule id \`${id}\` (see \`cloudtriage rules list\`)`);
  return rules.filter((r) => (onlyIds.length === 0 || onlyIds.includes(r.id)) && !excludeIds.includes(r.id));
}

/**
 * Reporters load on demand: a pipe that wants JSON should not pay for chalk, SARIF or XML escaping.
 * JSON comes in pieces, so a big scan's report is never one string in memory.
 */
async function render(format: Format, result: ScanResult, ctx: ReportContext): Promise<Iterable<string>> {
  switch (format) {
    case "text":
      return [(await import("../reporters/text.js")).formatText(result, ctx)];
    case "json":
      return (await import("../reporters/json.js")).jsonChunks(result);
    case "ndjson":
      return result.findings.map(formatNdjsonFinding);
    case "sarif":
      return [(await import("../reporters/sarif.js")).formatSarif(result, ctx)];
    case "junit":
      return [(await import("../reporters/junit.js")).formatJunit(result, ctx)];
    case "markdown":
      return [(await import("../reporters/markdown.js")).formatMarkdown(result, ctx)];
  }
}

function parseOutputs(outputs: string[]): { format: Format; file: string }[] {
  return outputs.map((spec) => {
    const eq = spec.indexOf("=");
    const format = spec.slice(0, eq) as Format;
    const file = spec.slice(eq + 1);
    if (eq < 1 || !formats.includes(format) || !file) throw new UsageError(`--output takes FORMAT=FILE with FORMAT one of ${formats.join(", ")}; got "${spec}"`);
    return { format, file };
  });
}

/** A report's pieces joined into writes of about 256 KiB: a write per finding cost 50 ms of system calls on a 24 MB report. */
function* batched(pieces: Iterable<string>): Generator<string> {
  let pending = "";
  for (const piece of pieces) {
    pending += piece;
    if (pending.length >= 1 << 18) {
      yield pending;
      pending = "";
    }
  }
  if (pending) yield pending;
}

function write(io: CliIO, text: string): void {
  io.stdout.write(text);
}

async function runScan(paths: string[], flags: ScanFlags, io: CliIO): Promise<number> {
  const language = flags.lang ?? defaultLanguage(io.env);
  const outputs = parseOutputs(flags.output);
  const all = loadRules(flags.rules, { cwd: io.cwd });
  const rules = selectRules(all, flags.only, flags.exclude);
  const since = flags.since ? parseTimeOption(flags.since, "--since") : null;
  const until = flags.until ? parseTimeOption(flags.until, "--until") : null;
  const inputs = paths.length ? paths : io.stdin.isTTY ? [] : ["-"];
  if (inputs.length === 0) throw new UsageError("nothing to scan: give a file or directory, or pipe logs in (journalctl | cloudtriage scan -)");
  // Read the baseline and suppressions first: a broken file should fail before a long scan, not after.
  const display = (file: string) => path.relative(io.cwd, path.resolve(io.cwd, file)) || file;
  // yaml and zod load only when a baseline or suppressions file is used.
  const baselines = flags.baseline || flags.writeBaseline || flags.suppressions ? await import("../baseline.js") : null;
  const baseline = flags.baseline && baselines ? baselines.readBaseline(path.resolve(io.cwd, flags.baseline), display(flags.baseline)) : null;
  const suppressions = flags.suppressions && baselines ? baselines.loadSuppressions(path.resolve(io.cwd, flags.suppressions), display(flags.suppressions)) : [];
  const progress = new Progress(io.stderr, !!io.stderr.isTTY && !flags.quiet && !inputs.includes("-"));
  const live = flags.format === "ndjson";
  const redact = flags.redact;
  let result = await scan({
    inputs,
    cwd: io.cwd,
    rules,
    language,
    stdin: io.stdin,
    sinceMs: since?.absoluteMs ?? null,
    untilMs: until ? (until.absoluteMs ?? Date.now() - (until.durationMs ?? 0)) : null,
    sinceDurationMs: since?.durationMs ?? null,
    maxRelated: flags.maxRelated,
    jobs: flags.jobs,
    indexBytes: flags.indexMemory,
    ruleSource: { dirs: flags.rules, cwd: io.cwd, ...(flags.only ? { only: flags.only.split(",").map((s) => s.trim()) } : {}), ...(flags.exclude ? { exclude: flags.exclude.split(",").map((s) => s.trim()) } : {}) },
    correlate: flags.correlate,
    redact,
    ...(live ? { onFinding: (f: Finding) => write(io, formatNdjsonFinding(redact ? redactOneFinding(f) : f)) } : {}),
    onSkip: (s) => {
      progress.clear();
      if (!flags.quiet) io.stderr.write(`cloudtriage: ${s.path}: ${s.reason}\n`);
    },
    onNotice: (n) => {
      progress.clear();
      if (!flags.quiet) io.stderr.write(`cloudtriage: ${n.path}:${n.line}: ${n.message}\n`);
    },
    onProgress: (p) => progress.update(p.files, p.totalFiles, p.bytes, p.totalBytes, p.pass),
    onSecondPass: () => {
      progress.clear();
      if (!flags.quiet) io.stderr.write(`cloudtriage: the id index passed --index-memory ${formatBinarySize(flags.indexMemory)}; reading the logs again to link the findings (slower, same report)\n`);
    },
  });
  progress.clear();
  if (suppressions.length && baselines) {
    const applied = baselines.applySuppressions(result, suppressions, new Date());
    result = applied.result;
    for (const expired of applied.expired) io.stderr.write(`cloudtriage: ${baselines.describeExpiredSuppression(expired)}\n`);
  }
  // The baseline records what this capture shows (after accepted suppressions), before an older baseline hides anything.
  if (flags.writeBaseline && baselines) {
    try {
      baselines.writeBaseline(result, path.resolve(io.cwd, flags.writeBaseline), new Date());
    } catch (error) {
      throw new UsageError(`cannot write the baseline to ${flags.writeBaseline}: ${(error as NodeJS.ErrnoException).code === "ENOSPC" ? "no space left on device" : (error as Error).message}`);
    }
  }
  if (baseline && baselines) result = baselines.applyBaseline(result, baseline).result;
  const ctx: ReportContext = {
    rules: rules.map((r) => ruleInfo(r, language)),
    toolVersion: version,
    failOn: flags.failOn,
    colorLevel: flags.format === "text" ? colorLevel(flags.color, io.env, !!io.stdout.isTTY) : 0,
    language,
    inputs,
  };
  if (live) {
    // Findings already went out as they were read; the ones only correlation can make come last.
    const streamed = new Set(["request-lost", "service-silent", "instance-error-without-cause", "unmatched-error"]);
    for (const f of result.findings) if (streamed.has(f.ruleId) || f.ruleId.startsWith("config-")) write(io, formatNdjsonFinding(f));
  } else {
    for (const piece of batched(await render(flags.format, result, ctx))) write(io, piece);
  }
  for (const { format, file } of outputs) {
    const fileCtx = { ...ctx, colorLevel: 0 as const };
    try {
      const fd = openSync(path.resolve(io.cwd, file), "w");
      try {
        for (const piece of batched(await render(format, result, fileCtx))) writeSync(fd, piece);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      throw new UsageError(`cannot write ${format} report to ${file}: ${(error as NodeJS.ErrnoException).code === "ENOSPC" ? "no space left on device" : (error as Error).message}`);
    }
  }
  return exitCodeFor(result, flags.failOn, flags.strict);
}

function loadAllRules(dirs: string[], io: CliIO, builtin = true): Rule[] {
  return loadRules(dirs, { cwd: io.cwd, builtin });
}

function formatRuleList(rules: RuleInfo[], all: Rule[]): string {
  const rows = rules.map((r) => {
    const rule = all.find((x) => x.id === r.id);
    const components = rule?.kind === "log" ? [...(rule.where.component?.exact ?? []), ...(rule.where.component?.prefixes.map((p) => `${p}*`) ?? [])].join(",") || "any" : "config";
    return [r.id, r.severity, components, r.title];
  });
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => (row[i] ?? "").length), 4));
  return `${rows.map((row) => row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell)).join("  ")).join("\n")}\n`;
}

function showRule(rule: Rule, language: Language): string {
  const lines = [`${rule.id}  (${rule.kind}, ${rule.severity}, layer ${rule.layer})`, `  ${rule.title[language]}`, `  file: ${rule.file}`];
  if (rule.kind === "log") {
    lines.push(`  hints: ${rule.hints.map((h) => JSON.stringify(h)).join(", ")}`);
    for (const r of rule.any) lines.push(`  match any: /${r.source}/${r.flags}`);
    for (const r of rule.all) lines.push(`  match all: /${r.source}/${r.flags}`);
    for (const r of rule.not) lines.push(`  not: /${r.source}/${r.flags}`);
  } else {
    lines.push(`  files: ${rule.files.join(", ")}`, `  key: ${rule.check.key}`);
  }
  if (rule.explains.length) lines.push(`  explains: ${rule.explains.join(", ")}`);
  lines.push("", "  " + rule.remediation[language].trimEnd().split("\n").join("\n  "), "");
  for (const ref of rule.references) lines.push(`  ${ref}`);
  if (rule.kind === "log") {
    lines.push("", `  examples: ${rule.examples.positive.length} positive, ${rule.examples.negative.length} negative, ${rule.examples.knownGaps.length} known gaps`);
    for (const e of rule.examples.positive.slice(0, 3)) lines.push(`    + ${e.line.split("\n", 1)[0]}`);
  }
  return `${lines.join("\n")}\n`;
}

function build(io: CliIO, setCode: (code: number) => void): Command {
  const program = new Command("cloudtriage")
    .description("Find, link and explain failures in OpenStack, libvirt/KVM and ZStack logs")
    .version(version)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: (s, out) => out(s.startsWith("error:") ? `cloudtriage: ${s.slice(7)}` : s) });

  program
    .command("scan")
    .description("scan files, directories, globs, sosreports, or standard input (-)")
    .argument("[paths...]", "files, directories or globs; - or nothing reads standard input")
    .addOption(new Option("-f, --format <format>", "report format").choices(formats).default("text"))
    .option("-o, --output <format=file>", "also write a report to a file (repeatable)", collect, [])
    .addOption(new Option("--fail-on <severity>", "exit 1 when a finding is at or above this").choices(["critical", "error", "warning", "info", "never"]).default("error"))
    .option("-r, --rules <dir>", "add a rule pack (repeatable)", collect, [])
    .option("--only <ids>", "run only these rules (comma-separated)")
    .option("--exclude <ids>", "skip these rules (comma-separated)")
    .addOption(new Option("--lang <lang>", "language of titles and remediation").choices(["en", "zh-CN"]))
    .option("--color", "colour the text report")
    .option("--no-color", "never colour")
    .option("--max-related <n>", "related lines per finding", positiveInt, 20)
    .option("--since <time>", "ignore records before this time (ISO time, or a duration such as 24h counted back from now, or from a sosreport's capture time)")
    .option("--until <time>", "ignore records after this time")
    .option("--no-correlate", "rules only: no related lines or incidents")
    .option("--no-redact", "do not hide recognised secrets (passwords, tokens, keys) in the output")
    .option("-q, --quiet", "no progress and no per-file warnings on stderr")
    .option("--strict", "exit 2 when any input was skipped or read only in part")
    .option("--write-baseline <file>", "record the fingerprints of today's findings")
    .option("--baseline <file>", "report only findings that are not in this baseline")
    .option("--suppressions <file>", "YAML of accepted findings (rule, host/component/path globs, reason, expiry)")
    .addOption(new Option("--index-memory <size>", "memory for the cross-file id index, 8 bytes per id; past it, findings are linked by a second read of the logs").argParser(byteSize).default(defaultIndexBytes, "64MiB"))
    .option("-j, --jobs <n>", "threads; each takes whole files, or parts of a plain oslo.log bigger than its share (default: 2 on a machine with 2 or more cores)", positiveInt, Math.min(2, availableParallelism()))
    .action(async (paths: string[], flags: ScanFlags) => setCode(await runScan(paths, flags, io)));

  program
    .command("trace")
    .description("every line that mentions a request id, global request id or instance UUID, merged into one timeline")
    .argument("<id>", "req-… or an instance UUID")
    .argument("[paths...]", "files or directories")
    .addOption(new Option("-f, --format <format>", "output format").choices(["text", "json"]).default("text"))
    .option("--color", "colour the output")
    .option("--no-color", "never colour")
    .option("--no-redact", "do not hide recognised secrets")
    .action(async (id: string, paths: string[], flags: { format: "text" | "json"; color?: boolean; redact: boolean }) => {
      const inputs = paths.length ? paths : io.stdin.isTTY ? [] : ["-"];
      if (inputs.length === 0) throw new UsageError("trace needs files or directories to search");
      const { trace } = await import("../trace.js");
      const out = await trace({ id, inputs, cwd: io.cwd, stdin: io.stdin, format: flags.format, redact: flags.redact, colorLevel: colorLevel(flags.color, io.env, !!io.stdout.isTTY) });
      write(io, out.text);
      setCode(out.found ? ExitCode.Clean : ExitCode.Findings);
    });

  const rules = program.command("rules").description("list, show, test and lint rules");
  rules
    .command("list")
    .option("-r, --rules <dir>", "add a rule pack (repeatable)", collect, [])
    .addOption(new Option("-f, --format <format>").choices(["text", "json"]).default("text"))
    .addOption(new Option("--lang <lang>").choices(["en", "zh-CN"]))
    .action((flags: { rules: string[]; format: "text" | "json"; lang?: Language }) => {
      const language = flags.lang ?? defaultLanguage(io.env);
      const all = loadAllRules(flags.rules, io);
      const infos = all.map((r) => ruleInfo(r, language));
      write(io, flags.format === "json" ? `${JSON.stringify(infos.map((r, i) => ({ ...r, kind: all[i]?.kind, file: all[i]?.file })), null, 2)}\n` : formatRuleList(infos, all));
      setCode(ExitCode.Clean);
    });
  rules
    .command("show")
    .argument("<id>")
    .option("-r, --rules <dir>", "add a rule pack (repeatable)", collect, [])
    .addOption(new Option("--lang <lang>").choices(["en", "zh-CN"]))
    .action((id: string, flags: { rules: string[]; lang?: Language }) => {
      const rule = loadAllRules(flags.rules, io).find((r) => r.id === id);
      if (!rule) throw new UsageError(`no rule \`${id}\` (see \`cloudtriage rules list\`)`);
      write(io, showRule(rule, flags.lang ?? defaultLanguage(io.env)));
      setCode(ExitCode.Clean);
    });
  rules
    .command("test")
    .description("run rule examples through the real parser and engine")
    .argument("[dirs...]", "user rule packs (default: the built-in pack)")
    .action(async (dirs: string[]) => {
      const all = loadAllRules(dirs, io, true);
      const userFiles = new Set(dirs.length ? loadRules(dirs, { cwd: io.cwd, builtin: false }).map((r) => r.id) : all.map((r) => r.id));
      const { testRules } = await import("../rule-tester.js");
      const results = await testRules(all.filter((r) => userFiles.has(r.id)), all);
      const failed = results.filter((r) => !r.ok);
      const byRule = new Map<string, typeof results>();
      for (const r of results) byRule.set(r.rule, [...(byRule.get(r.rule) ?? []), r]);
      for (const [rule, list] of byRule) {
        const bad = list.filter((r) => !r.ok);
        write(io, `${bad.length ? "FAIL" : "ok  "} ${rule}  ${list.filter((r) => r.kind === "positive").length} positive, ${list.filter((r) => r.kind === "negative").length} negative${list.some((r) => r.kind === "knownGap") ? `, ${list.filter((r) => r.kind === "knownGap").length} known gaps` : ""}\n`);
        for (const r of bad) write(io, `     ${r.outcome}: ${r.file}: ${r.kind} example "${r.line.slice(0, 100)}": ${r.detail}\n`);
      }
      write(io, `${results.filter((r) => r.ok).length} passed, ${failed.length} failed\n`);
      setCode(failed.length ? ExitCode.Findings : ExitCode.Clean);
    });
  rules
    .command("lint")
    .argument("[dirs...]", "user rule packs (default: the built-in pack)")
    .action(async (dirs: string[]) => {
      const all = loadAllRules(dirs, io, true);
      const { lintRules } = await import("../ruleset/lint.js");
      const problems = lintRules(all, ["request-lost", "service-silent", "instance-error-without-cause", "unmatched-error"]);
      for (const p of problems) write(io, `${p.file}: ${p.rule}: ${p.message}\n`);
      write(io, problems.length ? `${problems.length} problems in ${new Set(problems.map((p) => p.rule)).size} rules\n` : `${all.length} rules, no problems\n`);
      setCode(problems.length ? ExitCode.Findings : ExitCode.Clean);
    });
  return program;
}

/** Runs the CLI and returns the exit code; never calls process.exit. */
export async function run(argv: string[], io: CliIO): Promise<number> {
  let code: number = ExitCode.Clean;
  const program = build(io, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with code 0; every usage error is 2, never commander's 1.
      return error.exitCode === 0 || error.code === "commander.helpDisplayed" || error.code === "commander.version" ? ExitCode.Clean : ExitCode.Failed;
    }
    // BaselineError and SuppressionError come from a module loaded on demand: match them by name.
    const setupErrorNames = ["BaselineError", "SuppressionError"];
    if (error instanceof UsageError || error instanceof RuleError || error instanceof NoInputError || (error instanceof Error && setupErrorNames.includes(error.constructor.name))) {
      io.stderr.write(`cloudtriage: ${error.message}\n`);
      return ExitCode.Failed;
    }
    if ((error as NodeJS.ErrnoException).code === "EPIPE") return code;
    io.stderr.write(`cloudtriage: internal error; please report it with the command you ran:\n${(error as Error).stack ?? String(error)}\n`);
    return ExitCode.Failed;
  }
}

export type { Severity };
