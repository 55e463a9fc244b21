// Exit codes a pipeline can act on: 0 clean, 1 findings at or above --fail-on, 2 the job could not be done.
import type { ScanResult, Severity } from "../model.js";
import { isAtOrAbove } from "../reporters/context.js";

export enum ExitCode {
  Clean = 0,
  Findings = 1,
  Failed = 2,
  Interrupted = 130,
}

export type FailOn = Severity | "never";

export function exitCodeFor(result: ScanResult, failOn: FailOn, strict = false): ExitCode {
  if (strict && result.summary.skipped.length > 0) return ExitCode.Failed;
  return result.findings.some((f) => isAtOrAbove(f.severity, failOn)) ? ExitCode.Findings : ExitCode.Clean;
}
