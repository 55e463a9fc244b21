// Opens one input by its content, not its name: plain text, gzip, or a refusal with a reason.
import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import type * as Zlib from "node:zlib";
import { createRequire } from "node:module";

// zlib is loaded at the first compressed file, not at startup: a scan in a pipe starts sooner.
const require = createRequire(import.meta.url);
const zlib = (): typeof Zlib => require("node:zlib") as typeof Zlib;
// Node before 20.15 has no zlib.crc32; a member's length is still checked there.
const crc32 = (): ((data: Buffer, value?: number) => number) | undefined => (zlib() as { crc32?: (data: Buffer, value?: number) => number }).crc32;

/** An input that cannot be read, or can be read only in part; `reason` is shown to the operator. */
export class InputError extends Error {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
}

const chunkBytes = 1 << 20;
const minChunkBytes = 64 << 10;
const binaryProbeBytes = 8192;

export type Compression = "none" | "gzip" | "xz" | "bzip2" | "zstd";

export function compressionOf(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return "xz";
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return "bzip2";
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return "zstd";
  return "none";
}

/**
 * How much text a file holds, to share work between threads: a gzip file gives its inflated size in
 * its last four bytes (of its last member, modulo 4 GiB); other files count by their size.
 */
export function textSize(path: string, size: number): number {
  if (size < 18) return size;
  let fd: number | null = null;
  try {
    fd = openSync(path, "r");
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 2, 0);
    if (compressionOf(head.subarray(0, 2)) !== "gzip") return size;
    readSync(fd, head, 0, 4, size - 4);
    return Math.max(size, head.readUInt32LE(0));
  } catch {
    return size;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Text logs have no NUL bytes near their start; binaries (journal files, core dumps, images) do. */
export function binaryReason(firstChunk: Buffer): string | null {
  const probe = firstChunk.subarray(0, binaryProbeBytes);
  const nul = probe.indexOf(0);
  return nul >= 0 ? `binary file (NUL byte at offset ${nul}); skipped` : null;
}

export function describeError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOENT":
      return "no such file (it vanished or is a dangling link)";
    case "EISDIR":
      return "is a directory";
    case "ELOOP":
      return "symbolic link loop";
    case "EIO":
      return "I/O error while reading";
    case "Z_BUF_ERROR":
      return "truncated gzip stream";
    case "Z_DATA_ERROR":
      return "corrupt gzip data";
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * Yields the decompressed bytes of a file. The yielded buffer may be reused for the next chunk,
 * so a consumer copies what it keeps. Throws InputError; bytes yielded before it were good.
 */
/** Opens a file for reading; a failure becomes an InputError with the operator's words for it. */
export async function openInput(path: string): Promise<FileHandle> {
  try {
    return await open(path, "r");
  } catch (error) {
    throw new InputError(describeError(error), { cause: error });
  }
}

/**
 * A file's decompressed bytes. `verified: false` skips the gzip checksum, which costs a fifth of the
 * scan on the main thread: for a second read of a file whose first read checked it.
 */
export async function* readFileChunks(path: string, seen: { compression?: Compression } = {}, verified = true): AsyncGenerator<Buffer> {
  const handle = await openInput(path);
  let compression: Compression;
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new InputError("not a regular file (FIFO, socket or device); skipped");
    // Sized to the file: 20,000 small files must not each cost a 1 MiB buffer (the GC time grew faster than the count).
    const buf = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(stat.size, minChunkBytes)));
    const first = await readOrFail(handle, buf, 0);
    compression = compressionOf(buf.subarray(0, first));
    seen.compression = compression;
    if (compression === "none") {
      if (first === 0) return;
      const binary = binaryReason(buf.subarray(0, first));
      if (binary) throw new InputError(binary);
      yield buf.subarray(0, first);
      let position = first;
      for (;;) {
        const n = await readOrFail(handle, buf, position);
        if (n === 0) return;
        position += n;
        yield buf.subarray(0, n);
      }
    }
  } finally {
    await handle.close();
  }
  if (compression === "gzip") {
    yield* gunzipFile(path, verified);
    return;
  }
  // xz, bzip2, zstd: the system tool inflates; a missing tool is named with how to install it.
  const { toolDecompressedChunks } = await import("./tar.js");
  yield* toolDecompressedChunks(path);
}

/**
 * Bytes `start` to `end` of a plain text file that a parallel scan shares out in parts (the planner
 * checked it is neither compressed nor binary). The part at 0 checks again, as a whole file's read does.
 */
export async function* readFileRange(path: string, start: number, end: number): AsyncGenerator<Buffer> {
  const handle = await openInput(path);
  try {
    const buf = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(end - start, minChunkBytes)));
    for (let position = start; position < end; ) {
      const n = await readOrFail(handle, buf, position, Math.min(buf.length, end - position));
      if (n === 0) return;
      if (position === 0) {
        const changed = compressionOf(buf.subarray(0, n)) !== "none" ? "is compressed now" : binaryReason(buf.subarray(0, n));
        if (changed) throw new InputError(`${changed} (it changed while it was scanned)`);
      }
      position += n;
      yield buf.subarray(0, n);
    }
  } finally {
    await handle.close();
  }
}

/** `length` bytes of a file from `position` (fewer at its end; null when it cannot be read); by default what a scan's first read sees. */
export function readBytesAt(path: string, position = 0, length = chunkBytes): Buffer | null {
  try {
    const fd = openSync(path, "r");
    try {
      const buf = Buffer.allocUnsafe(length);
      return buf.subarray(0, readSync(fd, buf, 0, length, position));
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

/**
 * A synchronous read of a regular file: the scan waits for the bytes anyway, and a thread-pool round
 * trip per MiB costs a tenth of the scan (perf.md §2.2). Pipes and gzip stay asynchronous.
 */
async function readOrFail(handle: import("node:fs/promises").FileHandle, buf: Buffer, position: number, length = buf.length): Promise<number> {
  try {
    return readSync(handle.fd, buf, 0, length, position);
  } catch (error) {
    throw new InputError(describeError(error), { cause: error });
  }
}

/** Compressed bytes pulled from a stream; what one gzip member did not use is held for the next. */
class CompressedInput {
  private readonly iterator: AsyncIterator<Buffer>;
  private held: Buffer = Buffer.alloc(0);
  /** Bytes of the file taken so far: where the next member, or the garbage, starts. */
  offset = 0;

  constructor(source: Readable) {
    this.iterator = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  async next(): Promise<Buffer | null> {
    let chunk = this.held;
    this.held = Buffer.alloc(0);
    if (chunk.length === 0) {
      const result = await this.iterator.next();
      if (result.done) return null;
      chunk = result.value;
    }
    this.offset += chunk.length;
    return chunk;
  }

  unread(bytes: Buffer): void {
    this.held = bytes;
    this.offset -= bytes.length;
  }

  /** At least `bytes` bytes unless the stream ends first; they stay unread. */
  async peek(bytes: number): Promise<Buffer> {
    while (this.held.length < bytes) {
      const result = await this.iterator.next();
      if (result.done) break;
      this.held = Buffer.concat([this.held, result.value]);
    }
    return this.held;
  }

  skip(bytes: number): void {
    this.held = this.held.subarray(bytes);
    this.offset += bytes;
  }
}

/** A gzip member header's length (RFC 1952 §2.3); 0 while more bytes are needed, -1 when it is not one. */
function gzipHeaderLength(buf: Buffer): number {
  if ((buf.length > 0 && buf[0] !== 0x1f) || (buf.length > 1 && buf[1] !== 0x8b) || (buf.length > 2 && buf[2] !== 8) || (buf.length > 3 && (buf[3] as number) & 0xe0)) return -1;
  if (buf.length < 10) return 0;
  const flags = buf[3] as number;
  let p = 10;
  if (flags & 4) p = buf.length < 12 ? Infinity : 12 + buf.readUInt16LE(10);
  for (const field of [8, 16]) {
    if (!(flags & field) || p > buf.length) continue;
    const nul = buf.indexOf(0, p);
    p = nul < 0 ? Infinity : nul + 1;
  }
  if (flags & 2) p += 2;
  return p <= buf.length ? p : 0;
}

function zlibError(code: "Z_BUF_ERROR" | "Z_DATA_ERROR", message: string): Error {
  return Object.assign(new Error(message), { code });
}

const maxGzipHeaderBytes = 1 << 20;

/**
 * Writes a file's compressed bytes to gunzip through one reused buffer, the next read waiting until
 * gunzip has taken the last, and closes the file however gunzip ends. A fresh MiB per read lived long
 * enough to reach V8's old generation and waited there, dead, for a full collection: 20 to 40 MiB of a
 * 2 GiB scan's peak RSS. Never rejects: a read or write failure becomes gunzip's error, which its
 * reader sees.
 */
export async function feedGunzip(source: string | FileHandle, gunzip: Zlib.Gunzip): Promise<void> {
  try {
    await feed(typeof source === "string" ? await open(source, "r") : source, gunzip);
  } catch (error) {
    gunzip.destroy(error as Error);
  }
}

async function feed(handle: FileHandle, gunzip: Zlib.Gunzip): Promise<void> {
  try {
    const buf = Buffer.allocUnsafeSlow(chunkBytes);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      // A data error destroys gunzip without calling back the write it was working on.
      await new Promise<void>((resolve, reject) => {
        const closed = () => reject(gunzip.errored ?? new Error("gunzip closed"));
        gunzip.once("close", closed);
        gunzip.write(buf.subarray(0, bytesRead), (error) => {
          gunzip.off("close", closed);
          if (error) reject(error);
          else resolve();
        });
      });
    }
    gunzip.end();
  } finally {
    await handle.close();
  }
}

/**
 * A gzip file, the fast way: Node's gunzip inflates it and checks every member's checksum on the
 * thread pool, off the scanning thread. On any trouble (garbage or padding after a member, a bad
 * checksum, a cut) the careful reader below reads the file again from its start, passes over what
 * was already given, and names the damage exactly; damaged files are rare, so they pay twice.
 */
async function* gunzipFile(path: string, verified: boolean): AsyncGenerator<Buffer> {
  let given = 0;
  let trouble = false;
  const gunzip = zlib().createGunzip({ chunkSize: chunkBytes });
  const feeding = feedGunzip(path, gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      if (given === 0) {
        const binary = binaryReason(chunk);
        if (binary) throw new InputError(binary);
      }
      given += chunk.length;
      yield chunk;
    }
    // Node's gunzip stops quietly where zero bytes or garbage follow a member.
    trouble = gunzip.bytesWritten < statSync(path).size;
  } catch (error) {
    if (error instanceof InputError) throw error;
    trouble = true;
  } finally {
    gunzip.destroy();
    // The file is closed before the careful reader opens it again, or the scan goes on.
    await feeding;
  }
  if (!trouble) return;
  let skip = given;
  for await (const chunk of gunzipChunks(createReadStream(path), verified)) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    yield skip > 0 ? chunk.subarray(skip) : chunk;
    skip = 0;
  }
}

/**
 * Inflates member by member on the libuv pool thread, so decompression overlaps the scan. Node's
 * gunzip drops all it decoded in its last step when garbage follows a member, so the members'
 * ends are found here and the bytes after the last one are judged on their own.
 */
export async function* gunzipChunks(source: Readable, verified = true): AsyncGenerator<Buffer> {
  const checksum = verified ? crc32() : undefined;
  const input = new CompressedInput(source);
  let produced = 0;
  let checkedBinary = false;
  let inflater: Zlib.InflateRaw | null = null;
  try {
    for (let members = 0; ; members++) {
      const start = input.offset;
      let head = await input.peek(1);
      if (members > 0 && head.length === 0) return;
      // Zero padding after the last member (tapes, preallocated files) is not data; gzip ignores it too.
      if (members > 0 && head[0] === 0) {
        for (let chunk = await input.next(); chunk; chunk = await input.next()) if (chunk.some((b) => b !== 0)) throw garbageAfter(start, produced);
        return;
      }
      let headerBytes = 0;
      for (let want = 10; headerBytes === 0; want = head.length + 1) {
        head = await input.peek(want);
        headerBytes = gzipHeaderLength(head);
        if (headerBytes < 0 || (headerBytes === 0 && head.length > maxGzipHeaderBytes)) {
          if (members > 0) throw garbageAfter(start, produced);
          throw zlibError("Z_DATA_ERROR", "incorrect header check");
        }
        if (headerBytes === 0 && head.length < want) throw zlibError("Z_BUF_ERROR", "unexpected end of file");
      }
      input.skip(headerBytes);

      // A sync flush at the end hands out everything decodable before a cut, where Z_FINISH would drop the last step.
      const member: Zlib.InflateRaw = zlib().createInflateRaw({ chunkSize: chunkBytes, finishFlush: zlib().constants.Z_SYNC_FLUSH });
      inflater = member;
      let fed = 0;
      let inputEnded = false;
      // Feeds the member one chunk at a time: once raw inflate stops taking input, the member's data has ended.
      const pump = (async () => {
        for (;;) {
          const chunk = await input.next();
          if (chunk === null) {
            inputEnded = true;
            member.end();
            return;
          }
          fed += chunk.length;
          await new Promise<void>((resolve, reject) => member.write(chunk, (error) => (error ? reject(error) : resolve())));
          const unused = fed - member.bytesWritten;
          if (unused > 0) {
            input.unread(chunk.subarray(chunk.length - unused));
            return;
          }
        }
      })();
      // A read error mid-member must end the inflater, or the loop below would wait for it forever.
      pump.catch((error: unknown) => member.destroy(error as Error));
      let crc = 0;
      let size = 0;
      for await (const chunk of member as AsyncIterable<Buffer>) {
        if (!checkedBinary) {
          checkedBinary = true;
          const binary = binaryReason(chunk);
          if (binary) throw new InputError(binary);
        }
        if (checksum) crc = checksum(chunk, crc);
        size += chunk.length;
        produced += chunk.length;
        yield chunk;
      }
      await pump;
      member.destroy();
      inflater = null;
      const trailer = await input.peek(8);
      if (inputEnded || trailer.length < 8) throw zlibError("Z_BUF_ERROR", "unexpected end of file");
      if ((checksum && trailer.readUInt32LE(0) !== crc >>> 0) || trailer.readUInt32LE(4) !== size % 2 ** 32) {
        throw zlibError("Z_DATA_ERROR", "incorrect data check");
      }
      input.skip(8);
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    const reason = describeError(error);
    throw new InputError(
      produced > 0 ? `${reason} after ${megabytes(produced)}; earlier lines were scanned` : reason,
      { cause: error },
    );
  } finally {
    inflater?.destroy();
    if ("destroy" in source && typeof source.destroy === "function") source.destroy();
  }
}

function garbageAfter(offset: number, produced: number): InputError {
  return new InputError(`trailing garbage at byte ${offset}, after the gzip data${produced > 0 ? "; earlier lines were scanned" : ""}`);
}

/** Standard input: gzip is recognised there too (`zcat` is not needed). */
export async function* readStreamChunks(stream: Readable): AsyncGenerator<Buffer> {
  const iterator = (stream as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) return;
  const head = typeof first.value === "string" ? Buffer.from(first.value) : first.value;
  if (compressionOf(head) === "gzip") {
    const { PassThrough } = await import("node:stream");
    const pass = new PassThrough();
    pass.write(head);
    void (async () => {
      try {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          pass.write(next.value);
        }
        pass.end();
      } catch (error) {
        pass.destroy(error as Error);
      }
    })();
    yield* gunzipChunks(pass);
    return;
  }
  yield head;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    yield typeof next.value === "string" ? Buffer.from(next.value) : next.value;
  }
}

/** Config files are small: read whole, as UTF-8; a file over 4 MB is not a config file we judge. */
export function readConfigText(path: string): string | { reason: string } {
  try {
    const info = statSync(path);
    if (info.size > 4 << 20) return { reason: "over 4 MB; not read as configuration" };
    const buf = readFileSync(path);
    if (buf.subarray(0, binaryProbeBytes).includes(0)) return { reason: "binary file; not read as configuration" };
    return buf.toString("utf8");
  } catch (error) {
    return { reason: describeError(error) };
  }
}

/**
 * Reads byte ranges of one plain file through one descriptor. The resolve pass reads thousands of
 * ranges a few KiB long: an open and a close per range, each a thread-pool round trip, would cost more than the reading.
 */
export class FileRanges {
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafe(chunkBytes);

  constructor(path: string) {
    try {
      this.fd = openSync(path, "r");
    } catch (error) {
      throw new InputError(describeError(error), { cause: error });
    }
  }

  /** Bytes [from, to) in chunks that share one buffer: use each before taking the next. */
  *read(from: number, to: number): Generator<Buffer> {
    let position = from;
    while (position < to) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, Math.min(this.buf.length, to - position), position);
      } catch (error) {
        throw new InputError(describeError(error), { cause: error });
      }
      if (n === 0) return;
      position += n;
      yield this.buf.subarray(0, n);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}
