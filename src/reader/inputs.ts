// Turns the paths an operator gives into an ordered list of log sources and config files.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { lstat, opendir, stat } from "node:fs/promises";
import path from "node:path";
import type { SkippedInput } from "../model.js";
import { describeError, InputError } from "./open.js";
import { isTarballFile } from "./tar.js";

export interface Source {
  /** An archive is a tarball (sosreport) whose members are scanned as they stream by. */
  kind: "file" | "stdin" | "archive";
  absPath: string;
  /** Relative to the scanned directory when one was given; `-` for stdin. */
  displayPath: string;
  /** From the host root's hostname file (sosreport or `<host>/etc/hostname`), else null. */
  host: string | null;
  /** When the tree was captured (sosreport `sos_commands/date/date`), else null. */
  captureTime: number | null;
  /** File modification time: gives the year to syslog lines that carry none. */
  mtimeMs: number | null;
}

export interface CollectedInputs {
  sources: Source[];
  configFiles: Source[];
  skipped: SkippedInput[];
}

const globChars = /[*?[\]{}]/;
const maxWalkEntries = 1_000_000;

/** Files in a directory walk that are logs. A file named on the command line is always read. */
export function isLogPath(relative: string): boolean {
  const p = relative.split(path.sep).join("/");
  const base = path.posix.basename(p);
  if (/\.(ya?ml|csv|md|py|pyc|sh|rst|html?|xml|conf|ini|cfg|pem|crt|key|tar|tgz|zip|rpm|deb|journal|sqlite|db)$/i.test(base)) return false;
  // Binary logs that live under /var/log: login records, journald files (also their "~" copies), sysstat.
  if (/^(wtmp|btmp|utmp|lastlog|faillog|tallylog)(\.|$)/.test(base) || /\.journal~?$/.test(base) || /(^|\/)sa\/sa\d+$/.test(p)) return false;
  if (/(^|\/)(var\/log|logs?|sos_strings|podlogs)\//.test(p)) return true;
  // zstack-ctl collect_log: <type>-<ip>/<name>-logs/<file>, e.g. mn-10.0.0.5/mn-logs/management-server.log
  if (/(^|\/)[\w-]+-logs\//.test(p)) return true;
  // sos's kubernetes plugin: sos_commands/kubernetes/…/podlogs/<pod>/k8s_kubectl_--namespace_openstack_logs_<pod>_-c_<container>
  if (/^k8s_kubectl_.*_logs_/.test(base)) return true;
  if (/\.log(\.\d+)?(\.(gz|xz|bz2|zst))?$/.test(base) || /\.log-\d{8}(\d{2})?(\.(gz|xz|bz2|zst))?$/.test(base)) return true;
  if (/^(messages|syslog|kern\.log|journalctl_)/.test(base)) return true;
  if (/(^|[._-])journal/.test(base)) return true;
  return false;
}

/** Names that may be tarballs in a directory walk; a file named on the command line is checked by content. */
export function isTarballName(name: string): boolean {
  return /\.(tar(\.(gz|xz|bz2|zst))?|tgz|txz|tbz2?)$/.test(name);
}

/** INI-style configuration the config rules read. */
export function isConfigPath(relative: string): boolean {
  const p = relative.split(path.sep).join("/");
  return /(^|\/)etc\/.*\.conf$/.test(p) || /(^|\/)etc\/sysconfig\/memcached$/.test(p) || /(^|\/)etc\/kolla\/.+\.conf$/.test(p);
}

/** `x.log.3.gz` → {base: "x.log", age: 3}; the live file has age 0, so older files sort first. */
export function rotationKey(file: string): { base: string; age: number } {
  let name = file.replace(/\.(gz|xz|bz2|zst)$/, "");
  const numbered = /^(.*)\.(\d+)$/.exec(name);
  if (numbered?.[1] && numbered[2]) return { base: numbered[1], age: Number(numbered[2]) };
  const dated = /^(.*)-(\d{8})(\d{2})?$/.exec(name);
  if (dated?.[1] && dated[2]) {
    // logrotate's dateext: a later date is newer, so age falls as the date rises.
    name = dated[1];
    return { base: name, age: 1e9 - Number(dated[2]) };
  }
  return { base: name, age: 0 };
}

export function compareRotation(a: string, b: string): number {
  const da = path.dirname(a);
  const db = path.dirname(b);
  if (da !== db) return da < db ? -1 : 1;
  const ka = rotationKey(path.basename(a));
  const kb = rotationKey(path.basename(b));
  if (ka.base !== kb.base) return ka.base < kb.base ? -1 : 1;
  return kb.age - ka.age;
}

class HostResolver {
  private readonly byDir = new Map<string, { host: string | null; captureTime: number | null }>();

  constructor(private readonly stopAt: string) {}

  resolve(dir: string): { host: string | null; captureTime: number | null } {
    const cached = this.byDir.get(dir);
    if (cached) return cached;
    let found = readHostRoot(dir);
    if (!found) {
      const parent = path.dirname(dir);
      found = dir === this.stopAt || parent === dir || !dir.startsWith(this.stopAt) ? { host: null, captureTime: null } : this.resolve(parent);
    }
    this.byDir.set(dir, found);
    return found;
  }
}

function firstLine(file: string): string | null {
  try {
    const text = readFileSync(file, "utf8");
    const line = text.split("\n", 1)[0]?.trim();
    return line || null;
  } catch {
    return null;
  }
}

/** zstack-ctl collect_log names each node's folder <type>-<management ip>: mn-10.0.0.5, host-10.0.0.11. */
export function zstackBundleHost(name: string): string | null {
  return /^(?:mn|host|[a-z]+(?:storage|ps|bs|vrouter|gateway|server))-\d{1,3}(?:\.\d{1,3}){3}$/.test(name) ? name : null;
}

/** A directory is a host root when it holds a hostname file (sosreport, or `<host>/etc/hostname`). */
function readHostRoot(dir: string): { host: string | null; captureTime: number | null } | null {
  const bundleHost = zstackBundleHost(path.basename(dir));
  if (bundleHost) return { host: bundleHost, captureTime: null };
  const candidates = ["sos_commands/host/hostname", "sos_commands/general/hostname", "hostname", "etc/hostname"];
  for (const candidate of candidates) {
    const file = path.join(dir, candidate);
    if (!existsSync(file)) continue;
    const host = firstLine(file);
    if (!host) continue;
    const date = firstLine(path.join(dir, "sos_commands/date/date"));
    const captureTime = date ? Date.parse(date.replace(/\s+[A-Z]{3,4}\s+(\d{4})$/, " $1 UTC")) : NaN;
    return { host: host.split(".")[0] === host ? host : host, captureTime: Number.isNaN(captureTime) ? null : captureTime };
  }
  return null;
}

interface WalkState {
  seenDirs: Set<string>;
  entries: number;
  files: string[];
  skipped: SkippedInput[];
  root: string;
  display: (abs: string) => string;
}

/** Walks a tree without following a symlink loop and without opening FIFOs or devices. */
async function walk(dir: string, state: WalkState): Promise<void> {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (error) {
    state.skipped.push({ path: state.display(dir), reason: describeError(error) });
    return;
  }
  if (state.seenDirs.has(real)) {
    state.skipped.push({ path: state.display(dir), reason: "symbolic link loop (directory already walked); skipped" });
    return;
  }
  state.seenDirs.add(real);
  let handle;
  try {
    handle = await opendir(dir);
  } catch (error) {
    state.skipped.push({ path: state.display(dir), reason: `${describeError(error)}; directory skipped` });
    return;
  }
  const names: string[] = [];
  for await (const entry of handle) names.push(entry.name);
  names.sort();
  for (const name of names) {
    if (++state.entries > maxWalkEntries) return;
    const full = path.join(dir, name);
    let info;
    try {
      info = await lstat(full);
      if (info.isSymbolicLink()) info = await stat(full);
    } catch (error) {
      state.skipped.push({ path: state.display(full), reason: describeError(error) });
      continue;
    }
    if (info.isDirectory()) await walk(full, state);
    else if (info.isFile()) state.files.push(full);
    else if (isLogPath(path.relative(state.root, full))) {
      state.skipped.push({ path: state.display(full), reason: "not a regular file (FIFO, socket or device); skipped" });
    }
  }
}

export async function collectInputs(inputs: string[], cwd: string): Promise<CollectedInputs> {
  const sources: Source[] = [];
  const configFiles: Source[] = [];
  const skipped: SkippedInput[] = [];
  const single = inputs.length === 1;
  for (const input of inputs) {
    if (input === "-") {
      sources.push({ kind: "stdin", absPath: "-", displayPath: "-", host: null, captureTime: null, mtimeMs: null });
      continue;
    }
    const abs = path.resolve(cwd, input);
    let info;
    try {
      info = await stat(abs);
    } catch (error) {
      if (globChars.test(input)) {
        // fast-glob loads only when a glob is given: it is a noticeable part of start-up otherwise.
        const { default: fg } = await import("fast-glob");
        const matches = await fg(input, { cwd, absolute: true, dot: true, onlyFiles: true, suppressErrors: true });
        matches.sort(compareRotation);
        for (const file of matches) sources.push(await fileSource(file, path.relative(cwd, file), new HostResolver(path.dirname(file))));
        if (matches.length === 0) skipped.push({ path: input, reason: "no file matches this pattern" });
        continue;
      }
      skipped.push({ path: input, reason: describeError(error) });
      continue;
    }
    if (info.isDirectory()) {
      const display = (file: string) => (single ? path.relative(abs, file) || "." : path.relative(cwd, file));
      const state: WalkState = { seenDirs: new Set(), entries: 0, files: [], skipped, root: abs, display };
      await walk(abs, state);
      const hosts = new HostResolver(abs);
      const logs = preferLinkNames(state.files.filter((f) => isLogPath(path.relative(abs, f)))).sort(compareRotation);
      for (const file of logs) sources.push(await fileSource(file, display(file), hosts));
      for (const file of state.files.filter((f) => isTarballName(f) && !isLogPath(path.relative(abs, f))).sort()) {
        if (await isTarballFile(file).catch(() => false)) sources.push({ ...(await fileSource(file, display(file), hosts)), kind: "archive" });
      }
      for (const file of state.files.filter((f) => isConfigPath(path.relative(abs, f))).sort()) {
        configFiles.push(await fileSource(file, display(file), hosts));
      }
    } else if (info.isFile()) {
      const source = await fileSource(abs, input, new HostResolver(path.dirname(abs)));
      let archive = false;
      try {
        archive = await isTarballFile(abs);
      } catch (error) {
        // A compressed tarball whose tool is missing: say which tool, do not read it as a log.
        skipped.push({ path: input, reason: error instanceof InputError ? error.reason : describeError(error) });
        continue;
      }
      sources.push(archive ? { ...source, kind: "archive", displayPath: "" } : source);
    } else {
      skipped.push({ path: input, reason: "not a regular file (FIFO, socket or device); skipped" });
    }
  }
  return { sources, configFiles, skipped };
}

/**
 * sosreport keeps a large log's tail in sos_strings/…/var.log.nova.nova-compute.log.tailed and links
 * var/log/nova/nova-compute.log to it: read it once, under the name the service gave it.
 */
function preferLinkNames(files: string[]): string[] {
  const byTarget = new Map<string, string>();
  for (const file of files) {
    let target = file;
    try {
      target = realpathSync(file);
    } catch {
      target = file;
    }
    const earlier = byTarget.get(target);
    if (!earlier || (earlier.includes("/sos_strings/") && !file.includes("/sos_strings/"))) byTarget.set(target, file);
  }
  return [...byTarget.values()];
}

async function fileSource(abs: string, displayPath: string, hosts: HostResolver): Promise<Source> {
  const { host, captureTime } = hosts.resolve(path.dirname(abs));
  let mtimeMs: number | null = null;
  try {
    mtimeMs = (await stat(abs)).mtimeMs;
  } catch {
    mtimeMs = null;
  }
  return { kind: "file", absPath: abs, displayPath: displayPath.split(path.sep).join("/"), host, captureTime, mtimeMs };
}
