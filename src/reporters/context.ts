// What every reporter is given besides the scan result.
import type { Language, RuleInfo, Severity } from "../model.js";

export interface ReportContext {
  /** Every rule that ran (built-in and user packs), in the chosen language. */
  rules: RuleInfo[];
  toolVersion: string;
  /** Findings at or above this severity fail the run; `never` fails nothing. */
  failOn: Severity | "never";
  /** chalk level: 0 means no colour. */
  colorLevel: 0 | 1 | 2 | 3;
  language: Language;
  /** Directories and files that were scanned, as given on the command line. */
  inputs: string[];
}

/** Severity rank: critical 0 … info 3. */
export function severityRank(severity: Severity): number {
  return { critical: 0, error: 1, warning: 2, info: 3 }[severity];
}

export function isAtOrAbove(severity: Severity, threshold: Severity | "never"): boolean {
  return threshold !== "never" && severityRank(severity) <= severityRank(threshold);
}
