// JUnit XML reporter: one test case per rule and host, so Jenkins and GitLab list passing rules too.
import type { Finding, ScanResult } from "../model.js";
import { isAtOrAbove, type ReportContext } from "./context.js";

export const UNKNOWN_HOST = "unknown-host";
/** The one suite of a scan with no findings, so its rules still show as passed rather than as zero tests. */
export const ALL_HOSTS = "all-hosts";

interface TestCase {
  ruleId: string;
  title: string;
  failures: Finding[];
  passed: Finding[];
}

export function formatJunit(result: ScanResult, ctx: ReportContext): string {
  const rules = ruleTitles(result.findings, ctx);
  const byHost = new Map<string, Finding[]>();
  for (const finding of result.findings) {
    const host = finding.host ?? UNKNOWN_HOST;
    const list = byHost.get(host);
    if (list === undefined) byHost.set(host, [finding]);
    else list.push(finding);
  }
  if (byHost.size === 0) byHost.set(ALL_HOSTS, []);
  const hosts = [...byHost.keys()].sort(compareHosts);

  const suites = hosts.map((host) => {
    const byRule = new Map<string, Finding[]>();
    for (const finding of byHost.get(host) ?? []) {
      const list = byRule.get(finding.ruleId);
      if (list === undefined) byRule.set(finding.ruleId, [finding]);
      else list.push(finding);
    }
    const cases: TestCase[] = [...rules].map(([ruleId, title]) => {
      const own = byRule.get(ruleId) ?? [];
      return {
        ruleId,
        title,
        failures: own.filter((finding) => isAtOrAbove(finding.severity, ctx.failOn)),
        passed: own.filter((finding) => !isAtOrAbove(finding.severity, ctx.failOn)),
      };
    });
    return { host, cases };
  });

  // failures counts failed test cases, not <failure> elements: GitLab and Jenkins compare it with tests.
  const count = (cases: TestCase[]): { tests: number; failures: number } => ({
    tests: cases.length,
    failures: cases.filter((testCase) => testCase.failures.length > 0).length,
  });
  const total = count(suites.flatMap((suite) => suite.cases));

  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(`<testsuites name="cloudtriage" tests="${total.tests}" failures="${total.failures}" errors="0">`);
  for (const suite of suites) {
    const { tests, failures } = count(suite.cases);
    out.push(`  <testsuite name="${attr(suite.host)}" tests="${tests}" failures="${failures}" errors="0" skipped="0">`);
    for (const testCase of suite.cases) out.push(...formatCase(suite.host, testCase));
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return `${out.join("\n")}\n`;
}

function formatCase(host: string, testCase: TestCase): string[] {
  const open = `    <testcase classname="${attr(`cloudtriage.${host}`)}" name="${attr(`${testCase.ruleId}: ${testCase.title}`)}" time="0"`;
  if (testCase.failures.length === 0 && testCase.passed.length === 0) return [`${open}/>`];
  const out = [`${open}>`];
  for (const finding of testCase.failures) {
    out.push(
      `      <failure message="${attr(oneLine(finding.message, 200))}" type="${attr(finding.severity)}">${text(failureText(finding))}</failure>`,
    );
  }
  if (testCase.passed.length > 0) {
    // Below --fail-on: kept visible in the case's output, but the test passes.
    const lines = testCase.passed.map((finding) => `${finding.severity} ${location(finding)}: ${oneLine(finding.message, 500)}`);
    out.push(`      <system-out>${text(lines.join("\n"))}</system-out>`);
  }
  out.push("    </testcase>");
  return out;
}

/** Every rule that ran, then rule ids only findings name (built-in kinds), each with its title. */
function ruleTitles(findings: Finding[], ctx: ReportContext): Map<string, string> {
  const titles = new Map(ctx.rules.map((rule) => [rule.id, rule.title]));
  for (const finding of findings) if (!titles.has(finding.ruleId)) titles.set(finding.ruleId, finding.title);
  return titles;
}

function failureText(finding: Finding): string {
  const where = [finding.host, finding.component].filter((part) => part !== null).join(" ");
  const ids = [...finding.requestIds, ...finding.instanceIds];
  return [
    `${location(finding)}${where === "" ? "" : ` (${where})`}${finding.count > 1 ? `, seen ${finding.count} times` : ""}`,
    ...(ids.length > 0 ? [`ids: ${ids.join(" ")}`] : []),
    "",
    finding.message,
    ...(finding.remediation.trim() === "" ? [] : ["", "Remediation:", finding.remediation.trimEnd()]),
  ].join("\n");
}

function location(finding: Finding): string {
  return `${finding.path}:${finding.line}`;
}

function compareHosts(a: string, b: string): number {
  if (a === UNKNOWN_HOST || b === UNKNOWN_HOST) return Number(a === UNKNOWN_HOST) - Number(b === UNKNOWN_HOST);
  return a < b ? -1 : a > b ? 1 : 0;
}

function oneLine(message: string, maxChars: number): string {
  const flat = message.replace(/\s+/g, " ").trim();
  const chars = [...flat];
  return chars.length <= maxChars ? flat : `${chars.slice(0, maxChars - 1).join("")}…`;
}

// XML 1.0 allows only these characters, even as character references; logs carry ANSI colour codes.
const FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function legal(value: string): string {
  return value.replace(FORBIDDEN, (char) => {
    const code = char.codePointAt(0) ?? 0;
    // A lone surrogate has no meaning to show; a control character is shown as its escape (\x1b).
    if (code >= 0xd800 && code <= 0xdfff) return "\uFFFD";
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).toUpperCase()}`;
  });
}

function text(value: string): string {
  // ">" too, so that "]]>" in a message cannot end anything.
  return legal(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function attr(value: string): string {
  // Parsers normalise raw tabs and newlines in attributes to spaces; references keep them.
  return text(value).replace(/"/g, "&quot;").replace(/\t/g, "&#9;").replace(/\n/g, "&#10;").replace(/\r/g, "&#13;");
}
