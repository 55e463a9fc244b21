// Runs the CLI in-process with captured streams, and lays out small log trees: shared by the CLI-level suites.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { run, type CliIO } from "../../src/cli/run.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `cloudtriage ARGV`; without `stdin` the input is a terminal (so no path means "nothing to scan"). */
export async function runCli(argv: string[], options: { stdin?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const out = new PassThrough();
  out.on("data", (d) => (stdout += d));
  const err = new PassThrough();
  err.on("data", (d) => (stderr += d));
  const stdin = Readable.from(options.stdin !== undefined ? [Buffer.from(options.stdin)] : []) as Readable & { isTTY?: boolean };
  if (options.stdin === undefined) stdin.isTTY = true;
  const io: CliIO = { stdout: out, stderr: err, stdin, env: options.env ?? {}, cwd: options.cwd ?? process.cwd() };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

/** A temporary tree of files (name → content). */
export function makeTree(files: Record<string, string | Buffer>, prefix = "ct-"): string {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), content);
  }
  return root;
}
