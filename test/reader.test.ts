// The reader: content decides the format, rotated series come oldest first, bad files are skipped with a reason.
import { mkdtempSync, writeFileSync, mkdirSync, chmodSync, readdirSync, readlinkSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { collectInputs, compareRotation } from "../src/reader/inputs.js";
import { readFileChunks, InputError } from "../src/reader/open.js";
import { LineSplitter } from "../src/reader/lines.js";

function tree(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(path.join(tmpdir(), "ct-reader-"));
  for (const [name, content] of Object.entries(files)) {
    const full = path.join(root, name);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  return root;
}

async function readAll(file: string): Promise<{ text: string; error: string | null }> {
  const parts: Buffer[] = [];
  try {
    for await (const chunk of readFileChunks(file)) parts.push(Buffer.from(chunk));
    return { text: Buffer.concat(parts).toString("utf8"), error: null };
  } catch (error) {
    return { text: Buffer.concat(parts).toString("utf8"), error: error instanceof InputError ? error.reason : String(error) };
  }
}

function countLines(chunks: Buffer[], maxLineBytes?: number): { lines: string[]; truncated: number } {
  const lines: string[] = [];
  const splitter = new LineSplitter(
    {
      lines(buf, starts, ends, count) {
        for (let i = 0; i < count; i++) lines.push(buf.toString("utf8", starts[i], ends[i]));
      },
    },
    maxLineBytes,
  );
  for (const c of chunks) splitter.push(c);
  splitter.end();
  return { lines, truncated: splitter.truncatedLines };
}

describe("rotated series", () => {
  it("reads x.log.3.gz, x.log.2.gz, x.log.1, x.log oldest first", () => {
    const names = ["var/log/nova/nova-compute.log", "var/log/nova/nova-compute.log.1", "var/log/nova/nova-compute.log.3.gz", "var/log/nova/nova-compute.log.2.gz", "var/log/nova/nova-api.log"];
    expect([...names].sort(compareRotation)).toEqual(["var/log/nova/nova-api.log", "var/log/nova/nova-compute.log.3.gz", "var/log/nova/nova-compute.log.2.gz", "var/log/nova/nova-compute.log.1", "var/log/nova/nova-compute.log"]);
  });

  it("orders logrotate dateext names by date", () => {
    expect(["messages", "messages-20240310", "messages-20240303"].sort(compareRotation)).toEqual(["messages-20240303", "messages-20240310", "messages"]);
  });
});

describe("reading by content", () => {
  it("inflates gzip by its magic bytes, whatever the name", async () => {
    const root = tree({ "nova-compute.log.2": gzipSync("line one\nline two\n") });
    expect(await readAll(path.join(root, "nova-compute.log.2"))).toEqual({ text: "line one\nline two\n", error: null });
  });

  it("skips a binary file with a reason", async () => {
    const root = tree({ "system.journal": Buffer.from([0x4c, 0x50, 0x4b, 0x53, 0, 0, 0, 1, 2, 3]) });
    const result = await readAll(path.join(root, "system.journal"));
    expect(result.error).toMatch(/^binary file \(NUL byte at offset 4\)/);
  });

  it("keeps what a truncated gzip decoded and says it was truncated", async () => {
    const body = Array.from({ length: 20000 }, (_, i) => `2024-03-12 10:00:00.000 1 INFO nova.a [-] line ${i} ${"x".repeat(40)}`).join("\n");
    const gz = gzipSync(body);
    const root = tree({ "cut.log.gz": gz.subarray(0, Math.floor(gz.length / 2)) });
    const result = await readAll(path.join(root, "cut.log.gz"));
    expect(result.error).toMatch(/truncated gzip stream|unexpected end of file/);
    expect(result.text.length).toBeGreaterThan(0);
    expect(body.startsWith(result.text.slice(0, 1000))).toBe(true);
  });

  it("closes every damaged gzip file it read: a bad checksum, garbage after the data, a corrupt block", async () => {
    const body = Array.from({ length: 2000 }, (_, i) => `2024-03-12 10:00:00.000 1 INFO nova.a [-] line ${i}`).join("\n") + "\n";
    const gz = gzipSync(body);
    const badCrc = Buffer.from(gz);
    badCrc[badCrc.length - 8] = (badCrc[badCrc.length - 8] as number) ^ 0xff;
    const corrupt = Buffer.from(gz);
    corrupt.fill(0xff, 40, 60);
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 10; i++) {
      files[`crc-${i}.log.gz`] = badCrc;
      files[`garbage-${i}.log.gz`] = Buffer.concat([gz, Buffer.from("not gzip at all")]);
      files[`corrupt-${i}.log.gz`] = corrupt;
    }
    const root = tree(files);
    // Descriptors of this process open on a file of the tree (Linux).
    const openInTree = () =>
      readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(root);
        } catch {
          return false;
        }
      });
    for (const name of Object.keys(files)) {
      const { error } = await readAll(path.join(root, name));
      expect(error).toMatch(/^corrupt gzip data|^trailing garbage/);
      // A stream's descriptor closes on the thread pool, a moment after the read; a leaked one stayed open
      // until garbage collection closed it, with a warning on stderr.
      for (let wait = 0; wait < 100 && openInTree().length > 0; wait++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect([name, openInTree()]).toEqual([name, []]);
    }
  });

  it("walks a tree, keeps log files, finds config files and the host from etc/hostname", async () => {
    const root = tree({
      "compute-1/etc/hostname": "compute-1\n",
      "compute-1/etc/nova/nova.conf": "[DEFAULT]\n",
      "compute-1/var/log/nova/nova-compute.log": "x\n",
      "compute-1/var/log/nova/nova-compute.log.1": "x\n",
      "expected.yaml": "findings: []\n",
      "README.md": "# notes\n",
    });
    const collected = await collectInputs([root], "/");
    expect(collected.sources.map((s) => [s.displayPath, s.host])).toEqual([
      ["compute-1/var/log/nova/nova-compute.log.1", "compute-1"],
      ["compute-1/var/log/nova/nova-compute.log", "compute-1"],
    ]);
    expect(collected.configFiles.map((s) => s.displayPath)).toEqual(["compute-1/etc/nova/nova.conf"]);
  });

  it("reports a missing path, a dangling link and an unreadable file, and goes on", async () => {
    const root = tree({ "var/log/ok.log": "fine\n", "var/log/secret.log": "x\n" });
    symlinkSync(path.join(root, "nowhere.log"), path.join(root, "var/log/dangling.log"));
    chmodSync(path.join(root, "var/log/secret.log"), 0o000);
    const collected = await collectInputs([root, path.join(root, "missing.log")], "/");
    expect(collected.skipped.map((s) => s.reason)).toContain("no such file (it vanished or is a dangling link)");
    expect(collected.sources.map((s) => path.basename(s.absPath))).toEqual(expect.arrayContaining(["ok.log"]));
  });
});

describe("line framing", () => {
  it("counts lines from bytes across chunk boundaries and strips CR", () => {
    const { lines } = countLines([Buffer.from("a\r\nb"), Buffer.from("c\n\nd")]);
    expect(lines).toEqual(["a", "bc", "", "d"]);
  });

  it("caps a 5 MB line for matching, counts it, and keeps the next line's number", () => {
    const long = Buffer.alloc(5 * 1024 * 1024, 0x61);
    const { lines, truncated } = countLines([Buffer.from("first\n"), long.subarray(0, 3_000_000), long.subarray(3_000_000), Buffer.from("\nlast\n")], 1 << 20);
    expect(lines).toHaveLength(3);
    expect(lines[1]!.length).toBe(1 << 20);
    expect(lines[2]).toBe("last");
    expect(truncated).toBe(1);
  });
});

describe("what a directory walk reads", () => {
  it("leaves out the binary logs /var/log holds, and reads the text ones", async () => {
    const { isLogPath } = await import("../src/reader/inputs.js");
    for (const binary of ["var/log/wtmp", "var/log/btmp.1", "var/log/lastlog", "var/log/journal/0f3c/system.journal", "var/log/journal/0f3c/system@0005d1c9f5c1b0a3-5a9c2b8e0c9d3f1e.journal~", "var/log/sa/sa12"]) {
      expect(isLogPath(binary), binary).toBe(false);
    }
    for (const text of ["var/log/messages-20240310", "var/log/nova/nova-compute.log.2.gz", "var/log/sa/sar12", "sos_commands/logs/journalctl_--no-pager", "mn-10.0.0.5/mn-logs/management-server.log"]) {
      expect(isLogPath(text), text).toBe(true);
    }
  });
});

describe("single compressed logs", () => {
  it("reads an xz, bzip2 or zstd rotated log through the system tool", async () => {
    const { execFileSync } = await import("node:child_process");
    const root = tree({ "nova-compute.log.1": "line one\nline two\n" });
    const plain = path.join(root, "nova-compute.log.1");
    execFileSync("xz", ["-k", plain]);
    execFileSync("bzip2", ["-k", plain]);
    execFileSync("zstd", ["-q", plain, "-o", `${plain}.zst`]);
    for (const suffix of [".xz", ".bz2", ".zst"]) expect(await readAll(plain + suffix), suffix).toEqual({ text: "line one\nline two\n", error: null });
  });
});
