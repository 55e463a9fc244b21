// The bin entry: runs the CLI with the real process I/O and sets the exit code.
import { removeSpools } from "../scan.js";
import { run } from "./run.js";

// A reader that went away (`| head -1`) is a quiet, successful end, as in ripgrep.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") {
    removeSpools();
    process.exit(process.exitCode ?? 0);
  }
  throw error;
});

process.on("SIGINT", () => {
  if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
  removeSpools();
  process.exit(130);
});

const code = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() });
process.exitCode = code;
