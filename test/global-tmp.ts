// Every suite writes its temporary trees under one directory made for this run, removed when the run
// ends, so a test run leaves nothing behind in the machine's /tmp.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(path.join(tmpdir(), "cloudtriage-test-"));
  // One suite scans as an unprivileged user, who must reach its trees under here.
  chmodSync(root, 0o755);
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
