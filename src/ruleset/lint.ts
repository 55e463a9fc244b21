// Static checks rule authors get from `cloudtriage rules lint`, beyond what the loader refuses.
import type { Rule } from "./rule.js";

export interface LintProblem {
  file: string;
  rule: string;
  message: string;
}

/** Hints this long keep the prefilter fast (perf.md §3: the shift is at most the shortest literal - 1). */
const goodHintBytes = 8;
const hasCjk = /[\u3400-\u9fff]/;

export function lintRules(rules: Rule[], extraKnownIds: string[] = []): LintProblem[] {
  const problems: LintProblem[] = [];
  const ids = new Set([...rules.map((r) => r.id), ...extraKnownIds]);
  for (const rule of rules) {
    const add = (message: string) => problems.push({ file: rule.file, rule: rule.id, message });
    if (rule.title.en === rule.title["zh-CN"] || !hasCjk.test(rule.title["zh-CN"])) add("title needs both `en` and `zh-CN` (Simplified Chinese) text");
    if (rule.remediation.en === rule.remediation["zh-CN"] || !hasCjk.test(rule.remediation["zh-CN"])) add("remediation needs both `en` and `zh-CN` (Simplified Chinese) text");
    for (const target of rule.explains) if (!ids.has(target)) add(`explains unknown rule \`${target}\``);
    if (rule.kind === "log") {
      for (const hint of rule.hints) if (Buffer.byteLength(hint) < goodHintBytes) add(`hint "${hint}" is shorter than ${goodHintBytes} bytes; the prefilter slows down for every rule`);
      const lines = [...rule.examples.positive, ...rule.examples.negative, ...rule.examples.knownGaps].map((e) => `${e.source}\u0000${e.line}`);
      const duplicates = lines.filter((l, i) => lines.indexOf(l) !== i);
      if (duplicates.length) add(`duplicate example line: ${duplicates[0]?.split("\u0000")[1]?.slice(0, 80)}`);
      if (rule.examples.positive.length === 0 || rule.examples.negative.length === 0) add("needs positive and negative examples");
      for (const regex of [...rule.any, ...rule.all]) {
        if ((regex.source.match(/\.\*|\.\+/g) ?? []).length >= 3) add(`pattern /${regex.source.slice(0, 60)}…/ has three or more unbounded wildcards; its cost grows with the line length`);
      }
    }
  }
  return problems;
}
