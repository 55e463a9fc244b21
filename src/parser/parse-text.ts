// Parses text held in memory into records, every record decoded: for tests and for `rules test` diagnostics.
import type { LogRecord } from "../model.js";
import { LineSplitter } from "../reader/lines.js";
import { RecordAssembler } from "./assemble.js";
import { componentFromPath } from "./fields.js";
import { buildRecord, type SourceContext } from "./record.js";

export function parseRecords(input: string | Buffer, path: string, options: { host?: string | null; referenceMs?: number; maxLineBytes?: number; chunkBytes?: number } = {}): LogRecord[] {
  const records: LogRecord[] = [];
  const ctx: SourceContext = { path, host: options.host ?? null, component: componentFromPath(path), instanceId: null, referenceMs: options.referenceMs ?? Date.UTC(2024, 11, 31) };
  const assembler: RecordAssembler = new RecordAssembler(path, (pending) => records.push(buildRecord(pending, assembler.format ?? "generic", ctx)), () => false);
  const splitter = new LineSplitter(
    {
      lines(buf, starts, ends, count, firstLine) {
        assembler.lines(buf, starts, ends, count, firstLine);
      },
    },
    options.maxLineBytes,
  );
  const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  // Feeding the bytes in small pieces proves record assembly does not depend on where chunks end.
  const step = options.chunkBytes ?? (bytes.length || 1);
  for (let i = 0; i < bytes.length; i += step) splitter.push(Buffer.from(bytes.subarray(i, i + step)));
  splitter.end();
  assembler.end();
  return records;
}
