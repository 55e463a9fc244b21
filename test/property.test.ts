// Properties of framing and record assembly over random mixtures of real-shaped log lines and junk bytes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { LogRecord } from "../src/model.js";
import { JournalOsloParts, journalShortcut, PendingRecord, readJournalOslo, RecordAssembler } from "../src/parser/assemble.js";
import { observationRules, readAcceptedCreation } from "../src/correlator/observations.js";
import { matchRule } from "../src/engine/match.js";
import { buildRecord } from "../src/parser/record.js";
import type { LogRule } from "../src/ruleset/rule.js";
import { parseHead, type FormatName } from "../src/parser/formats.js";
import { parseRecords } from "../src/parser/parse-text.js";
import { LineSplitter } from "../src/reader/lines.js";
import { buildPrefilter, Hits } from "../src/engine/prefilter.js";

const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));
const uuid = fc.tuple(hex(8), hex(4), hex(4), hex(4), hex(12)).map((parts) => parts.join("-"));
const requestId = uuid.map((u) => `req-${u}`);
const pid = fc.integer({ min: 1, max: 99999 });
const two = (n: number) => String(n).padStart(2, "0");

/** "2024-03-12 10:15:40.121": oslo's asctime with milliseconds; sometimes without them, as Icehouse wrote it. */
const isoTime = fc
  .record({ year: fc.integer({ min: 2013, max: 2031 }), month: fc.integer({ min: 1, max: 12 }), day: fc.integer({ min: 1, max: 28 }), hour: fc.integer({ min: 0, max: 23 }), minute: fc.integer({ min: 0, max: 59 }), second: fc.integer({ min: 0, max: 59 }), ms: fc.option(fc.integer({ min: 0, max: 999 })) })
  .map(({ year, month, day, hour, minute, second, ms }) => `${year}-${two(month)}-${two(day)} ${two(hour)}:${two(minute)}:${two(second)}${ms === null ? "" : `.${String(ms).padStart(3, "0")}`}`);

const level = fc.constantFrom("DEBUG", "INFO", "AUDIT", "WARNING", "ERROR", "CRITICAL", "TRACE");
const logger = fc.constantFrom("nova.compute.manager", "nova.scheduler.utils", "nova.conductor.manager", "oslo_messaging.rpc.server", "cinder.volume.manager", "neutron.agent.dhcp.agent");
const text = fc.oneof(
  fc.constantFrom(
    "Failed to compute_task_build_instances: No valid host was found. There are not enough hosts available.",
    "Filter ComputeFilter returned 0 hosts",
    "Instance failed to spawn",
    "Setting instance to ERROR state.",
    "Unexpected exception in API method",
    "",
  ),
  fc.string({ maxLength: 30 }),
);

/** The context bracket of every oslo.log generation: Icehouse, Juno–Yoga, Zed+, with a global id, and empty. */
const context = fc.oneof(
  requestId.map((r) => `[${r} None None]`),
  fc.tuple(requestId, hex(32), hex(32)).map(([r, user, project]) => `[${r} ${user} ${project} - - -]`),
  requestId.map((r) => `[${r} - - - - -]`),
  requestId.map((r) => `[None ${r} - - default default]`),
  fc.tuple(requestId, requestId).map(([g, r]) => `[${g} ${r} admin admin - default default]`),
  fc.constant("[-]"),
);

const osloLine = fc
  .tuple(isoTime, pid, level, logger, context, fc.option(uuid), text)
  .map(([time, p, lvl, name, ctx, instance, message]) => `${time} ${p} ${lvl} ${name} ${ctx} ${instance ? `[instance: ${instance}] ` : ""}${message}`);

/** Traceback lines: with the old TRACE or the repeated ERROR prefix, and bare (remote tracebacks). */
const tracebackText = fc.constantFrom(
  "Traceback (most recent call last):",
  '  File "/usr/lib/python3/dist-packages/nova/compute/manager.py", line 2437, in _build_and_run_instance',
  "    raise exception.RescheduledException(",
  "nova.exception.NoValidHost: No valid host was found.",
  "oslo_messaging.rpc.client.RemoteError: Remote error: DBConnectionError",
  "",
);
const prefixedTraceback = fc
  .tuple(isoTime, pid, fc.constantFrom("ERROR", "TRACE", "CRITICAL"), logger, fc.option(uuid), tracebackText)
  .map(([time, p, lvl, name, instance, line]) => `${time} ${p} ${lvl} ${name} ${instance ? `[instance: ${instance}] ` : ""}${line}`);

const libvirtLine = fc
  .tuple(isoTime, pid, fc.constantFrom("debug", "info", "warning", "error"), fc.constantFrom("qemuProcessReportLogError:1914", "virNetSocketReadWire:1806", "qemuMonitorIO:718"), text)
  .map(([time, p, lvl, fn, message]) => `${time.length > 19 ? time : `${time}.000`}+0000: ${p}: ${lvl} : ${fn} : ${message}`);

const journalShort = fc
  .tuple(fc.constantFrom("Mar 12 10:15:40", "Jan  3 01:02:03", "Dec 31 23:59:59.123456"), fc.constantFrom("compute-1", "ctl0"), fc.constantFrom("nova-compute[2744]", "libvirtd[1203]", "systemd[1]", "kernel"), fc.oneof(osloLine, prefixedTraceback, text))
  .map(([time, host, ident, message]) => `${time} ${host} ${ident}: ${message}`);

const asBytes = (line: string) => Buffer.from(line, "utf8");

/** Bytes no log should hold but real ones do: invalid UTF-8, stray CR, NUL, lone continuation bytes. */
const junk = fc.uint8Array({ maxLength: 24 }).map((bytes) => Buffer.from(bytes));

const line = fc.oneof(
  { weight: 5, arbitrary: osloLine.map(asBytes) },
  { weight: 3, arbitrary: prefixedTraceback.map(asBytes) },
  { weight: 2, arbitrary: tracebackText.map(asBytes) },
  { weight: 2, arbitrary: libvirtLine.map(asBytes) },
  { weight: 2, arbitrary: journalShort.map(asBytes) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 2, arbitrary: junk },
);

/** A whole input: lines ended by LF or CRLF, the last one with or without an end. */
const logInput = fc
  .tuple(fc.array(fc.tuple(line, fc.constantFrom("\n", "\r\n")), { maxLength: 90, size: "max" }), fc.boolean())
  .map(([lines, hasFinalNewline]) => {
    const parts = lines.flatMap(([bytes, end], i) => (i < lines.length - 1 || hasFinalNewline ? [bytes, Buffer.from(end)] : [bytes]));
    return Buffer.concat(parts);
  });

const sourcePath = fc.constantFrom("var/log/nova/nova-compute.log", "var/log/libvirt/libvirtd.log", "var/log/messages", "var/log/libvirt/qemu/instance-0000000a.log", "sos_commands/logs/journalctl_--no-pager");

/** Small caps make the over-long line path run on small inputs. */
const maxLineBytes = fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined });

/** Lines as the reader counts them: every LF ends one, and bytes after the last LF are one more. */
function countLines(bytes: Buffer): number {
  let count = 0;
  for (const b of bytes) if (b === 10) count++;
  return bytes.length > 0 && bytes[bytes.length - 1] !== 10 ? count + 1 : count;
}

const parse = (bytes: Buffer, path: string, options: { maxLineBytes?: number | undefined; chunkBytes?: number } = {}): LogRecord[] =>
  parseRecords(bytes, path, { ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}), ...(options.chunkBytes !== undefined ? { chunkBytes: options.chunkBytes } : {}) });

const runs = { numRuns: 200 };

describe("parseRecords over random real-shaped logs", () => {
  it("never throws, whatever the bytes", () => {
    fc.assert(
      fc.property(logInput, sourcePath, maxLineBytes, fc.integer({ min: 1, max: 64 }), (bytes, path, cap, chunkBytes) => {
        parse(bytes, path, { maxLineBytes: cap, chunkBytes });
      }),
      runs,
    );
  });

  it("gives records in strictly increasing line order", () => {
    fc.assert(
      fc.property(logInput, sourcePath, maxLineBytes, (bytes, path, cap) => {
        const lines = parse(bytes, path, { maxLineBytes: cap }).map((r) => r.line);
        for (let i = 1; i < lines.length; i++) expect(lines[i]).toBeGreaterThan(lines[i - 1] as number);
      }),
      runs,
    );
  });

  it("puts every input line in exactly one record: the [line, endLine] ranges partition 1..N", () => {
    fc.assert(
      fc.property(logInput, sourcePath, maxLineBytes, (bytes, path, cap) => {
        const records = parse(bytes, path, { maxLineBytes: cap });
        let next = 1;
        for (const r of records) {
          expect(r.line).toBe(next);
          expect(r.endLine).toBeGreaterThanOrEqual(r.line);
          next = r.endLine + 1;
        }
        expect(next - 1).toBe(countLines(bytes));
      }),
      runs,
    );
  });

  it("gives the same records whatever the chunk size", () => {
    fc.assert(
      fc.property(logInput, sourcePath, maxLineBytes, fc.integer({ min: 1, max: 64 }), (bytes, path, cap, chunkBytes) => {
        expect(parse(bytes, path, { maxLineBytes: cap, chunkBytes })).toEqual(parse(bytes, path, { maxLineBytes: cap }));
      }),
      runs,
    );
  });
});

/** Lines near the cap, with CRs where a cut may fall and NUL runs: the over-long line path at its edges. */
const nearCapInput = fc
  .array(fc.tuple(fc.array(fc.constantFrom(0x61, 0x0d, 0xff, 0x00), { maxLength: 12 }), fc.constantFrom("\n", "\r\n", "")), { maxLength: 80, size: "max" })
  .map((lines) => Buffer.concat(lines.map(([bytes, end]) => Buffer.concat([Buffer.from(bytes), Buffer.from(end)]))));

function split(bytes: Buffer, cap: number, cuts: number[]) {
  const lines: string[] = [];
  const splitter = new LineSplitter(
    {
      lines(buf, starts, ends, count, firstLine) {
        for (let i = 0; i < count; i++) lines.push(`${firstLine + i}:${buf.toString("latin1", starts[i], ends[i])}`);
      },
    },
    cap,
  );
  let at = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    splitter.push(bytes.subarray(at, cut));
    at = cut;
  }
  splitter.push(bytes.subarray(at));
  splitter.end();
  return { lines, count: splitter.lines, bytes: splitter.bytes, truncatedLines: splitter.truncatedLines, firstTruncatedLine: splitter.firstTruncatedLine };
}

describe("LineSplitter", () => {
  it("frames the same lines and counts the same over-long lines however the bytes are split", () => {
    fc.assert(
      fc.property(nearCapInput, fc.integer({ min: 1, max: 10 }), fc.array(fc.nat(), { maxLength: 40 }), (bytes, cap, cuts) => {
        const whole = split(bytes, cap, []);
        expect(split(bytes, cap, cuts)).toEqual(whole);
        expect(whole.count).toBe(countLines(bytes));
        for (const l of whole.lines) expect(l.slice(l.indexOf(":") + 1).length).toBeLessThanOrEqual(cap);
      }),
      runs,
    );
  });
});

describe("the hint prefilter", () => {
  const literals = ["No valid host was found", "status must be ", "Could not open '", "未针对映像", "returned 0 hosts"];
  const prefilter = buildPrefilter(literals);
  // Pieces of the literals, in any case, glued with noise: near misses are where a skip table goes wrong.
  const piece = fc.oneof(
    fc.constantFrom(...literals).chain((l) => fc.tuple(fc.nat(l.length), fc.nat(l.length)).map(([a, b]) => l.slice(Math.min(a, b), Math.max(a, b) + 1))),
    fc.constantFrom(...literals),
    fc.string({ maxLength: 8 }),
  );
  const casing = fc.constantFrom((s: string) => s, (s: string) => s.toUpperCase(), (s: string) => s.toLowerCase());

  /** Where each literal starts, found the slow way: every offset, compared case-insensitively (ASCII). */
  function naive(bytes: Buffer): string[] {
    const folded = Buffer.from(bytes.map((b) => (b >= 65 && b <= 90 ? b + 32 : b)));
    const out: string[] = [];
    for (let at = 0; at < folded.length; at++) {
      literals.forEach((l, id) => {
        const needle = Buffer.from(l.toLowerCase(), "utf8");
        if (folded.subarray(at, at + needle.length).equals(needle)) out.push(`${at}:${id}`);
      });
    }
    return out;
  }

  it("finds every occurrence of every hint, in any ASCII case, and nothing else", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(piece, casing), { maxLength: 30 }), (parts) => {
        const bytes = Buffer.from(parts.map(([p, c]) => c(p)).join(""), "utf8");
        const hits = new Hits();
        prefilter.scan(bytes, 0, bytes.length, hits);
        const found = Array.from({ length: hits.count }, (_, i) => `${hits.positions[i]}:${hits.ids[i]}`);
        expect(found).toEqual(naive(bytes));
      }),
      runs,
    );
  });
});

/**
 * Runs of journal lines as journalctl prints a traceback (one process, one oslo head, several lines),
 * other journal lines, and near misses: a byte changed in the prefix or the head, a logger past 600 bytes.
 */
const journalPrefix = fc.tuple(
  fc.constantFrom("Mar 12 10:15:40", "Jan  3 01:02:03", "Dec 31 23:59:59.123456", "Dec 31 23:59:59.1234567", "Mar 12 10:15:4x"),
  fc.constantFrom("compute-1", "ctl0", "[ctl0]", "a|b"),
  fc.constantFrom("nova-compute[2744]", "nova-api[1]", "libvirtd[1203]", "systemd[1]", "kernel", "x[12a]", "y[3]:"),
);
const innerHead = fc.oneof(
  fc.tuple(isoTime, pid, level, fc.constantFrom("nova.compute.manager", "nova.virt", "nova.virt|")).map(([time, p, lvl, name]) => `${time} ${p} ${lvl} ${name}`),
  fc.tuple(fc.constantFrom("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "TRACE", "NOTICE"), fc.constantFrom("nova.compute.manager", "oslo_service.periodic_task", "Nova.bad", "nova-api", "n")).map(([lvl, name]) => `${lvl} ${name}`),
);
const innerRest = fc.oneof(
  fc.tuple(context, fc.option(uuid), text).map(([ctx, instance, message]) => ` ${ctx} ${instance ? `[instance: ${instance}] ` : ""}${message}`),
  fc.tuple(fc.option(uuid), tracebackText).map(([instance, line]) => ` ${instance ? `[instance: ${instance}] ` : ""}${line}`),
  fc.constantFrom("", "[-] x", " [instance: 1234"),
);
const journalRun = fc
  .tuple(journalPrefix, fc.oneof({ weight: 3, arbitrary: innerHead.map((head) => ({ head })) }, { weight: 1, arbitrary: fc.oneof(tracebackText, libvirtLine, text).map((raw) => ({ raw })) }), fc.array(innerRest, { minLength: 1, maxLength: 5 }))
  .map(([[time, host, ident], inner, rests]) => rests.map((rest) => `${time} ${host} ${ident}: ${"head" in inner ? `${inner.head}${rest}` : inner.raw}`));
const journalLines = fc
  .tuple(fc.array(journalRun, { minLength: 1, maxLength: 15 }), fc.array(fc.tuple(fc.nat(), fc.boolean(), fc.nat(), fc.constantFrom(" ", "\t", "\r", "[", "]", ":", "|", "-", "0", "x", "é", "\u00a0")), { maxLength: 6 }), fc.option(fc.tuple(fc.nat(), fc.integer({ min: 520, max: 640 }))))
  .map(([runs, changes, pad]) => {
    const lines = runs.flat();
    for (const [which, inner, offset, char] of changes) {
      // Anywhere in the head, or in the first 30 bytes of the line inside the journal's.
      const k = which % lines.length;
      const line = lines[k] as string;
      const at = inner ? (line.indexOf(": ") + 2 + (offset % 30)) % line.length : offset % Math.min(line.length, 160);
      lines[k] = `${line.slice(0, at)}${char}${line.slice(at + 1)}`;
    }
    // A logger or a message that reaches past the 600 bytes the text path looks at.
    if (pad) {
      const k = pad[0] % lines.length;
      const line = lines[k] as string;
      lines[k] = line.replace(/(nova\.compute\.manager|nova\.virt) /, (m) => `${m.trim()}${"x".repeat(Math.max(0, pad[1] - line.length))} `);
    }
    return lines;
  });

describe("the journal shortcut", () => {
  // The shortcut is a speed feature: were it never to take a line, the property below would still hold.
  it("takes the journal lines of oslo services, and leaves other shapes to the regular expressions", () => {
    const parts = (line: string) => {
      const out = new JournalOsloParts();
      const buf = Buffer.from(line);
      return readJournalOslo(buf, 0, buf.length, line.slice(0, 600), out) ? { source: line.slice(out.sourceStart, out.sourceEnd), logger: line.slice(out.loggerStart, out.loggerEnd), quiet: out.quiet } : null;
    };
    expect(parts("Mar 12 06:00:01 compute-1 nova-compute[2741]: 2024-03-12 06:00:01.078 2741 INFO nova.compute.manager [None req-7c47fb0a-ca7f-45f6-9ca2-581ad2727517 - - - - - -] Took 1.2 seconds")).toEqual({ source: "compute-1 nova-compute[2741]", logger: "nova.compute.manager", quiet: true });
    expect(parts("Mar 12 10:15:42 devstack nova-compute[12345]: ERROR nova.compute.manager [None req-7c47fb0a-ca7f-45f6-9ca2-581ad2727517 admin admin] Instance failed to spawn")).toEqual({ source: "devstack nova-compute[12345]", logger: "nova.compute.manager", quiet: false });
    expect(parts("Feb 04 09:40:50 compute4 kernel: [ 1234.567890] Out of memory: Killed process 1234 (qemu-kvm)")).toBeNull();
    expect(parts("Feb 04 09:40:50 compute4 systemd[1]: Started OpenStack Compute.")).toBeNull();
    expect(parts("Mar 12 06:00:01 compute-1 nova-compute[2741]: 2024-03-12 06:00:01.078 2741 INFO nova.compute.manager msg\r")).toBeNull();
  });

  /** What the assembler makes of a journal: each record's lines, severity and indexed ids. */
  function assemble(bytes: Buffer): string[] {
    const out: string[] = [];
    // The scan's own rule: the level a parser reads.
    const severe = (format: FormatName, text: string) => ["WARNING", "ERROR", "CRITICAL"].includes(parseHead(format, text, { referenceMs: 0 }).level ?? "");
    const assembler = new RecordAssembler("journal.txt", (p) => out.push(`${p.firstLine}-${p.lastLine} ${p.severe} ${[...p.idHashes.subarray(0, p.idCount)].join(",")}`), severe);
    const splitter = new LineSplitter({ lines: (buf, starts, ends, count, firstLine) => assembler.lines(buf, starts, ends, count, firstLine) });
    splitter.push(bytes);
    splitter.end();
    assembler.end();
    return [assembler.format ?? "", ...out];
  }

  it("makes the records the regular expressions make, whatever the lines", () => {
    fc.assert(
      fc.property(journalLines, (lines) => {
        // A first line the format detection reads as a journal.
        const bytes = Buffer.from(`Mar 12 10:15:40 compute-1 nova-compute[2744]: start\n${lines.join("\n")}\n`);
        const fast = assemble(bytes);
        journalShortcut.enabled = false;
        try {
          expect(fast).toEqual(assemble(bytes));
        } finally {
          journalShortcut.enabled = true;
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe("the short way for accepted server creations", () => {
  const rule = observationRules()[0] as LogRule;
  /** What the scan makes of the line the long way: decode it, then match the rule. */
  function decoded(line: string): { time: number | null; requestIds: string[]; instanceIds: string[]; level: string | null; matches: boolean } {
    const bytes = Buffer.from(line, "latin1");
    const pending = new PendingRecord();
    pending.reset(1, false);
    pending.add(bytes, Uint32Array.of(0), Uint32Array.of(bytes.length), 0, 1);
    const record = buildRecord(pending, "oslo", { path: "nova-api.log", host: null, component: "nova-api", instanceId: null, referenceMs: 0 });
    return { time: record.time, requestIds: record.requestIds, instanceIds: record.instanceIds, level: record.level, matches: matchRule(rule, record, record.message) !== null };
  }

  const creationMessage = fc.oneof(
    fc.tuple(fc.constantFrom("10.0.2.103", "192.168.24.1,10.0.0.5"), fc.constantFrom('"POST /v2.1/servers"', '"POST /v2/servers"', '"POST /v2.1/servers HTTP/1.1"', '"POST /v2.1/0b7a4c26f5e94ad8a8f7a6e1f2b3c4d5/servers"'), fc.integer({ min: 100, max: 9999 })).map(([ip, request, len]) => `${ip} ${request} status: 202 len: ${len} microversion: 2.79 time: 0.${len}`),
    fc.constantFrom('"POST /v2.1/servers" status: 400 len: 120', '"GET /v2.1/servers" status: 202 len: 12', '"POST /v2.1/servers" status: 202 req-00000000-0000-0000-0000-000000000000', '"POST /v2.1/servers" status: 202 Instance 1b5cd0e8-0c45-4e5e-a3c2-6d1f0a9a2b3c', '"POST /v2.1/servers" status: 202 \\u00e9', '"POST /v2.1/servers" status: 202 caf\u00e9', '"POST /v2.1/servers" status: 202\ttab'),
  );
  const creationLine = fc
    .tuple(isoTime, pid, fc.constantFrom("INFO", "INFO", "INFO", "DEBUG", "WARNING", "WARN", "AUDIT", "TRACE"), fc.constantFrom("nova.api.openstack.requestlog", "nova.osapi_compute.wsgi.server", "nova\tapi"), fc.oneof(context, fc.constant(""), fc.constant("[instance: 1b5cd0e8-0c45-4e5e-a3c2-6d1f0a9a2b3c]")), fc.option(uuid), creationMessage, fc.constantFrom("", " ", "  "))
    .chain((parts) => fc.tuple(fc.constant(parts), fc.constantFrom(" ", " ", " ", "T", ","), fc.constantFrom("", "", "", "456", "Z")))
    // Times oslo never writes (an ISO "T", a comma, microseconds, a zone) are not its header.
    .map(([[time, p, lvl, name, ctx, instance, message, gap], separator, extra]) => `${time.slice(0, 10)}${separator === "," ? " " : separator}${time.slice(11)}${separator === "," ? "," : ""}${extra} ${p} ${lvl} ${name} ${ctx}${gap}${instance ? `[instance: ${instance}] ` : ""}${message}`);

  it("gives the time and request ids that decoding gives, or gives up", () => {
    fc.assert(
      fc.property(creationLine, (line) => {
        const short = readAcceptedCreation(line);
        if (short === null) return;
        const long = decoded(line);
        expect({ time: long.time, requestIds: long.requestIds, instanceIds: long.instanceIds, level: long.level, matches: long.matches }).toEqual({ time: short.time, requestIds: short.requestIds, instanceIds: [], level: "INFO", matches: true });
      }),
      { numRuns: 2000 },
    );
  });

  it("takes the line nova-api writes for an accepted creation", () => {
    const line = '2024-03-12 06:00:01.342 2303 INFO nova.api.openstack.requestlog [None req-46ac50c6-d567-495a-8dbb-2238d0b8dd42 07cc231e74ad103f86b3b517c70ec5d0 883888db806b41ab8623e1e441ffed3d - - default default] 10.0.2.103 "POST /v2.1/servers" status: 202 len: 414 microversion: 2.79 time: 0.512';
    expect(readAcceptedCreation(line)).toEqual({ time: Date.UTC(2024, 2, 12, 6, 0, 1, 342), requestIds: ["req-46ac50c6-d567-495a-8dbb-2238d0b8dd42"] });
    expect(readAcceptedCreation(line.replace(" INFO ", " DEBUG "))).toBeNull();
    expect(readAcceptedCreation(line.replace("06:00:01.342", "06:00:01.342123"))).toBeNull();
  });
});
