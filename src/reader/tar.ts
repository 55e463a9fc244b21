// Streams the members of a (possibly compressed) tarball, such as a sosreport, without unpacking it to disk.
import type * as ChildProcesses from "node:child_process";
import type { ChildProcess } from "node:child_process";
import type { FileHandle } from "node:fs/promises";
import { createRequire } from "node:module";
import type { Readable } from "node:stream";
import type * as Zlib from "node:zlib";
import { InputError, compressionOf, describeError, feedGunzip, openInput, type Compression } from "./open.js";

// Loaded at the first tarball, not at startup: most scans read none.
const require = createRequire(import.meta.url);
const childProcesses = (): typeof ChildProcesses => require("node:child_process") as typeof ChildProcesses;
const zlib = (): typeof Zlib => require("node:zlib") as typeof Zlib;

export type TarMemberType = "file" | "directory" | "symlink" | "hardlink" | "other";

export interface TarMember {
  /** Relative, normalised POSIX path: no leading `/` or `./`, no trailing `/`, `..` clamped at the root. */
  name: string;
  /** Bytes that `chunks()` yields; 0 for directories and links. */
  size: number;
  type: TarMemberType;
  /** A symlink's target as stored (resolve it with resolveMemberLink); a hard link's target member name. */
  linkName: string | null;
  mtimeMs: number;
  /**
   * The member's data. Read it before asking for the next member, or it is skipped. A chunk is valid
   * until the next one is requested; copy what you keep. Throws InputError if the archive breaks inside it.
   */
  chunks(): AsyncIterable<Buffer>;
}

export interface TarOptions {
  /** Environment for the xz, bzip2 or zstd child process; its PATH finds the tool. Default: inherited. */
  env?: NodeJS.ProcessEnv;
}

const blockBytes = 512;
const chunkBytes = 1 << 20;
// PAX and GNU long-name headers hold a path or a few records; a bigger one is damage, not metadata.
const maxMetadataBytes = 1 << 20;
const maxStderrBytes = 4096;

const tools: Record<Exclude<Compression, "none" | "gzip">, { command: string; install: string }> = {
  xz: { command: "xz", install: "apt-get install xz-utils / dnf install xz" },
  bzip2: { command: "bzip2", install: "apt-get install bzip2 / dnf install bzip2" },
  zstd: { command: "zstd", install: "apt-get install zstd / dnf install zstd" },
};

/**
 * What broke in the byte stream or the archive, before the count of good members is known.
 * It becomes "<what> after <n> members[ (<MB>)][: <detail>]".
 */
class ArchiveFault extends Error {
  constructor(
    readonly what: string,
    readonly detail: string | null,
    readonly showsBytes: boolean,
    options?: { cause?: unknown },
  ) {
    super(detail ? `${what}: ${detail}` : what, options);
  }
}

const truncated = (cause?: unknown): ArchiveFault => new ArchiveFault("truncated tar archive", null, true, { cause });

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Decompressed bytes, one chunk at a time; `null` at a clean end. Throws ArchiveFault. */
interface ChunkStream {
  next(): Promise<Buffer | null>;
  close(): void;
}

async function openDecompressed(path: string, noun: string, options: TarOptions): Promise<ChunkStream> {
  const handle: FileHandle = await openInput(path);
  let compression: Compression;
  try {
    const head = Buffer.alloc(6);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    compression = compressionOf(head.subarray(0, bytesRead));
  } catch (error) {
    await handle.close();
    throw new InputError(describeError(error), { cause: error });
  }
  if (compression === "none") {
    const file = handle.createReadStream({ start: 0, highWaterMark: chunkBytes });
    return readableStream(file, [file]);
  }
  if (compression === "gzip") {
    const gunzip = zlib().createGunzip({ chunkSize: chunkBytes });
    void feedGunzip(handle, gunzip);
    return readableStream(gunzip, [gunzip]);
  }
  const tool = tools[compression];
  try {
    return await spawnTool(tool.command, handle.fd, options.env);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(
      code === "ENOENT"
        ? `${compression}-compressed ${noun}, but the ${tool.command} tool is not installed (${tool.install})`
        : `${compression}-compressed ${noun}, but the ${tool.command} tool could not be run: ${describeError(error)}`,
      { cause: error },
    );
  } finally {
    // The child holds its own copy of the descriptor.
    await handle.close();
  }
}

/** A single xz, bzip2 or zstd compressed file (a rotated log), inflated by the system tool as it is read. */
export async function* toolDecompressedChunks(path: string, options: TarOptions = {}): AsyncGenerator<Buffer> {
  const stream = await openDecompressed(path, "file", options);
  let produced = 0;
  try {
    for (let chunk = await stream.next(); chunk !== null; chunk = await stream.next()) {
      if (produced === 0 && chunk.subarray(0, 8192).includes(0)) throw new InputError("binary file (NUL byte in its first 8 KiB after decompression); skipped");
      produced += chunk.length;
      yield chunk;
    }
  } catch (error) {
    if (!(error instanceof ArchiveFault)) throw error;
    throw new InputError(produced > 0 ? `${error.message} after ${megabytes(produced)}; earlier lines were scanned` : error.message, { cause: error });
  } finally {
    stream.close();
  }
}

function spawnTool(command: string, stdinFd: number, env: NodeJS.ProcessEnv | undefined): Promise<ChunkStream> {
  // Reading the file through stdin spares us quoting a path that may start with "-".
  const child = childProcesses().spawn(command, ["-dc"], { stdio: [stdinFd, "pipe", "pipe"], env });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("spawn", () => {
      child.off("error", reject);
      // A later error (a failed kill) must not crash the process; the exit status tells the story.
      child.on("error", () => {});
      resolve(toolStream(child, command));
    });
  });
}

function readableStream(stream: Readable, owned: Readable[]): ChunkStream {
  const iterator = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  return {
    async next() {
      try {
        const result = await iterator.next();
        return result.done ? null : result.value;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "Z_BUF_ERROR") throw truncated(error);
        throw new ArchiveFault(describeError(error), null, true, { cause: error });
      }
    },
    close() {
      for (const s of owned) s.destroy();
    },
  };
}

function toolStream(child: ChildProcess, command: string): ChunkStream {
  const stdout = child.stdout as Readable;
  const stderr = child.stderr as Readable;
  let stderrText = "";
  stderr.on("data", (chunk: Buffer) => {
    if (stderrText.length < maxStderrBytes) stderrText += chunk.toString("utf8", 0, maxStderrBytes);
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  // Node discards a child's unread stdout when it exits unless something listens; a small archive
  // can be decompressed before our first read. The no-op listener keeps the stream paused instead.
  stdout.on("readable", () => {});
  const iterator = (stdout as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  return {
    async next() {
      let result: IteratorResult<Buffer>;
      try {
        result = await iterator.next();
      } catch (error) {
        throw new ArchiveFault(`${command} output could not be read`, describeError(error), true, { cause: error });
      }
      if (!result.done) return result.value;
      const { code, signal } = await closed;
      if (code === 0) return null;
      const firstLine = stderrText.split("\n").find((line) => line.trim() !== "")?.trim();
      const detail = firstLine ?? (signal ? `killed by ${signal}` : `exit status ${code}`);
      throw new ArchiveFault(`${command} failed`, detail, true);
    },
    close() {
      stdout.destroy();
      stderr.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
}

/** Buffers at most one decompressed chunk; hands out views of it so member data is never copied. */
class ByteSource {
  offset = 0;
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(private readonly stream: ChunkStream) {}

  private async fill(): Promise<boolean> {
    while (this.pending.length === 0) {
      if (this.ended) return false;
      const next = await this.stream.next();
      if (next === null) this.ended = true;
      else this.pending = next;
    }
    return true;
  }

  private takeNow(maxBytes: number): Buffer {
    const piece = this.pending.subarray(0, Math.min(maxBytes, this.pending.length));
    this.pending = this.pending.subarray(piece.length);
    this.offset += piece.length;
    return piece;
  }

  /** Up to maxBytes (at least one); the stream ending first is a truncation. */
  async take(maxBytes: number): Promise<Buffer> {
    if (!(await this.fill())) throw truncated();
    return this.takeNow(maxBytes);
  }

  /** Exactly `bytes`, or fewer only where the stream ends. */
  async read(bytes: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < bytes && (await this.fill())) {
      const piece = this.takeNow(bytes - got);
      parts.push(piece);
      got += piece.length;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, got);
  }

  async skip(bytes: number): Promise<void> {
    for (let left = bytes; left > 0; ) left -= (await this.take(left)).length;
  }
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

function textField(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.toString("utf8", 0, nul < 0 ? field.length : nul);
}

/** Octal, space/NUL padded; or GNU base-256 (high bit set), used for sizes ≥ 8 GiB and times before 1970. */
function numericField(block: Buffer, start: number, length: number): number | null {
  const field = block.subarray(start, start + length);
  const first = field[0] ?? 0;
  if (first & 0x80) {
    let value = BigInt(first === 0xff ? first : first & 0x7f);
    for (let i = 1; i < field.length; i++) value = (value << 8n) | BigInt(field[i] ?? 0);
    if (first === 0xff) value = BigInt.asIntN(field.length * 8, value);
    const number = Number(value);
    return Number.isSafeInteger(number) ? number : null;
  }
  const text = field.toString("latin1").replace(/[\0 ]+$/, "").replace(/^ +/, "");
  if (text === "") return 0;
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : null;
}

function checksumMatches(block: Buffer): boolean {
  const stored = numericField(block, 148, 8);
  if (stored === null) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < blockBytes; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  // Some old tars (SunOS, early GNU) summed signed chars.
  return stored === unsigned || stored === signed;
}

/**
 * Whether decompressed bytes start a tar archive: `ustar` at offset 257 (POSIX and GNU), or, for
 * old v7 archives without that magic, a first header whose checksum holds.
 */
export function isTarball(head: Buffer): boolean {
  if (head.length < blockBytes) return false;
  if (head.toString("latin1", 257, 262) === "ustar") return true;
  return !isZeroBlock(head.subarray(0, blockBytes)) && head[0] !== 0 && checksumMatches(head);
}

/**
 * Whether a file is a tarball, plain or compressed, judged by content; decompresses one block.
 * Throws InputError when the file cannot be opened or its decompressor is not installed.
 */
export async function isTarballFile(path: string, options: TarOptions = {}): Promise<boolean> {
  const stream = await openDecompressed(path, "file", options);
  try {
    return isTarball(await new ByteSource(stream).read(blockBytes));
  } catch (error) {
    // Damage within the first block: not readable as a tarball; the plain reader gives the reason.
    if (error instanceof ArchiveFault) return false;
    throw error;
  } finally {
    stream.close();
  }
}

/** Normalises a stored path so callers can treat the archive as a tree; never climbs above the root. */
function cleanPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/");
}

/**
 * Resolves a symlink target against the member's directory, as the kernel would in the unpacked
 * tree. Absolute targets are taken from the archive root, and `..` stops there.
 */
export function resolveMemberLink(name: string, linkName: string): string {
  if (linkName.startsWith("/")) return cleanPath(linkName);
  const slash = name.lastIndexOf("/");
  return cleanPath(slash < 0 ? linkName : `${name.slice(0, slash)}/${linkName}`);
}

/**
 * Drops the single top folder (`sosreport-<host>-<date>-<rand>/`) so names match the unpacked host
 * tree; the folder's own entry becomes "". Use it only when all members share that folder.
 */
export function stripArchiveRoot(name: string): string {
  const slash = name.indexOf("/");
  return slash < 0 ? "" : name.slice(slash + 1);
}

/** PAX records are "<length> <key>=<value>\n", the length counting the whole record in bytes. */
function parsePaxRecords(body: Buffer, into: Map<string, string>): boolean {
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const space = body.indexOf(0x20, at);
    if (space < 0) return false;
    const length = Number(body.toString("latin1", at, space));
    if (!Number.isSafeInteger(length) || length <= space - at || at + length > body.length) return false;
    const record = body.toString("utf8", space + 1, at + length - 1);
    const equals = record.indexOf("=");
    if (equals < 0) return false;
    into.set(record.slice(0, equals), record.slice(equals + 1));
    at += length;
  }
  return true;
}

function typeOf(flag: string, rawName: string): TarMemberType {
  switch (flag) {
    case "0":
    case "\0":
    case "7":
      // v7 archives mark directories only by a trailing slash.
      return rawName.endsWith("/") ? "directory" : "file";
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "5":
      return "directory";
    default:
      return "other";
  }
}

// Links, devices, directories and FIFOs have no data blocks, whatever their size field says.
const flagsWithoutData = new Set(["1", "2", "3", "4", "5", "6"]);

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/**
 * Yields the members of a tarball in archive order, streaming their data. Damage ends the walk with
 * an InputError after the members that were whole; its reason says how many and where.
 */
export async function* tarMembers(path: string, options: TarOptions = {}): AsyncGenerator<TarMember> {
  const stream = await openDecompressed(path, "tarball", options);
  const source = new ByteSource(stream);
  let wholeMembers = 0;
  let failure: InputError | null = null;

  // The first failure sticks: the member's chunks() and the next step of this walk both throw it.
  const fail = (error: unknown): unknown => {
    if (failure) return failure;
    if (!(error instanceof ArchiveFault)) return error;
    const bytes = error.showsBytes ? ` (${megabytes(source.offset)})` : "";
    const detail = error.detail ? `: ${error.detail}` : "";
    failure = new InputError(`${error.what} after ${plural(wholeMembers, "member")}${bytes}${detail}`, {
      cause: error.cause ?? error,
    });
    return failure;
  };

  const corrupt = (offset: number, detail: string): ArchiveFault =>
    new ArchiveFault(`corrupt tar header at offset ${offset}`, detail, false);

  async function* memberChunks(state: { remaining: number; isCurrent: boolean }): AsyncGenerator<Buffer> {
    if (!state.isCurrent) throw new Error(`${path}: tar member data read after the next member was requested`);
    while (state.remaining > 0) {
      if (failure) throw failure;
      if (!state.isCurrent) throw new Error(`${path}: tar member data read after the next member was requested`);
      let piece: Buffer;
      try {
        piece = await source.take(state.remaining);
      } catch (error) {
        throw fail(error);
      }
      state.remaining -= piece.length;
      yield piece;
    }
  }

  try {
    const globalPax = new Map<string, string>();
    let localPax = new Map<string, string>();
    let longName: string | null = null;
    let longLink: string | null = null;
    for (;;) {
      if (failure) throw failure;
      const headerOffset = source.offset;
      const block = await source.read(blockBytes);
      // Damage at the very start is more likely a file that was never a tarball.
      const isEmptyArchive = block.length === blockBytes && isZeroBlock(block);
      if (headerOffset === 0 && !isTarball(block) && !isEmptyArchive) {
        throw new InputError("not a tar archive (no tar header at its start)");
      }
      if (block.length < blockBytes) throw truncated();
      // The archive ends with two zero blocks; GNU tar stops at the first, and so do we.
      if (isZeroBlock(block)) return;
      if (!checksumMatches(block)) throw corrupt(headerOffset, "checksum mismatch");
      const headerSize = numericField(block, 124, 12);
      if (headerSize === null || headerSize < 0) throw corrupt(headerOffset, "invalid size field");
      const flag = String.fromCharCode(block[156] as number);

      if (flag === "L" || flag === "K" || flag === "x" || flag === "X" || flag === "g") {
        if (headerSize > maxMetadataBytes) {
          throw corrupt(headerOffset, `extended header of ${headerSize} bytes is over the ${maxMetadataBytes >> 20} MiB limit`);
        }
        const body = await source.read(headerSize);
        if (body.length < headerSize) throw truncated();
        await source.skip(padding(headerSize));
        if (flag === "L" || flag === "K") {
          const nul = body.indexOf(0);
          const text = body.toString("utf8", 0, nul < 0 ? body.length : nul);
          if (flag === "L") longName = text;
          else longLink = text;
        } else if (!parsePaxRecords(body, flag === "g" ? globalPax : localPax)) {
          throw corrupt(headerOffset, "malformed PAX record");
        }
        continue;
      }

      // Old GNU sparse headers may be followed by extension blocks before the data.
      if (flag === "S" && block[482] !== 0) {
        let extension: Buffer;
        do {
          extension = await source.read(blockBytes);
          if (extension.length < blockBytes) throw truncated();
        } while (extension[504] !== 0);
      }

      const pax = new Map([...globalPax, ...localPax]);
      // An empty PAX value cancels a global one: the header field applies again.
      const paxValue = (key: string): string | null => {
        const value = pax.get(key);
        return value === undefined || value === "" ? null : value;
      };
      const isPosix = block.toString("latin1", 257, 263) === "ustar\0";
      const prefix = isPosix ? textField(block, 345, 155) : "";
      const headerName = textField(block, 0, 100);
      const rawName =
        longName ?? paxValue("GNU.sparse.name") ?? paxValue("path") ?? (prefix ? `${prefix}/${headerName}` : headerName);
      const rawLink = longLink ?? paxValue("linkpath") ?? textField(block, 157, 100);
      const type = typeOf(flag, rawName);

      const hasData = !flagsWithoutData.has(flag) && type !== "directory";
      let dataBytes = hasData ? headerSize : 0;
      // GNU tar and Python's tarfile put sizes of 8 GiB and more in a PAX record.
      const paxSize = paxValue("size");
      if (hasData && paxSize !== null) {
        if (!/^\d+$/.test(paxSize)) throw corrupt(headerOffset, "invalid PAX size");
        dataBytes = Number(paxSize);
      }
      const mtime = numericField(block, 136, 12);
      const paxMtime = Number(paxValue("mtime") ?? Number.NaN);
      const mtimeMs = Number.isFinite(paxMtime) ? Math.round(paxMtime * 1000) : (mtime ?? 0) * 1000;
      localPax = new Map();
      longName = null;
      longLink = null;

      const state = { remaining: dataBytes, isCurrent: true };
      yield {
        name: cleanPath(rawName),
        size: dataBytes,
        type,
        linkName: type === "symlink" ? rawLink : type === "hardlink" ? cleanPath(rawLink) : null,
        mtimeMs,
        chunks: () => memberChunks(state),
      };
      state.isCurrent = false;
      if (failure) throw failure;
      await source.skip(state.remaining);
      state.remaining = 0;
      wholeMembers++;
      await source.skip(padding(dataBytes));
    }
  } catch (error) {
    throw fail(error);
  } finally {
    stream.close();
  }
}

function padding(bytes: number): number {
  return (blockBytes - (bytes % blockBytes)) % blockBytes;
}
