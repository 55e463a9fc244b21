// Runs every rule's own examples through the real parser and engine: Validated, Noisy or Missing.
import { checkRule } from "./engine/config-check.js";
import type { Finding } from "./model.js";
import type { ConfigRule, LogRule, Rule, RuleExample } from "./ruleset/rule.js";
import { scanText } from "./scan.js";

export type Outcome = "Validated" | "Noisy" | "Missing";

export interface ExampleResult {
  rule: string;
  file: string;
  kind: "positive" | "negative" | "knownGap";
  outcome: Outcome;
  /** For a known gap, passing means it still fails as written down. */
  ok: boolean;
  line: string;
  detail: string;
}

function sameIds(expected: string[] | undefined, actual: string[]): boolean {
  return expected === undefined || expected.every((id) => actual.includes(id));
}

async function runLogExample(rule: LogRule, all: Rule[], example: RuleExample, kind: ExampleResult["kind"]): Promise<ExampleResult> {
  const findings = (await scanText(`${example.line}\n`, example.source, all)).filter((f: Finding) => f.ruleId === rule.id);
  const base = { rule: rule.id, file: rule.file, kind, line: example.line.split("\n", 1)[0] ?? "" };
  if (kind === "negative") {
    return findings.length === 0 ? { ...base, outcome: "Validated", ok: true, detail: "" } : { ...base, outcome: "Noisy", ok: false, detail: `fired on a negative example (${example.why ?? ""})` };
  }
  const problems: string[] = [];
  if (findings.length !== 1) problems.push(`expected exactly one finding, got ${findings.length}`);
  const f = findings[0];
  if (f) {
    for (const [name, value] of Object.entries(example.fields ?? {})) {
      if (f.fields[name] !== value) problems.push(`field ${name}: expected ${JSON.stringify(value)}, got ${JSON.stringify(f.fields[name])}`);
    }
    if (!sameIds(example.requestIds, f.requestIds)) problems.push(`requestIds: expected ${example.requestIds?.join(",")}, got ${f.requestIds.join(",")}`);
    if (!sameIds(example.instanceIds, f.instanceIds)) problems.push(`instanceIds: expected ${example.instanceIds?.join(",")}, got ${f.instanceIds.join(",")}`);
  }
  const passed = problems.length === 0;
  if (kind === "knownGap") return { ...base, outcome: passed ? "Validated" : "Missing", ok: !passed, detail: passed ? "a known gap now works: promote it to a positive example" : "" };
  return { ...base, outcome: passed ? "Validated" : "Missing", ok: passed, detail: problems.join("; ") };
}

function runConfigExamples(rule: ConfigRule): ExampleResult[] {
  const results: ExampleResult[] = [];
  const run = (kind: "positive" | "negative", file: string, path: string, other?: { file: string; path: string }, why?: string) => {
    const files = [{ path, host: null, text: file, sourceIndex: 0 }, ...(other ? [{ path: other.path, host: null, text: other.file, sourceIndex: 1 }] : [])];
    const hits = checkRule(rule, files).filter((v) => v.file.path === path);
    const base = { rule: rule.id, file: rule.file, kind, line: path };
    if (kind === "negative") results.push(hits.length === 0 ? { ...base, outcome: "Validated", ok: true, detail: "" } : { ...base, outcome: "Noisy", ok: false, detail: `fired on a negative example (${why ?? ""})` });
    else results.push(hits.length === 1 ? { ...base, outcome: "Validated", ok: true, detail: "" } : { ...base, outcome: "Missing", ok: false, detail: `expected exactly one finding, got ${hits.length}` });
  };
  for (const e of rule.examples.positive) run("positive", e.file, e.path, e.other);
  for (const e of rule.examples.negative) run("negative", e.file, e.path, e.other, e.why);
  return results;
}

export async function testRules(rules: Rule[], all: Rule[] = rules): Promise<ExampleResult[]> {
  const results: ExampleResult[] = [];
  for (const rule of rules) {
    if (rule.kind === "config") {
      results.push(...runConfigExamples(rule));
      continue;
    }
    for (const e of rule.examples.positive) results.push(await runLogExample(rule, all, e, "positive"));
    for (const e of rule.examples.negative) results.push(await runLogExample(rule, all, e, "negative"));
    for (const e of rule.examples.knownGaps) results.push(await runLogExample(rule, all, e, "knownGap"));
  }
  return results;
}
