// Tarballs: sosreports built by the system tar are read member by member, streamed, and damage keeps the good part.
import { execFileSync, spawnSync } from "node:child_process";
import { linkSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { constants, gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { InputError } from "../src/reader/open.js";
import { isTarball, isTarballFile, resolveMemberLink, stripArchiveRoot, tarMembers, type TarOptions } from "../src/reader/tar.js";

const root = "sosreport-compute-0-2024-05-14-kqzvxfd";
const podLogDir = "sos_commands/kubernetes/cluster-info/openstack/podlogs/nova-compute-0";
const podLog = `${podLogDir}/k8s_kubectl_--namespace_openstack_logs_nova-compute-0_-c_nova-compute`;
const tailed = "sos_strings/openstack_nova/var.log.nova.nova-compute.log.tailed";
const mtimeSeconds = 1715677961;

const novaLines = [
  "2024-05-14 09:12:40.101 2210 INFO nova.compute.manager [None req-3cbaa1b2-738f-4174-8d8f-6d32f83d6182 demo demo] [instance: fdc62393-892e-43f4-8ecf-1da87ac21a81] Took 0.52 seconds to build instance.",
  "2024-05-14 09:14:02.877 2210 ERROR nova.compute.manager [req-9c1e6b0a-5f3d-4c1e-9a57-0b3c7d2e8f41 7670294 7d3e604 - default default] [instance: 4b7f1c2e-3d5a-4e6f-8a9b-0c1d2e3f4a5b] Instance failed to spawn: libvirt.libvirtError: internal error: process exited while connecting to monitor",
  "2024-05-14 09:14:02.877 2210 ERROR nova.compute.manager Traceback (most recent call last):",
];
const files: Record<string, string> = {
  "etc/hostname": "compute-0\n",
  [podLog]: `${novaLines[0]}\n`,
  // sos keeps the tail of a log over log_size, cut mid-line.
  [tailed]: `ute.manager [None req-1] Final resource view\n${novaLines.join("\n")}\n`,
  "var/log/nova/nova-api.log": "",
  "var/log/nova/nova-compute.log.1": `${novaLines.slice(0, 2).join("\n")}\n`,
};

type Row = [name: string, type: string, linkName: string | null];

function listing(withLongLink: boolean): Row[] {
  const rows: Row[] = [
    ["", "directory", null],
    ["etc", "directory", null],
    ["etc/hostname", "file", null],
    ["hostname", "symlink", "sos_commands/host/hostname"],
    ["sos_commands", "directory", null],
    ["sos_commands/host", "directory", null],
    ["sos_commands/host/hostname", "hardlink", `${root}/etc/hostname`],
    ["sos_commands/kubernetes", "directory", null],
    ["sos_commands/kubernetes/cluster-info", "directory", null],
    ["sos_commands/kubernetes/cluster-info/openstack", "directory", null],
    ["sos_commands/kubernetes/cluster-info/openstack/podlogs", "directory", null],
    [podLogDir, "directory", null],
    [podLog, "file", null],
    ["sos_commands/kubernetes/latest-nova-compute-log", "symlink", podLog.slice("sos_commands/kubernetes/".length)],
    ["sos_strings", "directory", null],
    ["sos_strings/openstack_nova", "directory", null],
    [tailed, "file", null],
    ["var", "directory", null],
    ["var/log", "directory", null],
    ["var/log/nova", "directory", null],
    ["var/log/nova/nova-api.log", "file", null],
    ["var/log/nova/nova-compute.log", "symlink", `../../../${tailed}`],
    ["var/log/nova/nova-compute.log.1", "file", null],
  ];
  return rows
    .filter(([name]) => withLongLink || !name.endsWith("latest-nova-compute-log"))
    .map(([name, type, link]) => [name === "" ? root : `${root}/${name}`, type, link]);
}

interface Tree {
  dir: string;
  extra: Record<string, Buffer>;
}

function sosTree(options: { withLongLink?: boolean; extra?: Record<string, Buffer> } = {}): Tree {
  const dir = mkdtempSync(path.join(tmpdir(), "ct-tar-"));
  const top = path.join(dir, root);
  const all: Record<string, string | Buffer> = { ...files, ...options.extra };
  for (const [name, content] of Object.entries(all)) {
    mkdirSync(path.dirname(path.join(top, name)), { recursive: true });
    writeFileSync(path.join(top, name), content);
  }
  mkdirSync(path.join(top, "sos_commands/host"), { recursive: true });
  linkSync(path.join(top, "etc/hostname"), path.join(top, "sos_commands/host/hostname"));
  symlinkSync("sos_commands/host/hostname", path.join(top, "hostname"));
  symlinkSync(`../../../${tailed}`, path.join(top, "var/log/nova/nova-compute.log"));
  if (options.withLongLink ?? true) {
    symlinkSync(podLog.slice("sos_commands/kubernetes/".length), path.join(top, "sos_commands/kubernetes/latest-nova-compute-log"));
  }
  return { dir, extra: options.extra ?? {} };
}

/** Runs GNU tar with a fixed order, owner and time, so archives are the same on every run. */
function makeTar(tree: Tree, file: string, flags: string[] = []): string {
  const out = path.join(tree.dir, file);
  execFileSync("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", `--mtime=@${mtimeSeconds}`, ...flags, "-C", tree.dir, "-cf", out, root]);
  return out;
}

interface Seen {
  name: string;
  type: string;
  linkName: string | null;
  size: number;
  mtimeMs: number;
  content: Buffer;
  chunkBytes: number[];
}

async function walk(file: string, options?: TarOptions, readData = true): Promise<{ members: Seen[]; error: string | null }> {
  const members: Seen[] = [];
  try {
    for await (const member of tarMembers(file, options)) {
      const seen: Seen = { ...member, content: Buffer.alloc(0), chunkBytes: [] };
      members.push(seen);
      if (!readData) continue;
      for await (const chunk of member.chunks()) {
        seen.chunkBytes.push(chunk.length);
        seen.content = Buffer.concat([seen.content, chunk]);
      }
    }
    return { members, error: null };
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return { members, error: error.reason };
  }
}

async function readAll(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

const rows = (members: Seen[]): Row[] => members.map((m) => [m.name, m.type, m.linkName]);

function expectContents(members: Seen[], tree: Tree): void {
  const expected: Record<string, string | Buffer> = { ...files, ...tree.extra };
  for (const member of members) {
    const inside = stripArchiveRoot(member.name);
    if (member.type === "file") {
      expect(member.content.equals(Buffer.from(expected[inside] ?? "<missing>")), member.name).toBe(true);
      expect(member.size).toBe(member.content.length);
    } else {
      expect([member.name, member.size, member.content.length]).toEqual([member.name, 0, 0]);
    }
  }
}

/** Deterministic text that compresses about 2:1, so a few MB make a member of several chunks. */
function qemuLog(bytes: number): Buffer {
  const lines: string[] = [];
  let seed = 12345;
  let length = 0;
  while (length < bytes) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const line = `2024-05-14T09:14:02.${String(seed % 1000).padStart(3, "0")}+0000: qemu-kvm: vhost ${seed.toString(16).padStart(8, "0")}${(seed ^ 0x5bd1e995).toString(36)}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join("")).subarray(0, bytes);
}

const compressions: [ext: string, flag: string[]][] = [
  [".tar", []],
  [".tar.gz", ["--gzip"]],
  [".tar.xz", ["--xz"]],
  [".tar.bz2", ["--bzip2"]],
  [".tar.zst", ["--zstd"]],
];

describe("reading a sosreport tarball", () => {
  for (const [ext, flags] of compressions) {
    it(`lists names, types and link targets of a ${ext} and streams its files byte for byte`, async () => {
      const tree = sosTree();
      const result = await walk(makeTar(tree, `${root}${ext}`, flags));
      expect(result.error).toBeNull();
      expect(rows(result.members)).toEqual(listing(true));
      expectContents(result.members, tree);
      expect(new Set(result.members.map((m) => m.mtimeMs))).toEqual(new Set([mtimeSeconds * 1000]));
    });
  }

  it("reads GNU, PAX (with a global header) and ustar (name prefix) archives alike", async () => {
    const tree = sosTree({ withLongLink: false });
    const gnu = makeTar(tree, "gnu.tar", ["--format=gnu"]);
    const pax = makeTar(tree, "pax.tar", ["--format=pax", "--pax-option=comment=collected by sos"]);
    const ustar = makeTar(tree, "ustar.tar", ["--format=ustar"]);
    expect(String.fromCharCode(readFileSync(pax)[156] as number)).toBe("g");
    for (const file of [gnu, pax, ustar]) {
      const result = await walk(file);
      expect([file, result.error]).toEqual([file, null]);
      expect(rows(result.members)).toEqual(listing(false));
      expectContents(result.members, tree);
    }
  });

  it("takes a symlink target over 100 bytes from a PAX linkpath record", async () => {
    const tree = sosTree();
    const result = await walk(makeTar(tree, "pax.tar", ["--format=pax"]));
    expect(rows(result.members)).toEqual(listing(true));
  });

  it("reads an old v7 archive, which has no ustar magic, and takes a trailing slash for a directory", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ct-tar-"));
    mkdirSync(path.join(dir, root, "etc"), { recursive: true });
    writeFileSync(path.join(dir, root, "etc/hostname"), "compute-0\n");
    const file = path.join(dir, "v7.tar");
    execFileSync("tar", ["--format=v7", "--sort=name", "-C", dir, "-cf", file, root]);
    const head = readFileSync(file).subarray(0, 512);
    expect(head.toString("latin1", 257, 262)).not.toBe("ustar");
    expect(isTarball(head)).toBe(true);
    const result = await walk(file);
    expect(rows(result.members)).toEqual([
      [root, "directory", null],
      [`${root}/etc`, "directory", null],
      [`${root}/etc/hostname`, "file", null],
    ]);
    expect(result.members[2]?.content.toString()).toBe("compute-0\n");
  });

  it("reads base-256 numbers: a time before 1970 from GNU tar, and a size field rewritten in base 256", async () => {
    const tree = sosTree();
    execFileSync("touch", ["-h", "-d", "1960-01-01T00:00:00Z", path.join(tree.dir, root, "etc/hostname")]);
    const old = path.join(tree.dir, "old.tar");
    execFileSync("tar", ["--format=gnu", "-C", tree.dir, "-cf", old, `${root}/etc/hostname`]);
    expect((await walk(old)).members.map((m) => m.mtimeMs)).toEqual([Date.UTC(1960, 0, 1)]);

    const archive = readFileSync(old);
    archive.fill(0, 124, 136);
    archive[124] = 0x80;
    archive[135] = "compute-0\n".length;
    archive.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += archive[i] as number;
    archive.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    writeFileSync(old, archive);
    const result = await walk(old);
    expect([result.error, result.members[0]?.content.toString()]).toEqual([null, "compute-0\n"]);
  });
});

describe("streaming", () => {
  const bigLog = "var/log/libvirt/qemu/instance-0000002a.log";
  const big = qemuLog(3_000_000);

  it("skips the data the consumer does not read, whole or in part", async () => {
    const tree = sosTree({ extra: { [bigLog]: big } });
    for (const [ext, flags] of compressions) {
      const file = makeTar(tree, `big${ext}`, flags);
      const namesOnly = await walk(file, {}, false);
      expect([ext, namesOnly.error]).toEqual([ext, null]);
      const names = namesOnly.members.map((m) => m.name);
      expect(names).toContain(`${root}/${bigLog}`);

      const seen: string[] = [];
      for await (const member of tarMembers(file)) {
        seen.push(member.name);
        if (member.name.endsWith("nova-compute.log.1")) {
          expect((await readAll(member.chunks())).toString()).toBe(files["var/log/nova/nova-compute.log.1"]);
          continue;
        }
        for await (const chunk of member.chunks()) {
          expect(chunk.length).toBeGreaterThan(0);
          break;
        }
      }
      expect(seen).toEqual(names);
    }
  });

  it("hands a large member over in bounded chunks, never as one buffer", async () => {
    const tree = sosTree({ extra: { [bigLog]: big } });
    for (const [ext, flags] of compressions) {
      const result = await walk(makeTar(tree, `big${ext}`, flags));
      const member = result.members.find((m) => m.name === `${root}/${bigLog}`);
      expect(member?.content.equals(big), ext).toBe(true);
      expect(member?.chunkBytes.length ?? 0).toBeGreaterThan(2);
      expect(Math.max(...(member?.chunkBytes ?? []))).toBeLessThanOrEqual(1 << 20);
    }
  });

  it("refuses to read a member's data after the next member was requested", async () => {
    const tree = sosTree();
    const iterator = tarMembers(makeTar(tree, "s.tar"));
    await iterator.next();
    await iterator.next();
    const first = await iterator.next();
    if (first.done) throw new Error("no member");
    await iterator.next();
    await expect(readAll(first.value.chunks())).rejects.toThrow(/tar member data read after the next member was requested/);
    await iterator.return(undefined);
  });
});

describe("damaged archives keep the members read before the damage", () => {
  const bigLog = "var/log/libvirt/qemu/instance-0000002a.log";
  const big = qemuLog(3_000_000);
  // Members before the big log in archive order: root, etc, etc/hostname, hostname, sos_*, var, var/log, var/log/libvirt, qemu.
  const before = [
    ...listing(true).filter(([name]) => !name.startsWith(`${root}/var`)),
    [`${root}/var`, "directory", null],
    [`${root}/var/log`, "directory", null],
    [`${root}/var/log/libvirt`, "directory", null],
    [`${root}/var/log/libvirt/qemu`, "directory", null],
  ];

  function expectCutInBigLog(result: { members: Seen[] }): void {
    expect(rows(result.members.slice(0, -1))).toEqual(before);
    const last = result.members.at(-1);
    expect(last?.name).toBe(`${root}/${bigLog}`);
    expect(last?.content.length).toBeGreaterThan(0);
    expect(last?.content.length).toBeLessThan(big.length);
    expect(last?.content.equals(big.subarray(0, last.content.length))).toBe(true);
  }

  function cut(file: string, fraction: number): string {
    const bytes = readFileSync(file);
    const out = `${file}.cut`;
    writeFileSync(out, bytes.subarray(0, Math.round(bytes.length * fraction)));
    return out;
  }

  it("reports a truncated .tar.gz after the whole members, with the bytes that were inflated", async () => {
    const tree = sosTree({ extra: { [bigLog]: big } });
    const file = cut(makeTar(tree, "t.tar.gz", ["--gzip"]), 0.6);
    const inflated = gunzipSync(readFileSync(file), { finishFlush: constants.Z_SYNC_FLUSH }).length;
    const result = await walk(file);
    expect(result.error).toBe(`truncated tar archive after ${before.length} members (${(inflated / 1e6).toFixed(1)} MB)`);
    expectCutInBigLog(result);
  });

  it("reports a truncated plain .tar at the byte where it ends", async () => {
    const tree = sosTree({ extra: { [bigLog]: big } });
    const file = cut(makeTar(tree, "t.tar"), 0.5);
    const result = await walk(file);
    expect(result.error).toBe(`truncated tar archive after ${before.length} members (${(readFileSync(file).length / 1e6).toFixed(1)} MB)`);
    expectCutInBigLog(result);
  });

  it("reports a truncated .tar.xz with xz's first stderr line", async () => {
    const tree = sosTree({ extra: { [bigLog]: big } });
    const file = cut(makeTar(tree, "t.tar.xz", ["--xz"]), 0.6);
    const decoded = spawnSync("xz", ["-dc", file], { maxBuffer: 1 << 26 }).stdout.length;
    const result = await walk(file);
    expect(result.error).toBe(`xz failed after ${before.length} members (${(decoded / 1e6).toFixed(1)} MB): xz: (stdin): Unexpected end of input`);
    expectCutInBigLog(result);
  });

  it("stops at a header whose checksum fails and names its offset", async () => {
    const tree = sosTree();
    const file = makeTar(tree, "c.tar");
    const archive = readFileSync(file);
    const offset = archive.indexOf(`${root}/var/log/nova/nova-compute.log.1\0`);
    expect(offset % 512).toBe(0);
    archive[offset + root.length + 1] = "V".charCodeAt(0);
    writeFileSync(file, archive);
    const survivors = listing(true).slice(0, -1);
    const result = await walk(file);
    expect(result.error).toBe(`corrupt tar header at offset ${offset} after ${survivors.length} members: checksum mismatch`);
    expect(rows(result.members)).toEqual(survivors);
    expectContents(result.members, tree);

    // The same damage inside gzip: the offset is in the inflated archive.
    writeFileSync(`${file}.gz`, gzipSync(archive));
    expect((await walk(`${file}.gz`)).error).toBe(`corrupt tar header at offset ${offset} after ${survivors.length} members: checksum mismatch`);
  });
});

describe("detection by content", () => {
  it("recognises tarballs whatever their compression, and nothing else", async () => {
    const tree = sosTree();
    for (const [ext, flags] of compressions) {
      expect([ext, await isTarballFile(makeTar(tree, `any-name${ext}`, flags))]).toEqual([ext, true]);
    }
    const log = path.join(tree.dir, root, "var/log/nova/nova-compute.log.1");
    const plain = readFileSync(log);
    writeFileSync(`${log}.gz`, gzipSync(plain));
    execFileSync("xz", ["-k", log]);
    execFileSync("bzip2", ["-k", log]);
    for (const file of [log, `${log}.gz`, `${log}.xz`, `${log}.bz2`, path.join(tree.dir, root, "var/log/nova/nova-api.log")]) {
      expect([file, await isTarballFile(file)]).toEqual([file, false]);
    }
    expect(await walk(log)).toEqual({ members: [], error: "not a tar archive (no tar header at its start)" });
    expect(isTarball(Buffer.alloc(512))).toBe(false);
    expect(isTarball(Buffer.from(`${novaLines.join("\n")}\n`.repeat(3)))).toBe(false);
  });

  it("reads an archive with no members, as GNU tar writes it, as empty", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ct-tar-"));
    const file = path.join(dir, "empty.tar");
    execFileSync("tar", ["-cf", file, "-T", "/dev/null"]);
    expect(await walk(file)).toEqual({ members: [], error: null });
  });

  it("says which tool to install when the decompressor is missing", async () => {
    const tree = sosTree();
    const noTools: TarOptions = { env: { PATH: "" } };
    const cases: [string, string[], string][] = [
      [".tar.xz", ["--xz"], "xz-compressed tarball, but the xz tool is not installed (apt-get install xz-utils / dnf install xz)"],
      [".tar.bz2", ["--bzip2"], "bzip2-compressed tarball, but the bzip2 tool is not installed (apt-get install bzip2 / dnf install bzip2)"],
      [".tar.zst", ["--zstd"], "zstd-compressed tarball, but the zstd tool is not installed (apt-get install zstd / dnf install zstd)"],
    ];
    for (const [ext, flags, reason] of cases) {
      const file = makeTar(tree, `m${ext}`, flags);
      expect(await walk(file, noTools)).toEqual({ members: [], error: reason });
      await expect(isTarballFile(file, noTools)).rejects.toThrow(reason.replace("tarball", "file"));
    }
  });
});

describe("paths inside the archive", () => {
  it("resolves sos's tailed-log symlink from the member's directory", () => {
    expect(resolveMemberLink(`${root}/var/log/nova/nova-compute.log`, `../../../${tailed}`)).toBe(`${root}/${tailed}`);
    expect(resolveMemberLink("var/log/nova/nova-compute.log", `../../../${tailed}`)).toBe(tailed);
    expect(resolveMemberLink("hostname", "sos_commands/host/hostname")).toBe("sos_commands/host/hostname");
    expect(resolveMemberLink("etc/localtime", "../usr/share/zoneinfo/./UTC")).toBe("usr/share/zoneinfo/UTC");
  });

  it("never climbs above the archive root, and reads absolute targets from it", () => {
    expect(resolveMemberLink("var/log/messages", "../../../../etc/shadow")).toBe("etc/shadow");
    expect(resolveMemberLink("etc/mtab", "/proc/self/mounts")).toBe("proc/self/mounts");
    expect(resolveMemberLink("a/b", "..")).toBe("");
  });

  it("strips the sosreport folder so names match the host's tree", () => {
    expect(stripArchiveRoot(`${root}/var/log/nova/nova-compute.log`)).toBe("var/log/nova/nova-compute.log");
    expect(stripArchiveRoot(root)).toBe("");
    expect(stripArchiveRoot("sosreport-ctl-1.12345-20240514091240/sos_commands/host/hostname")).toBe("sos_commands/host/hostname");
  });
});
