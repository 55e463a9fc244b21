// Decodes a pending record into a LogRecord: header fields, ids, and the message without line prefixes.
import type { LogRecord } from "../model.js";
import type { PendingRecord } from "./assemble.js";
import { componentFromLogger, decodeEscapes, findInstanceIds, findRequestIds, stripAnsi } from "./fields.js";
import { parseHead, parseOslo, type FormatName, type ParseContext } from "./formats.js";

export interface SourceContext extends ParseContext {
  path: string;
  host: string | null;
  /** From the path (`var/log/nova/nova-compute.log` → nova-compute); a journal line's own identifier wins. */
  component: string | null;
  /** A per-domain QEMU log's instance UUID, once its command line gave `-uuid`. */
  instanceId: string | null;
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** Continuation lines lose their prefix so rules see the message text as the service wrote it. */
function continuationText(format: FormatName, line: string, ctx: ParseContext): string {
  if (format === "oslo") {
    const head = parseOslo(line);
    return head ? head.message : line;
  }
  if (format === "syslog" || format === "httpd") {
    if (/^\s/.test(line)) return line.trim();
    return parseHead(format, line, ctx).message;
  }
  return line;
}

export function buildRecord(pending: PendingRecord, format: FormatName, ctx: SourceContext): LogRecord {
  const texts = pending.lines.map((line) => decoder.decode(line));
  const first = texts[0] ?? "";
  const head = parseHead(format, first, ctx);
  const parts = [head.message];
  for (let i = 1; i < texts.length; i++) parts.push(continuationText(format, stripAnsi(texts[i] ?? ""), ctx));
  const message = decodeEscapes(parts.join("\n"));
  const requestIds = [...head.requestIds];
  for (const id of findRequestIds(message)) if (!requestIds.includes(id)) requestIds.push(id);
  const instanceIds = [...head.instanceIds];
  for (const id of findInstanceIds(message)) if (!instanceIds.includes(id)) instanceIds.push(id);
  if (ctx.instanceId && !instanceIds.includes(ctx.instanceId)) instanceIds.push(ctx.instanceId);
  return {
    path: ctx.path,
    line: pending.firstLine,
    endLine: pending.lastLine,
    timestamp: head.time?.timestamp ?? null,
    time: head.time?.time ?? null,
    level: head.level,
    component: head.component ?? ctx.component ?? componentFromLogger(head.logger),
    host: ctx.host ?? head.host,
    logger: head.logger,
    pid: head.pid,
    requestIds,
    globalRequestId: head.globalRequestId,
    instanceIds,
    message,
    raw: texts.join("\n"),
    format,
  };
}
