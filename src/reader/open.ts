// Opens one input by its content, not its name: plain text, gzip, or a refusal with a reason.
import { createReadStream, readFileSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";

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
export async function* readFileChunks(path: string): AsyncGenerator<Buffer> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw new InputError(describeError(error), { cause: error });
  }
  let compression: Compression;
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new InputError("not a regular file (FIFO, socket or device); skipped");
    // Sized to the file: 20,000 small files must not each cost a 1 MiB buffer (the GC time grew faster than the count).
    const buf = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(stat.size, minChunkBytes)));
    const first = await readOrFail(handle, buf, 0);
    compression = compressionOf(buf.subarray(0, first));
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
    yield* gunzipChunks(createReadStream(path));
    return;
  }
  throw new InputError(`${compression} compressed; install the ${compression} tool or unpack it first`);
}

async function readOrFail(handle: import("node:fs/promises").FileHandle, buf: Buffer, position: number): Promise<number> {
  try {
    const { bytesRead } = await handle.read(buf, 0, buf.length, position);
    return bytesRead;
  } catch (error) {
    throw new InputError(describeError(error), { cause: error });
  }
}

/** Inflates on the libuv pool thread, so decompression overlaps the scan. */
export async function* gunzipChunks(source: Readable): AsyncGenerator<Buffer> {
  const gunzip = createGunzip({ chunkSize: chunkBytes });
  source.on("error", (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  let produced = 0;
  let checkedBinary = false;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      if (!checkedBinary) {
        checkedBinary = true;
        const binary = binaryReason(chunk);
        if (binary) throw new InputError(binary);
      }
      produced += chunk.length;
      yield chunk;
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    const reason = describeError(error);
    throw new InputError(
      produced > 0 ? `${reason} after ${megabytes(produced)}; earlier lines were scanned` : reason,
      { cause: error },
    );
  } finally {
    source.unpipe(gunzip);
    gunzip.destroy();
    if ("destroy" in source && typeof source.destroy === "function") source.destroy();
  }
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
