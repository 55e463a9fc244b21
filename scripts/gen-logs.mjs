#!/usr/bin/env node
// Writes a deterministic nova/libvirt log tree of a chosen size, with rare real failures at known lines (injected.json).
//
//   node scripts/gen-logs.mjs --out DIR [--size 1GiB] [--seed 1] [--gz] [--failure-every 2MiB]
//
// The same size and seed give the same bytes. Lines are built from the formats in
// ../shared/reference/signatures.md (oslo.log with Zed-style context brackets, nova requestlog,
// libvirt's daemon log) and written through streams that honour backpressure, so memory stays
// bounded at any size. --gz also writes gzip copies of the logs to the sibling directory DIR-gz.
// DIR/injected.json has one entry per record a rule must report, {rule, path, line, event}: line is
// the record's first line, and event groups the records of one failure (a NoValidHost boot gives two
// nova-filter-zero-hosts and two nova-no-valid-host records). A failure starts every --failure-every
// bytes of output. A one-line JSON summary goes to stdout; progress and errors go to stderr.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";

const units = { "": 1, b: 1, k: 1024, kb: 1e3, kib: 1024, m: 1024 ** 2, mb: 1e6, mib: 1024 ** 2, g: 1024 ** 3, gb: 1e9, gib: 1024 ** 3 };

/** "1GiB", "64MiB", "500MB", "2G", "4096" → bytes. K/M/G without B are binary, like GiB. */
export function parseSize(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(text));
  const unit = m ? units[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`not a size: "${text}" (use e.g. 64MiB, 1GiB, 500MB or a byte count)`);
  return Math.round(Number(m[1]) * unit);
}

/** 1073741824 → "1GiB"; used in cache names and reports. */
export function formatSize(bytes) {
  for (const [unit, n] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]]) if (bytes >= n && bytes % (n / 16) === 0) return `${bytes / n}${unit}`;
  return `${bytes}B`;
}

// xorshift128: fast, deterministic, and good enough to pick log lines.
function makeRng(seed) {
  let x = 123456789 ^ seed;
  let y = 362436069 ^ Math.imul(seed, 2654435761);
  let z = 521288629;
  let w = 88675123 ^ Math.imul(seed ^ 0x5bd1e995, 1103515245);
  const next = () => {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return w;
  };
  for (let i = 0; i < 32; i++) next();
  return next;
}

const HEX1 = [..."0123456789abcdef"];
const HEX2 = Array.from({ length: 256 }, (_, i) => HEX1[i >> 4] + HEX1[i & 15]);
const MS3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
const PY = "/usr/lib/python3.9/site-packages";
const bufferBytes = 1 << 20;

/** One log file being written: counts lines and bytes, fills ~1 MiB buffers and writes them out. */
class LogFile {
  constructor(rel, root, gzRoot) {
    this.rel = rel;
    this.lines = 0;
    this.bytes = 0;
    this.buf = Buffer.allocUnsafe(bufferBytes);
    this.used = 0;
    this.pending = null;
    const abs = path.join(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    this.out = fs.createWriteStream(abs, { highWaterMark: 4 << 20 });
    this.gzOut = null;
    this.gz = null;
    if (gzRoot) {
      const gzAbs = path.join(gzRoot, `${rel}.gz`);
      fs.mkdirSync(path.dirname(gzAbs), { recursive: true });
      this.gzOut = fs.createWriteStream(gzAbs, { highWaterMark: 4 << 20 });
      this.gz = zlib.createGzip({ level: 6, highWaterMark: 4 << 20 });
      this.gz.pipe(this.gzOut);
    }
  }

  /** Appends one line (no newline inside); returns its 1-based line number. */
  line(text) {
    // Every generated line is ASCII, so one char is one byte and latin1 is exact.
    if (this.used + text.length + 1 > this.buf.length) {
      this.pending = this.flush() ?? this.pending;
      if (text.length + 1 > this.buf.length) this.buf = Buffer.allocUnsafe(text.length + 1);
    }
    this.used += this.buf.latin1Write(text, this.used);
    this.buf[this.used++] = 10;
    return ++this.lines;
  }

  /** Writes the filled buffer; returns a promise while a stream is over its high-water mark, else null. */
  flush() {
    if (this.used === 0) return null;
    const chunk = this.buf.subarray(0, this.used);
    this.buf = Buffer.allocUnsafe(bufferBytes);
    this.used = 0;
    this.bytes += chunk.length;
    const waits = [];
    if (!this.out.write(chunk)) waits.push(once(this.out, "drain"));
    if (this.gz && !this.gz.write(chunk)) waits.push(once(this.gz, "drain"));
    return waits.length ? Promise.all(waits) : null;
  }

  /** The backpressure promise left by the last full buffer, once; the main loop awaits it. */
  takePending() {
    const p = this.pending;
    this.pending = null;
    return p;
  }

  async close() {
    await this.flush();
    this.out.end();
    const done = [once(this.out, "close")];
    if (this.gz) {
      this.gz.end();
      done.push(once(this.gzOut, "close"));
    }
    await Promise.all(done);
  }
}

/**
 * Generates the tree. Returns a summary: files with bytes and lines, injected failures, timings.
 * @param {{out: string, size: number, seed: number, gz: boolean, failureEvery: number, progress?: boolean}} opts
 */
export async function generate(opts) {
  const started = process.hrtime.bigint();
  const next = makeRng(opts.seed >>> 0);
  const ri = (n) => next() % n;
  const pick = (a) => a[next() % a.length];
  const chance = (p) => next() < p * 4294967296;
  const h8 = (v) => HEX2[v >>> 24] + HEX2[(v >>> 16) & 255] + HEX2[(v >>> 8) & 255] + HEX2[v & 255];
  const h4 = (v) => HEX2[(v >>> 8) & 255] + HEX2[v & 255];
  const uuid = () => {
    const a = next(), b = next(), c = next(), d = next();
    return `${h8(a)}-${h4(b >>> 16)}-4${HEX1[(b >>> 8) & 15]}${HEX2[b & 255]}-${"89ab"[c >>> 30]}${HEX1[(c >>> 24) & 15]}${HEX2[(c >>> 16) & 255]}-${h4(c)}${h8(d)}`;
  };
  const hex32 = () => h8(next()) + h8(next()) + h8(next()) + h8(next());
  const hex40 = () => hex32() + h8(next());
  const ptr = () => `0x7f${HEX2[ri(256)]}${h8(next())}`;
  const secs = (lo, hi) => (lo + (next() / 4294967296) * (hi - lo)).toFixed(2);

  const gzRoot = opts.gz ? `${opts.out.replace(/[\\/]+$/, "")}-gz` : null;
  const F = {
    api: new LogFile("var/log/nova/nova-api.log", opts.out, gzRoot),
    sched: new LogFile("var/log/nova/nova-scheduler.log", opts.out, gzRoot),
    cond: new LogFile("var/log/nova/nova-conductor.log", opts.out, gzRoot),
    comp: new LogFile("var/log/nova/nova-compute.log", opts.out, gzRoot),
    virt: new LogFile("var/log/libvirt/libvirtd.log", opts.out, gzRoot),
  };
  const files = Object.values(F);
  let totalChars = 0;
  const add = (file, text) => {
    totalChars += text.length + 1;
    return file.line(text);
  };
  /** Writes a multi-line record; returns the line number of its first line. */
  const addAll = (file, lines) => {
    const first = add(file, lines[0]);
    for (let i = 1; i < lines.length; i++) add(file, lines[i]);
    return first;
  };

  // Time: one simulated clock; every line takes the clock when it is written, so each file is in order.
  let clock = Date.UTC(2024, 2, 12, 6, 0, 0) + (opts.seed % 86400) * 1000;
  let cachedSec = -1;
  let cachedDay = "";
  const secOf = (t) => {
    const s = Math.floor(t / 1000);
    if (s !== cachedSec) {
      cachedSec = s;
      const iso = new Date(s * 1000).toISOString();
      cachedDay = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
    }
    return cachedDay;
  };
  const ts = (t) => `${secOf(t)}.${MS3[t % 1000]}`;
  const vts = (t) => `${secOf(t)}.${MS3[t % 1000]}+0000`;
  const qts = (t) => `${secOf(t).replace(" ", "T")}.${MS3[t % 1000]}${MS3[ri(1000)]}Z`;

  // The cloud: users, projects, instances, hosts, pids.
  const users = Array.from({ length: 24 }, hex32);
  const projects = Array.from({ length: 12 }, hex32);
  const instances = Array.from({ length: 3000 }, uuid);
  const localInstances = instances.slice(0, 14);
  const images = Array.from({ length: 40 }, uuid);
  const networks = Array.from({ length: 6 }, uuid);
  const cells = [uuid(), uuid()];
  const neutronUser = hex32();
  const serviceProject = hex32();
  const clientIps = Array.from({ length: 20 }, (_, i) => `10.0.${i % 3}.${5 + i * 7}`);
  const apiPids = [2301, 2302, 2303, 2304];
  const schedPid = 2405;
  const condPids = [2510, 2511];
  const compPid = 2741;
  const virtTids = [3055, 3056, 3057, 3058, 3059, 3060, 3061, 3062];
  const hosts = ["compute-1", "compute-2", "compute-3", "compute-4"];
  const node = (h) => `${h}.example.com`;
  const me = "compute-1";
  const flavors = [["1", "m1.tiny", 512, 1, 1], ["2", "m1.small", 2048, 20, 1], ["3", "m1.medium", 4096, 40, 2], ["4", "m1.large", 8192, 80, 4]];
  const domainOf = new Map(localInstances.map((u, i) => [u, `instance-${(0x1a0 + i).toString(16).padStart(8, "0")}`]));
  const domain = (u) => domainOf.get(u) ?? `instance-${h8(next() & 0xfff)}`;
  const monitors = localInstances.map(() => ptr());
  let qmpId = 1000;

  const ctxUser = (r) => `[None req-${r.id} ${r.user} ${r.project} - - default default]`;
  const ctxNone = (id) => `[None req-${id} - - - - - -]`;
  const inst = (u) => `[instance: ${u}] `;
  const dbg = (msg, func, file, line) => `${msg} ${func} ${PY}/${file}:${line}`;
  const oslo = (t, pid, level, logger, ctx, msg) => `${ts(t)} ${pid} ${level} ${logger} ${ctx} ${msg}`;
  const virt = (t, level, fn, msg) => `${vts(t)}: ${pick(virtTids)}: ${level} : ${fn} : ${msg}`;
  const lock = (name, by, verb) =>
    verb === "acquired"
      ? dbg(`Lock "${name}" acquired by "${by}" :: waited 0.${MS3[ri(3)]}s`, "inner", "oslo_concurrency/lockutils.py", 386)
      : dbg(`Lock "${name}" "released" by "${by}" :: held 0.${MS3[ri(40)]}s`, "inner", "oslo_concurrency/lockutils.py", 400);
  const access = (r, t, method, url, status, len, time) =>
    oslo(t, r.apiPid, "INFO", "nova.api.openstack.requestlog", ctxUser(r), `${r.ip} "${method} ${url}" status: ${status} len: ${len} microversion: ${r.micro} time: ${time}`);
  const fastTime = () => `0.${String(4000 + ri(90000)).padStart(6, "0")}`;

  /** A request: the nova services write its lines under one request id, interleaved with others. */
  const newReq = (kind) => ({
    kind,
    id: uuid(),
    user: pick(users),
    project: pick(projects),
    ip: pick(clientIps),
    apiPid: pick(apiPids),
    condPid: pick(condPids),
    micro: pick(["2.1", "2.79", "2.79", "2.88", "2.90"]),
    items: [],
    i: 0,
  });

  // Injected failures: every record a rule should report, with the line its record starts on.
  const injected = [];
  let events = 0;
  const inject = (rule, file, line) => injected.push({ rule, path: file.rel, line, event: events });

  // ---- background requests -------------------------------------------------------------------

  const readUrls = [
    ["/v2.1/servers/detail", 8, () => 900 + ri(40000)],
    ["/v2.1/servers/detail?all_tenants=True&limit=1000", 2, () => 20000 + ri(300000)],
    ["/v2.1/flavors/detail", 3, () => 2394],
    ["/v2.1/os-hypervisors/detail", 1, () => 3000 + ri(2000)],
    ["/v2.1/os-services", 1, () => 1210 + ri(40)],
    ["/v2.1/limits", 2, () => 1402 + ri(60)],
    ["/v2.1/os-keypairs", 1, () => 16 + ri(1200)],
    ["/v2.1/os-availability-zone/detail", 1, () => 652],
    ["/", 1, () => 399],
    ["SERVER", 6, () => 1700 + ri(1200)],
    ["IFACE", 2, () => 520 + ri(800)],
  ].flatMap(([u, w, len]) => Array(w).fill([u, len]));
  const controllers = { SERVER: "ServersController.show", IFACE: "InterfaceAttachmentController.index", "/v2.1/servers/detail": "ServersController.detail", "/v2.1/flavors/detail": "FlavorsController.detail", "/v2.1/limits": "LimitsController.index" };

  function apiRead() {
    const r = newReq("read");
    const [u, len] = pick(readUrls);
    const server = pick(instances);
    const url = u === "SERVER" ? `/v2.1/servers/${server}` : u === "IFACE" ? `/v2.1/servers/${server}/os-interface` : u;
    const ctl = controllers[u];
    if (ctl && chance(0.6)) {
      const [cls, meth] = ctl.split(".");
      r.items.push((t) => add(F.api, oslo(t, r.apiPid, "DEBUG", "nova.api.openstack.wsgi", ctxUser(r), dbg(`Calling method '<bound method ${cls}.${meth} of <nova.api.openstack.compute.${cls.startsWith("Servers") ? "servers" : "flavors_extraspecs"}.${cls} object at 0x7f3c2a1b5d30>>'`, "_process_stack", "nova/api/openstack/wsgi.py", 520))));
    }
    if (u === "/v2.1/servers/detail" || u.startsWith("/v2.1/servers/detail?")) {
      r.items.push((t) => add(F.api, oslo(t, r.apiPid, "DEBUG", "nova.compute.api", ctxUser(r), dbg(`Searching by: {'deleted': False, 'project_id': '${r.project}'}`, "get_all", "nova/compute/api.py", 2976))));
      for (const cell of cells) {
        r.items.push((t) => add(F.api, oslo(t, r.apiPid, "DEBUG", "oslo_concurrency.lockutils", ctxUser(r), lock(cell, "nova.context.set_target_cell.<locals>.get_or_set_cached_cell_and_set_connections", "acquired"))));
        r.items.push((t) => add(F.api, oslo(t, r.apiPid, "DEBUG", "oslo_concurrency.lockutils", ctxUser(r), lock(cell, "nova.context.set_target_cell.<locals>.get_or_set_cached_cell_and_set_connections", "released"))));
      }
    }
    const status = u === "SERVER" && chance(0.03) ? 404 : 200;
    r.items.push((t) => add(F.api, access(r, t, "GET", url, status, status === 404 ? 111 : len(), fastTime())));
    return r;
  }

  function externalEvent() {
    const r = newReq("event");
    r.user = neutronUser;
    r.project = serviceProject;
    r.micro = "2.1";
    const u = pick(localInstances);
    const port = uuid();
    const name = pick(["network-vif-plugged", "network-vif-plugged", "network-changed"]);
    r.items.push((t) => add(F.api, oslo(t, r.apiPid, "INFO", "nova.api.openstack.compute.server_external_events", ctxUser(r), `Creating event ${name}:${port} for instance ${u} on ${node(me)}`)));
    r.items.push((t) => add(F.api, access(r, t, "POST", "/v2.1/os-server-external-events", 200, 183, fastTime())));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.compute.manager", ctxUser(r), inst(u) + dbg(`Received event ${name}-${port}`, "external_instance_event", "nova/compute/manager.py", 11049))));
    if (name === "network-changed") {
      r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.lockutils", ctxUser(r), lock(`refresh_cache-${u}`, "nova.network.neutron.API._get_instance_nw_info", "acquired"))));
      r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.network.neutron", ctxUser(r), inst(u) + dbg(`Refreshing network info cache for port ${port}`, "_get_instance_nw_info", "nova/network/neutron.py", 2053))));
      r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.network.neutron", ctxUser(r), inst(u) + dbg(`Updated VIF entry in instance network info cache for port ${port}.`, "_build_network_info_model", "nova/network/neutron.py", 3522))));
    }
    return r;
  }

  const monitorLines = (t, i) => {
    const mon = monitors[i];
    const id = `libvirt-${qmpId++}`;
    const cmd = pick(["query-balloon", "query-blockstats", "query-cpus-fast", "query-named-block-nodes"]);
    return [
      virt(t, "info", "qemuMonitorIOWrite:438", `QEMU_MONITOR_IO_WRITE: mon=${mon} buf={"execute":"${cmd}","id":"${id}"}\\r\\n len=${40 + cmd.length} ret=${40 + cmd.length} errno=0`),
      virt(t + 1, "debug", "qemuMonitorJSONIOProcessLine:222", `Line [{"return": {"actual": ${(1 + ri(8)) * 1073741824}}, "id": "${id}"}]`),
      virt(t + 1, "info", "qemuMonitorJSONIOProcessLine:242", `QEMU_MONITOR_RECV_REPLY: mon=${mon} reply={"return": {"actual": ${(1 + ri(8)) * 1073741824}}, "id": "${id}"}`),
    ];
  };

  function libvirtStats() {
    const r = newReq("stats");
    const conn = ptr();
    r.items.push((t) => add(F.virt, virt(t, "debug", "virConnectGetAllDomainStats:12210", `conn=${conn}, stats=0x0, retStats=${ptr()}, flags=0x0`)));
    const n = 1 + ri(3);
    for (let k = 0; k < n; k++) {
      r.items.push((t) => {
        const i = ri(localInstances.length);
        add(F.virt, virt(t, "debug", "qemuDomainObjBeginJobInternal:944", `Starting job: API=remoteDispatchConnectGetAllDomainStats job=query agentJob=none asyncJob=none (vm=${ptr()} name=${domain(localInstances[i])}, current job=none agentJob=none async=none)`));
        for (const line of monitorLines(t, i)) add(F.virt, line);
        add(F.virt, virt(t + 2, "debug", "qemuDomainObjEndJob:1187", `Stopping job: query (async=none vm=${ptr()} name=${domain(localInstances[i])})`));
      });
    }
    return r;
  }

  function rpcNoise() {
    const r = newReq("rpc");
    const msg = hex32();
    const reply = `reply_${hex32()}`;
    const [file, pid] = chance(0.5) ? [F.cond, r.condPid] : [F.sched, schedPid];
    r.items.push((t) => add(file, oslo(t, pid, "DEBUG", "oslo_messaging._drivers.amqpdriver", "[-]", dbg(`received message msg_id: ${msg} reply to ${reply}`, "__call__", "oslo_messaging/_drivers/amqpdriver.py", 372))));
    if (file === F.cond) {
      r.items.push((t) => add(file, oslo(t, pid, "DEBUG", "nova.servicegroup.drivers.db", ctxNone(r.id), dbg(`Seems service nova-compute on host ${pick(hosts)} is up`, "is_up", "nova/servicegroup/drivers/db.py", 72))));
    }
    r.items.push((t) => add(file, oslo(t, pid, "DEBUG", "oslo_messaging._drivers.amqpdriver", "[-]", dbg(`sending reply msg_id: ${msg} reply queue: ${reply} time elapsed: 0.0${MS3[ri(999)]}s`, "_send_reply", "oslo_messaging/_drivers/amqpdriver.py", 182))));
    return r;
  }

  function action() {
    const r = newReq("action");
    const u = pick(localInstances);
    const [what, verb, done] = pick([["reboot", "Rebooting instance", "Instance rebooted successfully."], ["os-stop", "Stopping instance", "Instance shutdown successfully after 3 seconds."], ["os-start", "Powering on instance", "Instance running successfully."]]);
    r.items.push((t) => add(F.api, oslo(t, r.apiPid, "DEBUG", "nova.api.openstack.wsgi", ctxUser(r), dbg(`Action: 'action', calling method: <bound method ServersController._action_${what.replace("os-", "")} of <nova.api.openstack.compute.servers.ServersController object at 0x7f3c2a1b5d30>>, body: {"${what}": ${what === "reboot" ? '{"type": "SOFT"}' : "null"}}`, "_process_stack", "nova/api/openstack/wsgi.py", 511))));
    r.items.push((t) => add(F.api, access(r, t, "POST", `/v2.1/servers/${u}/action`, 202, 0, `0.${String(60000 + ri(300000)).padStart(6, "0")}`)));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.lockutils", ctxUser(r), lock(u, `nova.compute.manager.ComputeManager.${what === "reboot" ? "reboot_instance" : what === "os-stop" ? "stop_instance" : "start_instance"}.<locals>.do_${what === "reboot" ? "reboot_instance" : what === "os-stop" ? "stop_instance" : "start_instance"}`, "acquired"))));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.compute.manager", ctxUser(r), inst(u) + verb)));
    r.items.push((t) => add(F.virt, virt(t, "debug", "virDomainShutdownFlags:1654", `dom=${ptr()}, (VM: name=${domain(u)}, uuid=${u}), flags=0x0`)));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.compute.manager", "[-]", `${inst(u)}VM ${what === "os-start" ? "Resumed" : "Stopped"} (Lifecycle Event)`)));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.virt.libvirt.driver", ctxUser(r), inst(u) + done)));
    return r;
  }

  /** nova-compute's own chatter about running instances: cache heals and power-state syncs. */
  function computeNoise() {
    const r = newReq("sync");
    const c = ctxNone(r.id);
    const u = pick(localInstances);
    if (chance(0.5)) {
      const port = uuid();
      const mac = `fa:16:3e:${HEX2[ri(256)]}:${HEX2[ri(256)]}:${HEX2[ri(256)]}`;
      r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.lockutils", c, lock(`refresh_cache-${u}`, "nova.compute.manager.ComputeManager._heal_instance_info_cache", "acquired"))));
      r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.network.neutron", c, inst(u) + dbg(`Updating instance_info_cache with network_info: [{"id": "${port}", "address": "${mac}", "network": {"id": "${pick(networks)}", "bridge": "br-int", "label": "private", "subnets": [{"cidr": "192.168.${ri(4)}.0/24", "dns": [], "gateway": {"address": "192.168.0.1", "type": "gateway", "version": 4, "meta": {}}, "ips": [{"address": "192.168.${ri(4)}.${2 + ri(250)}", "type": "fixed", "version": 4, "meta": {}, "floating_ips": []}], "routes": [], "version": 4, "meta": {"enable_dhcp": true}}], "meta": {"injected": false, "tenant_id": "${pick(projects)}", "mtu": 1442, "physical_network": null, "tunneled": true}}, "type": "ovs", "details": {"port_filter": true, "connectivity": "l2", "bridge_name": "br-int", "datapath_type": "system", "bound_drivers": {"0": "ovn"}}, "devname": "tap${port.slice(0, 11)}", "ovs_interfaceid": "${port}", "qbh_params": null, "qbg_params": null, "active": true, "vnic_type": "normal", "profile": {}, "preserve_on_delete": false, "delegate_create": true, "meta": {}}]`, "update_instance_cache_with_nw_info", "nova/network/neutron.py", 117))));
      r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.lockutils", c, lock(`refresh_cache-${u}`, "nova.compute.manager.ComputeManager._heal_instance_info_cache", "released"))));
      r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.compute.manager", c, inst(u) + dbg("Updated the network info_cache for instance", "_heal_instance_info_cache", "nova/compute/manager.py", 9936))));
    } else {
      const by = "nova.compute.manager.ComputeManager._sync_power_states.<locals>._sync.<locals>.query_driver_power_state_and_sync";
      r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.lockutils", c, lock(u, by, "acquired"))));
      r.items.push((t) => add(F.virt, virt(t, "debug", "virDomainGetInfo:2554", `dom=${ptr()}, (VM: name=${domain(u)}, uuid=${u}), info=${ptr()}`)));
      r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.lockutils", c, lock(u, by, "released"))));
    }
    return r;
  }

  /** The scheduler's part of a boot: filters, weighing, the chosen host. */
  function scheduleLines(r, u, host, extra) {
    r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "nova.scheduler.manager", ctxUser(r), dbg(`Starting to schedule for instances: ['${u}']`, "select_destinations", "nova/scheduler/manager.py", 141))));
    r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "nova.scheduler.host_manager", ctxUser(r), dbg(`Getting compute nodes and services for cell ${cells[0]}(cell1)`, "_get_computes_for_cells", "nova/scheduler/host_manager.py", 642))));
    r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "nova.filters", ctxUser(r), dbg(`Starting with ${hosts.length} host(s)`, "get_filtered_objects", "nova/filters.py", 70))));
    if (extra) extra();
    for (const f of ["AvailabilityZoneFilter", "ComputeFilter", "ComputeCapabilitiesFilter", "ImagePropertiesFilter", "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter"]) {
      r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "nova.filters", ctxUser(r), dbg(`Filter ${f} returned ${hosts.length} host(s)`, "get_filtered_objects", "nova/filters.py", 104))));
    }
    const state = (h) => `(${h}, ${node(h)}) ram: ${20000 + ri(40000)}MB disk: ${100000 + ri(300000)}MB io_ops: ${ri(3)} instances: ${ri(20)}, allocation_candidates: 1`;
    r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "nova.scheduler.manager", ctxUser(r), dbg(`Weighed [WeighedHost [host: ${state(host)}, weight: 2.0], WeighedHost [host: ${state(pick(hosts))}, weight: 1.5]]`, "_get_sorted_hosts", "nova/scheduler/manager.py", 651))));
    r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "nova.scheduler.utils", ctxUser(r), dbg(`Attempting to claim resources in the placement API for instance ${u}`, "claim_resources", "nova/scheduler/utils.py", 1280))));
    r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "nova.scheduler.manager", ctxUser(r), dbg(`[instance: ${u}] Selected host: ${state(host)}`, "_consume_selected_host", "nova/scheduler/manager.py", 560))));
  }

  /** A boot request up to the compute's spawn; `onCompute` replaces the successful spawn. */
  function boot(opts2 = {}) {
    const r = newReq("boot");
    const u = uuid();
    const [flavorId, flavorName, ram, disk, vcpus] = pick(flavors);
    const image = pick(images);
    const host = opts2.onCompute || opts2.forceLocal ? me : pick(hosts);
    r.items.push((t) => add(F.api, oslo(t, r.apiPid, "DEBUG", "nova.api.openstack.wsgi", ctxUser(r), dbg(`Action: 'create', calling method: <bound method ServersController.create of <nova.api.openstack.compute.servers.ServersController object at 0x7f3c2a1b5d30>>, body: {"server": {"name": "vm-${ri(10000)}", "imageRef": "${image}", "flavorRef": "${flavorId}", "networks": [{"uuid": "${pick(networks)}"}], "min_count": 1, "max_count": 1}}`, "_process_stack", "nova/api/openstack/wsgi.py", 511))));
    r.items.push((t) => add(F.api, access(r, t, "POST", "/v2.1/servers", 202, 414, `0.${String(200000 + ri(700000)).padStart(6, "0")}`)));
    r.items.push((t) => add(F.cond, oslo(t, r.condPid, "DEBUG", "oslo_concurrency.lockutils", ctxUser(r), lock(cells[0], "nova.context.set_target_cell.<locals>.get_or_set_cached_cell_and_set_connections", "acquired"))));
    if (opts2.schedule) opts2.schedule(r, u);
    else scheduleLines(r, u, host, opts2.schedExtra && (() => opts2.schedExtra(r, u)));
    if (opts2.afterSchedule) return opts2.afterSchedule(r, u), r;
    r.items.push((t) => add(F.cond, oslo(t, r.condPid, "DEBUG", "nova.conductor.manager", ctxUser(r), dbg(`Took 0.${MS3[ri(400)]} seconds to select destinations for 1 instance(s).`, "_schedule_instances", "nova/conductor/manager.py", 945))));
    r.items.push((t) => add(F.cond, oslo(t, r.condPid, "DEBUG", "nova.conductor.manager", ctxUser(r), inst(u) + dbg(`block_device_mapping [BlockDeviceMapping(attachment_id=<?>,boot_index=0,connection_info=None,delete_on_termination=True,destination_type='local',device_name=None,device_type='disk',disk_bus=None,guest_format=None,id=<?>,image_id='${image}',instance=<?>,instance_uuid=<?>,no_device=False,snapshot_id=None,source_type='image',tag=None,updated_at=<?>,uuid=<?>,volume_id=None,volume_size=None,volume_type=None)]`, "_create_block_device_mapping", "nova/conductor/manager.py", 1499))));
    if (host !== me) {
      r.items.push((t) => add(F.api, access(r, t, "GET", `/v2.1/servers/${u}`, 200, 1700 + ri(900), fastTime())));
      return r;
    }
    r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.lockutils", ctxUser(r), lock("compute_resources", "nova.compute.resource_tracker.ResourceTracker.instance_claim", "acquired"))));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.compute.claims", ctxUser(r), `${inst(u)}Claim successful on node ${node(me)}`)));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.lockutils", ctxUser(r), lock("compute_resources", "nova.compute.resource_tracker.ResourceTracker.instance_claim", "released"))));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.virt.libvirt.driver", ctxUser(r), `${inst(u)}Creating image(s)`)));
    if (opts2.onCompute) return opts2.onCompute(r, u, { image, ram, disk, vcpus, flavorName }), r;
    r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.virt.libvirt.driver", ctxUser(r), inst(u) + dbg("Start _get_guest_xml network_info=[VIF(...)] disk_info={'disk_bus': 'virtio', 'cdrom_bus': 'sata', 'mapping': {'root': {'bus': 'virtio', 'dev': 'vda', 'type': 'disk', 'boot_index': '1'}}}", "_get_guest_xml", "nova/virt/libvirt/driver.py", 7160))));
    r.items.push((t) => add(F.virt, virt(t, "debug", "virDomainCreateWithFlags:6811", `dom=${ptr()}, (VM: name=${domain(u)}, uuid=${u}), flags=0x0`)));
    r.items.push((t) => add(F.virt, virt(t, "debug", "qemuProcessStart:7691", `conn=${ptr()} driver=${ptr()} vm=${ptr()} name=${domain(u)} id=-1 asyncJob=start migrateFrom=<null> migrateFd=-1 migratePath=<null> snapshot=(nil) vmop=0 flags=0x1`)));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.compute.manager", "[-]", `${inst(u)}VM Started (Lifecycle Event)`)));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.virt.libvirt.driver", "[-]", `${inst(u)}Instance spawned successfully.`)));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.compute.manager", ctxUser(r), `${inst(u)}Took ${secs(5, 30)} seconds to spawn the instance on the hypervisor.`)));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.compute.manager", ctxUser(r), `${inst(u)}Took ${secs(30, 45)} seconds to build instance.`)));
    r.items.push((t) => add(F.api, access(r, t, "GET", `/v2.1/servers/${u}`, 200, 1700 + ri(900), fastTime())));
    return r;
  }

  // ---- periodic tasks ----------------------------------------------------------------------------

  function computePeriodic() {
    const r = newReq("periodic");
    const c = ctxNone(r.id);
    for (const task of ["_poll_rebooting_instances", "_poll_rescued_instances", "_check_instance_build_time", "_heal_instance_info_cache", "_poll_volume_usage", "_reclaim_queued_deletes", "update_available_resource", "_sync_power_states", "_instance_usage_audit", "_poll_unconfirmed_resizes"]) {
      r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_service.periodic_task", c, dbg(`Running periodic task ComputeManager.${task}`, "run_periodic_tasks", "oslo_service/periodic_task.py", 210))));
    }
    r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.compute.manager", c, dbg("CONF.reclaim_instance_interval <= 0, skipping...", "_reclaim_queued_deletes", "nova/compute/manager.py", 10299))));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.lockutils", c, lock("compute_resources", "nova.compute.resource_tracker.ResourceTracker.clean_compute_node_cache", "acquired"))));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.compute.resource_tracker", c, dbg(`Auditing locally available compute resources for ${me} (node: ${node(me)})`, "update_available_resource", "nova/compute/resource_tracker.py", 907))));
    r.items.push((t) => add(F.virt, virt(t, "debug", "virNodeGetInfo:389", `conn=${ptr()}, info=${ptr()}`)));
    r.items.push((t) => add(F.virt, virt(t, "debug", "virConnectGetLibVersion:1005", `conn=${ptr()}, libVir=${ptr()}`)));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.compute.resource_tracker", c, dbg(`Hypervisor/Node resource view: name=${node(me)} free_ram=${10000 + ri(30000)}MB free_disk=${100 + ri(300)}GB free_vcpus=${ri(20)} pci_devices=[{"dev_id": "pci_0000_00_01_0", "address": "0000:00:01.0", "product_id": "7000", "vendor_id": "8086", "numa_node": null, "label": "label_8086_7000", "dev_type": "type-PCI"}, {"dev_id": "pci_0000_00_02_0", "address": "0000:00:02.0", "product_id": "1111", "vendor_id": "1234", "numa_node": null, "label": "label_1234_1111", "dev_type": "type-PCI"}]`, "_report_hypervisor_resource_view", "nova/compute/resource_tracker.py", 1046))));
    for (const u of localInstances) {
      const [, , ram, disk, vcpus] = flavors[u.charCodeAt(0) % flavors.length];
      r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.compute.resource_tracker", c, dbg(`Instance ${u} actively managed on this compute host and has allocations in placement: {'resources': {'VCPU': ${vcpus}, 'MEMORY_MB': ${ram}, 'DISK_GB': ${disk}}}.`, "_remove_deleted_instances_allocations", "nova/compute/resource_tracker.py", 1587))));
    }
    r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.compute.resource_tracker", c, `Final resource view: name=${node(me)} phys_ram=64317MB used_ram=${20000 + ri(30000)}MB phys_disk=446GB used_disk=${100 + ri(200)}GB total_vcpus=32 used_vcpus=${10 + ri(20)} pci_stats=[]`)));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.compute.resource_tracker", c, dbg(`Compute_service record updated for ${me}:${node(me)}`, "_update_available_resource", "nova/compute/resource_tracker.py", 1006))));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.lockutils", c, lock("compute_resources", "nova.compute.resource_tracker.ResourceTracker._update_available_resource", "released"))));
    return r;
  }

  function schedulerPeriodic() {
    const r = newReq("periodic");
    const c = ctxNone(r.id);
    r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "oslo_service.periodic_task", c, dbg("Running periodic task SchedulerManager._discover_hosts_in_cells", "run_periodic_tasks", "oslo_service/periodic_task.py", 210))));
    r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "oslo_service.periodic_task", c, dbg("Running periodic task SchedulerManager._run_periodic_tasks", "run_periodic_tasks", "oslo_service/periodic_task.py", 210))));
    r.items.push((t) => add(F.sched, oslo(t, schedPid, "INFO", "nova.scheduler.host_manager", c, `Successfully synced instances from host '${pick(hosts)}'.`)));
    return r;
  }

  // ---- failures (texts from signatures.md) ---------------------------------------------------------

  const frame = (file, line, fn, code) => [`  File "${PY}/${file}", line ${line}, in ${fn}`, `    ${code}`];
  const spawnFrames = [
    ...frame("nova/compute/manager.py", 2743, "_build_resources", "yield resources"),
    ...frame("nova/compute/manager.py", 2503, "_build_and_run_instance", "self.driver.spawn(context, instance, image_meta,"),
  ];
  // A failure while spawn() built the disk, re-raised from the first exception as Python 3 chains it.
  const chainedCreateImageFrames = [
    "",
    "During handling of the above exception, another exception occurred:",
    "",
    "Traceback (most recent call last):",
    ...spawnFrames,
    ...frame("nova/virt/libvirt/driver.py", 4323, "spawn", "created_instance_dir, created_disks = self._create_image("),
  ];
  const guestFrames = [
    ...spawnFrames,
    ...frame("nova/virt/libvirt/driver.py", 4364, "spawn", "self._create_guest_with_network("),
    ...frame("nova/virt/libvirt/driver.py", 7372, "_create_guest_with_network", "self._cleanup_failed_start("),
    ...frame("oslo_utils/excutils.py", 227, "__exit__", "self.force_reraise()"),
    ...frame("oslo_utils/excutils.py", 200, "force_reraise", "raise self.value"),
    ...frame("nova/virt/libvirt/driver.py", 7343, "_create_guest_with_network", "guest = self._create_guest("),
    ...frame("nova/virt/libvirt/driver.py", 7281, "_create_guest", "guest.launch(pause=pause)"),
    ...frame("nova/virt/libvirt/guest.py", 165, "launch", "with excutils.save_and_reraise_exception():"),
    ...frame("oslo_utils/excutils.py", 227, "__exit__", "self.force_reraise()"),
    ...frame("oslo_utils/excutils.py", 200, "force_reraise", "raise self.value"),
    ...frame("nova/virt/libvirt/guest.py", 163, "launch", "return self._domain.createWithFlags(flags)"),
    ...frame("eventlet/tpool.py", 193, "doit", "result = proxy_call(self._autowrap, f, *args, **kwargs)"),
    ...frame("eventlet/tpool.py", 151, "proxy_call", "rv = execute(f, *args, **kwargs)"),
    ...frame("eventlet/tpool.py", 132, "execute", "six.reraise(c, e, tb)"),
    ...frame("six.py", 719, "reraise", "raise value"),
    ...frame("eventlet/tpool.py", 86, "tworker", "rv = meth(*args, **kwargs)"),
    `  File "/usr/lib64/python3.9/site-packages/libvirt.py", line 1409, in createWithFlags`,
    "    raise libvirtError('virDomainCreateWithFlags() failed')",
  ];
  const attachFrames = [
    ...frame("nova/virt/block_device.py", 658, "_do_attach", "virt_driver.attach_volume("),
    ...frame("nova/virt/libvirt/driver.py", 2148, "attach_volume", "guest.attach_device(conf, persistent=True, live=live)"),
    ...frame("nova/virt/libvirt/guest.py", 321, "attach_device", "self._domain.attachDeviceFlags(device_xml, flags=flags)"),
    ...frame("eventlet/tpool.py", 193, "doit", "result = proxy_call(self._autowrap, f, *args, **kwargs)"),
    ...frame("eventlet/tpool.py", 151, "proxy_call", "rv = execute(f, *args, **kwargs)"),
    ...frame("eventlet/tpool.py", 132, "execute", "six.reraise(c, e, tb)"),
    ...frame("six.py", 719, "reraise", "raise value"),
    ...frame("eventlet/tpool.py", 86, "tworker", "rv = meth(*args, **kwargs)"),
    `  File "/usr/lib64/python3.9/site-packages/libvirt.py", line 711, in attachDeviceFlags`,
    "    raise libvirtError('virDomainAttachDeviceFlags() failed')",
  ];
  const remoteNoValidHost = (reason) => [
    "Traceback (most recent call last):",
    "",
    ...frame("oslo_messaging/rpc/server.py", 244, "inner", "return func(*args, **kwargs)"),
    "",
    ...frame("nova/scheduler/manager.py", 243, "select_destinations", "raise exception.NoValidHost(reason=\"\")"),
    "",
    `nova.exception.NoValidHost: No valid host was found. ${reason}`,
    "",
  ];
  /** oslo.log's exception block: every traceback line behind the fixed ERROR prefix. */
  const prefixed = (t, pid, logger, instancePart, lines) => lines.map((l) => `${ts(t)} ${pid} ERROR ${logger} ${instancePart}${l}`);

  function failNoValidHost() {
    const reason = "There are not enough hosts available.";
    const filter = pick(["ComputeFilter", "NUMATopologyFilter", "AggregateInstanceExtraSpecsFilter", "PciPassthroughFilter", "ComputeCapabilitiesFilter"]);
    return boot({
      schedule: (r, u) => {
        r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "nova.scheduler.manager", ctxUser(r), dbg(`Starting to schedule for instances: ['${u}']`, "select_destinations", "nova/scheduler/manager.py", 141))));
        r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "nova.filters", ctxUser(r), dbg(`Starting with ${hosts.length} host(s)`, "get_filtered_objects", "nova/filters.py", 70))));
        r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "nova.filters", ctxUser(r), dbg(`Filter AvailabilityZoneFilter returned ${hosts.length} host(s)`, "get_filtered_objects", "nova/filters.py", 104))));
        r.items.push((t) => inject("nova-filter-zero-hosts", F.sched, add(F.sched, oslo(t, schedPid, "INFO", "nova.filters", ctxUser(r), `Filter ${filter} returned 0 hosts`))));
        r.items.push((t) => inject("nova-filter-zero-hosts", F.sched, add(F.sched, oslo(t, schedPid, "INFO", "nova.filters", ctxUser(r), `Filtering removed all hosts for the request with instance ID '${u}'. Filter results: ['AvailabilityZoneFilter: (start: ${hosts.length}, end: ${hosts.length})', '${filter}: (start: ${hosts.length}, end: 0)']`))));
        r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "nova.scheduler.manager", ctxUser(r), dbg("Filtered []", "_get_sorted_hosts", "nova/scheduler/manager.py", 610))));
        r.items.push((t) => add(F.sched, oslo(t, schedPid, "DEBUG", "nova.scheduler.manager", ctxUser(r), dbg("There are 0 hosts available but 1 instances requested to build.", "_ensure_sufficient_hosts", "nova/scheduler/manager.py", 474))));
      },
      afterSchedule: (r, u) => {
        const remote = remoteNoValidHost(reason);
        const summary = `nova.exception_Remote.NoValidHost_Remote: No valid host was found. ${reason}`;
        r.items.push((t) => {
          const local = [
            "Traceback (most recent call last):",
            ...frame("nova/conductor/manager.py", 1654, "schedule_and_build_instances", "host_lists = self._schedule_instances(context, request_specs[0],"),
            ...frame("nova/conductor/manager.py", 942, "_schedule_instances", "host_lists = self.query_client.select_destinations("),
            ...frame("nova/scheduler/client/query.py", 41, "select_destinations", "return self.scheduler_rpcapi.select_destinations(context, spec_obj,"),
            ...frame("nova/scheduler/rpcapi.py", 160, "select_destinations", "return cctxt.call(ctxt, 'select_destinations', **msg_args)"),
            ...frame("oslo_messaging/rpc/client.py", 189, "call", "result = self.transport._send("),
            ...frame("oslo_messaging/transport.py", 123, "_send", "return self._driver.send(target, ctxt, message,"),
            ...frame("oslo_messaging/_drivers/amqpdriver.py", 689, "send", "return self._send(target, ctxt, message, wait_for_reply, timeout,"),
            ...frame("oslo_messaging/_drivers/amqpdriver.py", 681, "_send", "raise result"),
            summary,
            ...remote,
          ];
          // LOG.exception('Failed to schedule instances'): the summary after ": " is the whole
          // multi-line _Remote text, unprefixed; then oslo.log's prefixed traceback block.
          const first = addAll(F.cond, [oslo(t, r.condPid, "ERROR", "nova.conductor.manager", ctxUser(r), `Failed to schedule instances: ${summary}`), ...remote, ...prefixed(t, r.condPid, "nova.conductor.manager", "", local)]);
          inject("nova-no-valid-host", F.cond, first);
        });
        r.items.push((t) => {
          const first = addAll(F.cond, [oslo(t, r.condPid, "WARNING", "nova.scheduler.utils", ctxUser(r), `${inst(u)}Failed to compute_task_build_instances: No valid host was found. ${reason}`), ...remote, `: ${summary}`]);
          inject("nova-no-valid-host", F.cond, first);
        });
        r.items.push((t) => addAll(F.cond, [oslo(t, r.condPid, "WARNING", "nova.scheduler.utils", ctxUser(r), `${inst(u)}Setting instance to ERROR state.: ${summary}`), ...remote]));
        r.items.push((t) => add(F.api, access(r, t, "GET", `/v2.1/servers/${u}`, 200, 1900 + ri(600), fastTime())));
      },
    });
  }

  function failServiceDown() {
    const down = pick(hosts.slice(1));
    return boot({
      schedExtra: (r) =>
        r.items.push((t) => inject("nova-compute-service-down", F.sched, add(F.sched, oslo(t, schedPid, "WARNING", "nova.scheduler.filters.compute_filter", ctxUser(r), `(${down}, ${node(down)}) ram: ${20000 + ri(40000)}MB disk: ${100000 + ri(300000)}MB io_ops: 0 instances: ${ri(20)}, allocation_candidates: 1 has not been heard from in a while`)))),
    });
  }

  const spawnFailed = (r, u, t, exceptionText, extraLines, frames) => {
    const tb = ["Traceback (most recent call last):", ...frames, exceptionText, ...extraLines, ""];
    return addAll(F.comp, [oslo(t, compPid, "ERROR", "nova.compute.manager", ctxUser(r), `${inst(u)}Instance failed to spawn: ${exceptionText}`), ...extraLines, ...prefixed(t, compPid, "nova.compute.manager", inst(u), tb)]);
  };
  const rescheduled = (r, u, reason) => {
    r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.compute.manager", ctxUser(r), `${inst(u)}Terminating instance`)));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.compute.manager", ctxUser(r), inst(u) + dbg(`Build of instance ${u} was re-scheduled: ${reason}`, "_do_build_and_run_instance", "nova/compute/manager.py", 2361))));
  };

  function failGuestMemory() {
    return boot({
      onCompute: (r, u) => {
        // qemu's stderr lines carry their own UTC time; they are made when libvirt logs them.
        let lines = [];
        let message = "";
        r.items.push((t) => add(F.virt, virt(t, "debug", "virDomainCreateWithFlags:6811", `dom=${ptr()}, (VM: name=${domain(u)}, uuid=${u}), flags=0x0`)));
        // libvirt writes the rest of qemu's stderr on the following lines, without a prefix.
        r.items.push((t) => {
          lines = chance(0.5)
            ? [`${qts(t - 4)} qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory`]
            : [`${qts(t - 5)} qemu-system-x86_64: warning: This family of AMD CPU doesn't support hyperthreading(2)`, `${qts(t - 4)} qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory`];
          message = `internal error: qemu unexpectedly closed the monitor: ${lines[0]}`;
          inject("qemu-guest-memory-enomem", F.virt, addAll(F.virt, [virt(t, "error", "qemuProcessReportLogError:1914", message), ...lines.slice(1)]));
        });
        r.items.push((t) => inject("qemu-guest-memory-enomem", F.comp, spawnFailed(r, u, t, `libvirt.libvirtError: ${message}`, lines.slice(1), guestFrames)));
        r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.compute.manager", ctxUser(r), `${inst(u)}Terminating instance`)));
        r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "nova.compute.manager", ctxUser(r), inst(u) + dbg(`Build of instance ${u} was re-scheduled: ${message}${lines.length > 1 ? `\\n${lines[1]}` : ""}`, "_do_build_and_run_instance", "nova/compute/manager.py", 2361))));
      },
    });
  }

  function failImageNotAuthorized() {
    return boot({
      onCompute: (r, u, { image }) => {
        const text = `nova.exception.ImageNotAuthorized: Not authorized for image ${image}.`;
        const frames = [
          ...frame("nova/image/glance.py", 377, "download", "image_chunks = self._client.call("),
          ...frame("nova/image/glance.py", 191, "call", "result = getattr(controller, method)(*args, **kwargs)"),
          ...frame("glanceclient/common/utils.py", 628, "inner", "return RequestIdProxy(wrapped(*args, **kwargs))"),
          ...frame("glanceclient/v2/images.py", 249, "data", "resp, body = self.http_client.get(url)"),
          ...frame("glanceclient/common/http.py", 395, "get", "return self.request(url, 'GET', **kwargs)"),
          ...frame("glanceclient/common/http.py", 380, "request", "return self._handle_response(resp)"),
          ...frame("glanceclient/common/http.py", 120, "_handle_response", "raise exc.from_response(resp, resp.content)"),
          "glanceclient.exc.HTTPForbidden: HTTP 403 Forbidden: You are not authorized to complete get_image_data action.",
          ...chainedCreateImageFrames,
          ...frame("nova/virt/libvirt/driver.py", 4697, "_create_image", "created_disks = self._create_and_inject_local_root("),
          ...frame("nova/virt/images.py", 152, "fetch", "IMAGE_API.download(context, image_href, dest_path=path)"),
          ...frame("nova/image/glance.py", 1306, "download", "return session.download(context, image_id, data=data,"),
          ...frame("nova/image/glance.py", 380, "download", "_reraise_translated_image_exception(image_id)"),
          ...frame("nova/image/glance.py", 1110, "_reraise_translated_image_exception", "raise new_exc.with_traceback(exc_trace)"),
        ];
        r.items.push((t) => inject("nova-image-not-authorized", F.comp, spawnFailed(r, u, t, text, [], frames)));
        rescheduled(r, u, `Not authorized for image ${image}.`);
      },
    });
  }

  function failImageConvertEnospc() {
    return boot({
      onCompute: (r, u) => {
        const base = `/var/lib/nova/instances/_base/${hex40()}`;
        const cmd = `qemu-img convert -t none -O raw -f qcow2 ${base}.part ${base}.converted`;
        const pee = ["Unexpected error while running command.", `Command: ${cmd}`, "Exit code: 1", "Stdout: ''", `Stderr: 'qemu-img: error while writing at byte ${(1 + ri(40)) * 536870912}: No space left on device\\n'`];
        const text = `nova.exception.ImageUnacceptable: Image ${base}.part is unacceptable: Unable to convert image to raw: ${pee[0]}`;
        r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.processutils", ctxUser(r), dbg(`Running cmd (subprocess): ${cmd}`, "execute", "oslo_concurrency/processutils.py", 384))));
        r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.processutils", ctxUser(r), dbg(`CMD "${cmd}" returned: 1 in ${secs(1, 9)}s`, "execute", "oslo_concurrency/processutils.py", 422))));
        r.items.push((t) => add(F.comp, oslo(t, compPid, "DEBUG", "oslo_concurrency.processutils", ctxUser(r), dbg(`'${cmd}' failed. Not Retrying.`, "execute", "oslo_concurrency/processutils.py", 473))));
        const frames = [
          ...frame("nova/virt/images.py", 110, "_convert_image", "processutils.execute(*cmd, prlimit=compute_utils.QEMU_IMG_LIMITS)"),
          ...frame("oslo_concurrency/processutils.py", 438, "execute", "raise ProcessExecutionError(exit_code=_returncode,"),
          `oslo_concurrency.processutils.ProcessExecutionError: ${pee[0]}`,
          ...pee.slice(1),
          ...chainedCreateImageFrames,
          ...frame("nova/virt/libvirt/imagebackend.py", 592, "create_image", "prepare_template(target=base, *args, **kwargs)"),
          ...frame("nova/virt/images.py", 178, "fetch_to_raw", "convert_image(path_tmp, staged, fmt, 'raw')"),
          ...frame("nova/virt/images.py", 118, "_convert_image", "raise exception.ImageUnacceptable(image_id=source, reason=msg)"),
        ];
        // ProcessExecutionError's text is multi-line: unprefixed after the first line, prefixed in the traceback.
        r.items.push((t) => inject("nova-qemu-img-convert-enospc", F.comp, spawnFailed(r, u, t, text, pee.slice(1), frames)));
      },
    });
  }

  function failRbdSecret() {
    const r = newReq("attach");
    const u = pick(localInstances);
    const vol = uuid();
    const secret = uuid();
    const message = `Secret not found: no secret with matching uuid '${secret}'`;
    const xml = ['<disk type="network" device="disk">', '  <driver name="qemu" type="raw" cache="writeback" discard="unmap"/>', `  <source protocol="rbd" name="volumes/volume-${vol}">`, '    <host name="10.0.1.11" port="6789"/>', '    <host name="10.0.1.12" port="6789"/>', "  </source>", '  <auth username="cinder">', `    <secret type="ceph" uuid="${secret}"/>`, "  </auth>", '  <target dev="vdb" bus="virtio"/>', `  <serial>${vol}</serial>`, "</disk>"];
    r.items.push((t) => add(F.api, oslo(t, r.apiPid, "DEBUG", "nova.api.openstack.wsgi", ctxUser(r), dbg(`Action: 'create', calling method: <bound method VolumeAttachmentController.create of <nova.api.openstack.compute.volumes.VolumeAttachmentController object at 0x7f3c29f0e4c0>>, body: {"volumeAttachment": {"volumeId": "${vol}"}}`, "_process_stack", "nova/api/openstack/wsgi.py", 511))));
    r.items.push((t) => add(F.comp, oslo(t, compPid, "INFO", "nova.compute.manager", ctxUser(r), `${inst(u)}Attaching volume ${vol} to /dev/vdb`)));
    // A DEBUG record whose XML continues on unprefixed lines; the funcName suffix ends the last one.
    r.items.push((t) => addAll(F.comp, [oslo(t, compPid, "DEBUG", "nova.virt.libvirt.guest", ctxUser(r), `${inst(u)}attach device xml: ${xml[0]}`), ...xml.slice(1, -1), dbg(xml[xml.length - 1], "attach_device", "nova/virt/libvirt/guest.py", 318)]));
    r.items.push((t) => addAll(F.virt, [virt(t, "debug", "virDomainAttachDeviceFlags:8523", `dom=${ptr()}, (VM: name=${domain(u)}, uuid=${u}), xml=${xml[0]}`), ...xml.slice(1), ", flags=0x3"]));
    r.items.push((t) => inject("libvirt-rbd-secret-not-found", F.virt, add(F.virt, virt(t, "error", "secretLookupByUUID:154", message))));
    r.items.push((t) => {
      const tb = ["Traceback (most recent call last):", ...attachFrames.slice(2), `libvirt.libvirtError: ${message}`, ""];
      inject("libvirt-rbd-secret-not-found", F.comp, addAll(F.comp, [oslo(t, compPid, "ERROR", "nova.virt.libvirt.driver", ctxUser(r), `${inst(u)}Failed to attach volume at mountpoint: /dev/vdb: libvirt.libvirtError: ${message}`), ...prefixed(t, compPid, "nova.virt.libvirt.driver", inst(u), tb)]));
    });
    r.items.push((t) => {
      const tb = ["Traceback (most recent call last):", ...frame("nova/compute/manager.py", 7483, "_attach_volume", "bdm.attach(context, instance, self.volume_api, self.driver,"), ...attachFrames, `libvirt.libvirtError: ${message}`, ""];
      inject("libvirt-rbd-secret-not-found", F.comp, addAll(F.comp, [oslo(t, compPid, "ERROR", "nova.compute.manager", ctxUser(r), `${inst(u)}Failed to attach ${vol} at /dev/vdb: libvirt.libvirtError: ${message}`), ...prefixed(t, compPid, "nova.compute.manager", inst(u), tb)]));
    });
    r.items.push((t) => add(F.api, access(r, t, "POST", `/v2.1/servers/${u}/os-volume_attachments`, 500, 216, `${1 + ri(3)}.${MS3[ri(1000)]}${MS3[ri(1000)]}`)));
    return r;
  }

  const failureKinds = [failNoValidHost, failServiceDown, failGuestMemory, failRbdSecret, failImageNotAuthorized, failImageConvertEnospc];
  let rotation = [];
  const nextFailure = () => {
    if (rotation.length === 0) {
      rotation = failureKinds.slice();
      for (let i = rotation.length - 1; i > 0; i--) {
        const j = ri(i + 1);
        [rotation[i], rotation[j]] = [rotation[j], rotation[i]];
      }
    }
    events++;
    return rotation.pop()();
  };

  const kinds = [[apiRead, 32], [externalEvent, 7], [libvirtStats, 10], [rpcNoise, 10], [computeNoise, 8], [action, 4], [boot, 5]].flatMap(([f, w]) => Array(w).fill(f));
  const newBackground = () => pick(kinds)();

  // ---- main loop ----------------------------------------------------------------------------------

  const t0 = clock;
  for (const [file, pid, logger, text] of [
    [F.api, apiPids[0], "nova.api.openstack.wsgi", "Loaded extensions: ['extensions', 'flavors', 'image-metadata', 'image-size', 'ips', 'limits', 'os-admin-actions', 'os-availability-zone', 'os-hypervisors', 'os-keypairs', 'os-server-external-events', 'os-services', 'os-volumes', 'servers', 'versions']"],
    [F.sched, schedPid, "nova.service", "Starting scheduler node (version 26.2.1)"],
    [F.cond, condPids[0], "nova.service", "Starting conductor node (version 26.2.1)"],
    [F.comp, compPid, "nova.service", "Starting compute node (version 26.2.1)"],
  ]) add(file, oslo(t0, pid, "INFO", logger, "[-]", text));
  add(F.virt, `${vts(t0)}: ${virtTids[0]}: info : libvirt version: 8.0.0, package: 1ubuntu7.10 (Ubuntu)`);
  add(F.virt, `${vts(t0)}: ${virtTids[0]}: info : hostname: ${me}`);

  const inFlight = 64;
  const pool = Array.from({ length: inFlight }, newBackground);
  let nextFailureAt = Math.floor(opts.failureEvery / 2);
  let nextComputePeriodic = clock + 60_000;
  let nextSchedPeriodic = clock + 30_000;
  let lastReport = 0;
  while (totalChars < opts.size) {
    if (totalChars >= nextFailureAt) {
      nextFailureAt += opts.failureEvery;
      pool.push(nextFailure());
    }
    if (clock >= nextComputePeriodic) {
      nextComputePeriodic += 60_000;
      pool.push(computePeriodic());
    }
    if (clock >= nextSchedPeriodic) {
      nextSchedPeriodic += 60_000;
      pool.push(schedulerPeriodic());
    }
    const slot = ri(pool.length);
    const r = pool[slot];
    r.items[r.i++](clock);
    if (r.i === r.items.length) {
      if (pool.length > inFlight) {
        pool[slot] = pool[pool.length - 1];
        pool.pop();
      } else pool[slot] = newBackground();
    }
    clock += 1 + ri(12);
    for (const file of files) {
      const wait = file.pending && file.takePending();
      if (wait) await wait;
    }
    if (totalChars - lastReport >= 256 << 20) {
      lastReport = totalChars;
      if (opts.progress) process.stderr.write(`gen-logs: ${(totalChars / 2 ** 20).toFixed(0)} MiB\r`);
    }
  }
  await Promise.all(files.map((f) => f.close()));

  const injectedJson = `[\n${injected.map((e) => `  ${JSON.stringify(e)}`).join(",\n")}\n]\n`;
  fs.writeFileSync(path.join(opts.out, "injected.json"), injectedJson);
  if (gzRoot) fs.writeFileSync(path.join(gzRoot, "injected.json"), `[\n${injected.map((e) => `  ${JSON.stringify({ ...e, path: `${e.path}.gz` })}`).join(",\n")}\n]\n`);
  if (opts.progress) process.stderr.write("\x1b[K");
  return {
    out: opts.out,
    gzOut: gzRoot,
    size: opts.size,
    seed: opts.seed,
    bytes: files.reduce((s, f) => s + f.bytes, 0),
    lines: files.reduce((s, f) => s + f.lines, 0),
    files: files.map((f) => ({ path: f.rel, bytes: f.bytes, lines: f.lines })),
    events,
    injected: injected.length,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      size: { type: "string", default: "1GiB" },
      seed: { type: "string", default: "1" },
      gz: { type: "boolean", default: false },
      "failure-every": { type: "string", default: "2MiB" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || !values.out) {
    process.stderr.write("usage: node scripts/gen-logs.mjs --out DIR [--size 1GiB] [--seed N] [--gz] [--failure-every 2MiB]\n");
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed takes a non-negative integer; got "${values.seed}"`);
  const summary = await generate({ out: values.out, size: parseSize(values.size), seed, gz: values.gz, failureEvery: parseSize(values["failure-every"]), progress: process.stderr.isTTY });
  process.stderr.write(`gen-logs: ${summary.files.length} files, ${(summary.bytes / 1e6).toFixed(1)} MB, ${summary.lines} lines, ${summary.injected} injected failure records in ${summary.events} events, ${summary.seconds.toFixed(1)} s → ${summary.out}${summary.gzOut ? ` and ${summary.gzOut}` : ""}\n`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error) => {
    process.stderr.write(`gen-logs: ${error.message}\n`);
    process.exitCode = 2;
  });
}
