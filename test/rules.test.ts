// Every rule proves itself: each example runs through the real reader framing, parser and engine.
import { describe, expect, it } from "vitest";
import { loadRules } from "../src/ruleset/load.js";
import { lintRules } from "../src/ruleset/lint.js";
import { testRules } from "../src/rule-tester.js";
import { scanText } from "../src/scan.js";

const rules = loadRules();

describe("the built-in pack", () => {
  it("loads and has rules", () => {
    expect(rules.length).toBeGreaterThan(0);
  });

  it("keeps every hint at 15 bytes or more: the shortest one bounds how far the prefilter can skip", () => {
    const short = rules.flatMap((r) => (r.kind === "config" ? [] : r.hints.filter((h) => Buffer.byteLength(h) < 15).map((h) => `${r.id}: "${h}"`)));
    expect(short).toEqual([]);
  });

  it("is clean under rules lint", () => {
    expect(lintRules(rules, ["request-lost", "service-silent", "instance-error-without-cause", "unmatched-error"])).toEqual([]);
  });
});

describe("where the hints are looked for in oslo lines", () => {
  const noValidHost = async (text: string) => (await scanText(`${text}\n`, "var/log/nova/nova-conductor.log", rules)).filter((f) => f.ruleId === "nova-no-valid-host").map((f) => f.line);
  const head = "2024-03-12 10:15:40.027 2744 ERROR nova.conductor.manager";

  it("finds a hint in a prefixed traceback line of the record", async () => {
    const lines = [`${head} [req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 - - - - -] Failed to schedule_and_build_instances`, `${head} Traceback (most recent call last):`, `${head} nova.exception.NoValidHost: No valid host was found. There are not enough hosts available.`];
    expect(await noValidHost(lines.join("\n"))).toEqual([1]);
  });

  it("finds a hint right after a context bracket whose id is malformed and holds a ']'", async () => {
    expect(await noValidHost(`${head} [req-5b9a6c1e-8d3f-4f61-9c2a-0e7b]No valid host was found. There are not enough hosts available. - - -] x`)).toEqual([1]);
  });

  it("does not take a hint from the header: rules see the message only", async () => {
    expect(await noValidHost(`${head} [None req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 No valid host was found - -] Scheduling`)).toEqual([]);
  });
});

for (const rule of rules) {
  describe(rule.id, () => {
    if (rule.kind === "config") {
      it("passes its configuration examples", async () => {
        const results = await testRules([rule], rules);
        expect(results.filter((r) => !r.ok)).toEqual([]);
        expect(results.length).toBeGreaterThanOrEqual(2);
      });
      return;
    }
    rule.examples.positive.forEach((example, i) => {
      it(`fires once on positive example ${i + 1}: ${example.line.slice(0, 70)}`, async () => {
        const findings = (await scanText(`${example.line}\n`, example.source, rules)).filter((f) => f.ruleId === rule.id);
        expect(findings).toHaveLength(1);
        const finding = findings[0]!;
        expect(finding.line).toBe(1);
        for (const [name, value] of Object.entries(example.fields ?? {})) expect(finding.fields[name], `field ${name}`).toBe(value);
        for (const id of example.requestIds ?? []) expect(finding.requestIds).toContain(id);
        for (const id of example.instanceIds ?? []) expect(finding.instanceIds).toContain(id);
      });
    });
    rule.examples.negative.forEach((example, i) => {
      it(`stays quiet on negative example ${i + 1} (${example.why?.slice(0, 60)})`, async () => {
        const findings = (await scanText(`${example.line}\n`, example.source, rules)).filter((f) => f.ruleId === rule.id);
        expect(findings).toEqual([]);
      });
    });
    rule.examples.knownGaps.forEach((example, i) => {
      // A known gap is written down and run; fixing it turns this red until it is promoted to a positive.
      it.fails(`known gap ${i + 1} still fails (${example.why?.slice(0, 60)})`, async () => {
        const findings = (await scanText(`${example.line}\n`, example.source, rules)).filter((f) => f.ruleId === rule.id);
        expect(findings).toHaveLength(1);
      });
    });
  });
}

describe("schema/rule.schema.json", () => {
  it("is the JSON Schema generated from the zod schema (run npm run schema after changing it)", async () => {
    const { readFileSync } = await import("node:fs");
    const { ruleJsonSchema } = await import("../src/ruleset/json-schema.js");
    expect(JSON.parse(readFileSync("schema/rule.schema.json", "utf8"))).toEqual(ruleJsonSchema());
  });
});

describe("the packed built-in rules", () => {
  it("come from validating every rule file as YAML, and load the same rules", async () => {
    const { packBuiltinRules } = await import("../src/ruleset/load.js");
    const pack = packBuiltinRules();
    expect(pack.rules.map((r) => r.spec.id).sort()).toEqual(rules.map((r) => r.id).sort());
  });
});
