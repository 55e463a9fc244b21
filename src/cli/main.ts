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

// Ctrl-C, kill, timeout(1), a closed terminal: the spools go, and the exit code says which signal.
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  process.on(signal, () => {
    if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
    removeSpools();
    process.exit(code);
  });
}

const code = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() });
process.exitCode = code;
