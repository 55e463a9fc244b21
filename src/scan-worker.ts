// A worker thread's entry: loads the same rules, scans its share of the files, posts the result back.
import { parentPort, workerData } from "node:worker_threads";
import type { Language } from "./model.js";
import { loadRules } from "./ruleset/load.js";
import type { Source } from "./reader/inputs.js";
import { scanAssigned, type RuleSource, type SecondPassJob, type ThreadResult, type WorkerResult, type WorkQueue } from "./scan.js";

interface Job {
  sources: Source[];
  queue: WorkQueue;
  ruleSource: RuleSource;
  language: Language;
  sinceMs?: number | null;
  untilMs?: number | null;
  sinceDurationMs?: number | null;
  maxLineBytes?: number;
  correlate?: boolean;
  indexBytes?: number;
  secondPass?: SecondPassJob;
}

const job = workerData as Job;
const all = loadRules(job.ruleSource.dirs, { cwd: job.ruleSource.cwd });
const rules = all.filter((r) => (!job.ruleSource.only?.length || job.ruleSource.only.includes(r.id)) && !job.ruleSource.exclude?.includes(r.id));
const result: ThreadResult = await scanAssigned(
  { inputs: [], cwd: job.ruleSource.cwd, rules, language: job.language, sinceMs: job.sinceMs ?? null, untilMs: job.untilMs ?? null, sinceDurationMs: job.sinceDurationMs ?? null, correlate: job.correlate ?? true, ...(job.indexBytes ? { indexBytes: job.indexBytes } : {}), ...(job.maxLineBytes ? { maxLineBytes: job.maxLineBytes } : {}) },
  job.sources,
  job.queue,
  job.secondPass,
);
// The index blocks and the files' checkpoints move to the main thread; they are not copied.
const buffersOf = (share: WorkerResult) => [...share.index.blocks.flatMap((block) => [block.hashes.buffer, block.lines.buffer]), ...share.sources.map((s) => s.info.checkpoints.buffer)];
const moved = [result.whole, ...result.parts.map((p) => p.result)].flatMap(buffersOf);
parentPort?.postMessage(result, moved as ArrayBuffer[]);
