// Real logs published by other projects (../shared/corpus): no crash, and exactly the findings we reviewed.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadRules } from "../../src/ruleset/load.js";
import { scan } from "../../src/scan.js";
import type { ScanResult } from "../../src/model.js";

const corpus = path.resolve("..", "shared", "corpus");
const reviewedFile = path.resolve("test/corpus/reviewed-findings.json");

interface Reviewed {
  rule: string;
  path: string;
  line: number;
  severity: string;
  /** Why this finding is right on these logs (a real failure in them, or an artefact of how they were cut). */
  verdict: string;
}

if (!existsSync(corpus)) {
  throw new Error(`the corpus is not at ${corpus}; .ci/run runs this suite only when ../shared/corpus exists beside the clone`);
}

let result: Promise<ScanResult> | null = null;
function scanCorpus(): Promise<ScanResult> {
  result ??= scan({ inputs: [corpus], cwd: process.cwd(), rules: loadRules(), language: "en", onSkip: () => undefined });
  return result;
}

describe("the shared corpus", () => {
  it("scans without error", async () => {
    const r = await scanCorpus();
    expect(r.summary.files).toBeGreaterThan(100);
    expect(r.summary.lines).toBeGreaterThan(100_000);
  });

  it("gives exactly the reviewed findings", async () => {
    const r = await scanCorpus();
    const reviewed = JSON.parse(readFileSync(reviewedFile, "utf8")) as Reviewed[];
    const key = (f: { rule?: string; ruleId?: string; path: string; line: number }) => `${f.rule ?? f.ruleId} ${f.path}:${f.line}`;
    expect(r.findings.map(key).sort()).toEqual(reviewed.map(key).sort());
  });

  it("has a verdict for every warning or worse", () => {
    const reviewed = JSON.parse(readFileSync(reviewedFile, "utf8")) as Reviewed[];
    for (const f of reviewed.filter((f) => f.severity !== "info")) expect(f.verdict.length, `${f.rule} ${f.path}:${f.line}`).toBeGreaterThan(20);
  });
});
