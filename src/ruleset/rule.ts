// Loaded rules, ready for the engine: compiled regexes, prefilter literals, both languages.
import type { Language, Level, RuleInfo, Severity } from "../model.js";
import type { LAYERS } from "./schema.js";

export type Layer = (typeof LAYERS)[number];

export interface Localized {
  en: string;
  "zh-CN": string;
}

export interface RuleExample {
  line: string;
  source: string;
  why?: string;
  fields?: Record<string, string>;
  requestIds?: string[];
  instanceIds?: string[];
}

/** Matches a name against a list where a trailing `*` is a prefix. */
export interface NameFilter {
  exact: Set<string>;
  prefixes: string[];
}

interface RuleBase {
  id: string;
  /** The rule file, for messages that point at it. */
  file: string;
  title: Localized;
  severity: Severity;
  /** The severity when the finding explains nothing that happened (no failure it names in its incident). */
  severityAlone: Severity | null;
  layer: Layer;
  explains: string[];
  remediation: Localized;
  references: string[];
}

export interface LogRule extends RuleBase {
  kind: "log";
  where: { component: NameFilter | null; level: Set<Level> | null; logger: NameFilter | null };
  /** Literals one of which every match contains (prefilter); compared case-insensitively. */
  hints: string[];
  any: RegExp[];
  all: RegExp[];
  not: RegExp[];
  examples: { positive: RuleExample[]; negative: RuleExample[]; knownGaps: RuleExample[] };
}

export interface ValueTest {
  notIn?: string[];
  in?: string[];
  equals?: string;
  matches?: RegExp;
}

export interface ConfigExample {
  file: string;
  path: string;
  why?: string;
  other?: { file: string; path: string };
}

export interface ConfigRule extends RuleBase {
  kind: "config";
  files: string[];
  check: ValueTest & {
    sections: string[] | null;
    key: string;
    differsFrom: { files: string[]; section: string | null; key: string } | null;
    when: (ValueTest & { section: string | null; key: string; missingMeans?: string })[];
    ignoreValues: string[];
  };
  examples: { positive: ConfigExample[]; negative: ConfigExample[] };
}

export type Rule = LogRule | ConfigRule;

export function ruleInfo(rule: Rule, language: Language): RuleInfo {
  return {
    id: rule.id,
    title: rule.title[language],
    severity: rule.severity,
    remediation: rule.remediation[language],
    references: rule.references,
    layer: rule.layer,
  };
}

export function nameMatches(filter: NameFilter | null, name: string | null): boolean {
  if (filter === null) return true;
  if (name === null) return false;
  if (filter.exact.has(name)) return true;
  return filter.prefixes.some((prefix) => name.startsWith(prefix));
}
