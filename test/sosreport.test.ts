// Sosreports as support engineers collect them: tarballs from two hosts, scanned directly, and what CI reads of them.
import { execFileSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import type { Finding, ScanResult } from "../src/model.js";
import { parseXml, sarifValidator, type XmlElement } from "./helpers/ci-formats.js";

const fixture = path.resolve("fixtures/openstack-controller-compute");
const hosts = { "controller-0": "sosreport-controller-0-2024-05-14-qxkbrmn", "compute-1": "sosreport-compute-1-2024-05-14-vnwzjpa" };
let root = "";
let unpacked = "";

/** Lays a fixture host out as sos 4.x does: sos_commands/host/hostname and sos_commands/date/date beside the tree. */
function makeSosreport(host: string, dir: string): void {
  cpSync(path.join(fixture, host), dir, { recursive: true });
  mkdirSync(path.join(dir, "sos_commands/host"), { recursive: true });
  mkdirSync(path.join(dir, "sos_commands/date"), { recursive: true });
  writeFileSync(path.join(dir, "sos_commands/host/hostname"), `${host}\n`);
  writeFileSync(path.join(dir, "sos_commands/date/date"), "Tue May 14 12:45:00 UTC 2024\n");
}

function cli(argv: string[], cwd = root) {
  return runCli(argv, { cwd });
}

const tarballs = ["sosreport-controller-0.tar.xz", "sosreport-compute-1.tar.gz"];

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), "ct-sos-"));
  unpacked = path.join(root, "unpacked");
  for (const [host, name] of Object.entries(hosts)) makeSosreport(host, path.join(unpacked, name));
  execFileSync("tar", ["-cJf", path.join(root, tarballs[0]!), "-C", unpacked, hosts["controller-0"]]);
  execFileSync("tar", ["-czf", path.join(root, tarballs[1]!), "-C", unpacked, hosts["compute-1"]]);
});

function summary(f: Finding): string {
  return `${f.ruleId} ${f.host} ${f.path}:${f.line} x${f.count} related=${f.related.map((r) => `${r.path}:${r.line}`).join(",")}`;
}

function incidents(r: ScanResult): string[] {
  const byId = new Map(r.findings.map((f) => [f.id, `${f.ruleId} ${f.path}:${f.line}`]));
  return r.incidents.map((i) => `root ${byId.get(i.rootCause)} <- ${i.findings.map((id) => byId.get(id)).sort().join(" | ")}`).sort();
}

describe("scanning sosreport tarballs", () => {
  it("gives each finding its host from the sosreport and links across hosts", async () => {
    const { code, stdout } = await cli(["scan", ...tarballs, "--format", "json"]);
    expect(code).toBe(1);
    const result = JSON.parse(stdout) as ScanResult;
    const hostsSeen = new Set(result.findings.map((f) => f.host));
    expect([...hostsSeen].sort()).toEqual(["compute-1", "controller-0"]);
    const enomem = result.findings.find((f) => f.ruleId === "qemu-guest-memory-enomem" && f.path.endsWith("qemu/instance-0000000a.log"));
    expect(enomem?.host).toBe("compute-1");
    // The compute's failure is linked to the API request that asked for the instance, on the controller.
    expect(enomem?.related.some((r) => r.host === "controller-0" && r.path === `${hosts["controller-0"]}/var/log/nova/nova-api.log`)).toBe(true);
    expect(result.incidents.length).toBeGreaterThanOrEqual(3);
  });

  it("finds exactly what scanning the unpacked trees finds: findings, related lines, incidents", async () => {
    const packed = JSON.parse((await cli(["scan", ...tarballs, "--format", "json"])).stdout) as ScanResult;
    const plain = JSON.parse((await cli(["scan", "unpacked", "--format", "json"])).stdout) as ScanResult;
    expect(packed.findings.map(summary).sort()).toEqual(plain.findings.map(summary).sort());
    expect(incidents(packed)).toEqual(incidents(plain));
  });

  it("forms incidents across hosts: the API's refusal on the controller and the compute's log of it", async () => {
    // openstack-services: nova-api on ctl-1 answers 409 to set-password; nova-compute on cmp-1 logs why.
    const services = path.resolve("fixtures/openstack-services");
    const sos = path.join(root, "services");
    for (const host of ["ctl-1", "cmp-1"]) {
      const dir = path.join(sos, `sosreport-${host}-2021-09-14-abcdefg`);
      cpSync(path.join(services, host), dir, { recursive: true });
      mkdirSync(path.join(dir, "sos_commands/host"), { recursive: true });
      writeFileSync(path.join(dir, "sos_commands/host/hostname"), `${host}\n`);
      execFileSync("tar", ["-cJf", path.join(root, `sosreport-${host}.tar.xz`), "-C", sos, path.basename(dir)]);
    }
    const result = JSON.parse((await cli(["scan", "sosreport-ctl-1.tar.xz", "sosreport-cmp-1.tar.xz", "--format", "json"])).stdout) as ScanResult;
    const byId = new Map(result.findings.map((f) => [f.id, f]));
    const crossHost = result.incidents.filter((i) => new Set(i.findings.map((id) => byId.get(id)?.host)).size > 1);
    expect(crossHost.length).toBeGreaterThanOrEqual(1);
    const agent = crossHost.find((i) => byId.get(i.rootCause)?.ruleId === "nova-qemu-guest-agent-not-enabled");
    expect(agent).toBeDefined();
    expect(new Set(agent!.findings.map((id) => byId.get(id)?.host))).toEqual(new Set(["ctl-1", "cmp-1"]));
  });

  it("counts a duration in --since back from the sosreport's capture time", async () => {
    // Captured at 12:45 (sos_commands/date/date); QEMU ran out of memory at 10:41, the NoValidHost came at 11:27.
    const recent = JSON.parse((await cli(["scan", ...tarballs, "--format", "json", "--since", "100m"])).stdout) as ScanResult;
    const rules = new Set(recent.findings.map((f) => f.ruleId));
    expect(rules.has("nova-no-valid-host")).toBe(true);
    expect(rules.has("qemu-guest-memory-enomem")).toBe(false);
  });
});

describe("ZStack log bundles", () => {
  it("reads a zstack-ctl collect_log tarball and names each node from its <type>-<ip> folder", async () => {
    // collect_log lays a bundle out as collect-log-<version>-<date>/<type>-<ip>/<name>-logs/<file>.
    const fixtureRoot = path.resolve("fixtures/zstack-management-node");
    const bundle = path.join(root, "zstack", "collect-log-4.7.21-2024-05-21_10-50");
    mkdirSync(path.join(bundle, "mn-172.20.12.10/mn-logs"), { recursive: true });
    mkdirSync(path.join(bundle, "host-172.20.12.12/kvmagent-logs"), { recursive: true });
    cpSync(path.join(fixtureRoot, "zstack-mn-1/usr/local/zstack/apache-tomcat/logs/management-server.log"), path.join(bundle, "mn-172.20.12.10/mn-logs/management-server.log"));
    cpSync(path.join(fixtureRoot, "kvm-host-3/var/log/zstack/zstack-kvmagent.log"), path.join(bundle, "host-172.20.12.12/kvmagent-logs/zstack-kvmagent.log"));
    execFileSync("tar", ["-czf", path.join(root, "collect-log.tar.gz"), "-C", path.dirname(bundle), path.basename(bundle)]);
    const bundled = JSON.parse((await cli(["scan", "collect-log.tar.gz", "--format", "json"])).stdout) as ScanResult;
    const plain = JSON.parse((await cli(["scan", fixtureRoot, "--format", "json"])).stdout) as ScanResult;
    const rules = (r: ScanResult, host: string) => r.findings.filter((f) => f.host === host).map((f) => `${f.ruleId}:${f.line}`).sort();
    expect(rules(bundled, "mn-172.20.12.10")).toEqual(rules(plain, "zstack-mn-1"));
    expect(rules(bundled, "host-172.20.12.12")).toEqual(rules(plain, "kvm-host-3"));
    expect(bundled.findings.some((f) => f.ruleId === "zstack-no-vmx-svm")).toBe(true);
  });
});

describe("CI formats over the sosreports", () => {
  it("writes SARIF 2.1.0 that validates against the schema, with JUnit beside it from the same scan", async () => {
    const { code } = await cli(["scan", ...tarballs, "--format", "markdown", "--output", "sarif=out.sarif", "--output", "junit=out.xml"]);
    expect(code).toBe(1);
    const sarif = JSON.parse(readFileSync(path.join(root, "out.sarif"), "utf8"));
    const validate = sarifValidator();
    const valid = validate(sarif);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    const results = sarif.runs[0].results as { ruleId: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[];
    expect(results.some((r) => r.ruleId === "nova-no-valid-host" && r.locations[0]?.physicalLocation.region.startLine === 19)).toBe(true);
    const descriptors = sarif.runs[0].tool.driver.rules as { id: string; helpUri?: string }[];
    expect(descriptors.find((d) => d.id === "nova-no-valid-host")?.helpUri).toMatch(/^https:\/\//);

    const junit = parseXml(readFileSync(path.join(root, "out.xml"), "utf8"));
    const suites = junit.children.filter((c) => c.name === "testsuite");
    expect(suites.map((s) => s.attributes.name).sort()).toEqual(["compute-1", "controller-0"]);
    const controller = suites.find((s) => s.attributes.name === "controller-0") as XmlElement;
    const noValidHost = controller.children.find((c) => c.attributes.name?.startsWith("nova-no-valid-host:")) as XmlElement;
    expect(noValidHost.children.filter((c) => c.name === "failure").length).toBeGreaterThanOrEqual(1);
    const passing = controller.children.find((c) => c.attributes.name?.startsWith("zstack-no-vmx-svm:")) as XmlElement;
    expect(passing.children.filter((c) => c.name === "failure")).toEqual([]);
  });

  it("prints a Markdown summary with incidents first", async () => {
    const { stdout } = await cli(["scan", ...tarballs, "--format", "markdown"]);
    expect(stdout.indexOf("Incident")).toBeGreaterThanOrEqual(0);
    expect(stdout.indexOf("Incident")).toBeLessThan(stdout.indexOf("| severity") === -1 ? Infinity : stdout.indexOf("| severity"));
  });
});

describe("baselines", () => {
  it("suppresses every known finding on a rescan and reports only a newly injected failure, with exit 1", async () => {
    expect((await cli(["scan", ...tarballs, "--write-baseline", "baseline.json", "--format", "json"])).code).toBe(1);
    const rescan = await cli(["scan", ...tarballs, "--baseline", "baseline.json", "--format", "json"]);
    expect(rescan.code).toBe(0);
    const quiet = JSON.parse(rescan.stdout) as ScanResult;
    expect(quiet.findings).toEqual([]);
    expect(quiet.summary.suppressed).toBeGreaterThan(20);

    // A week later the same cloud has one new failure: an rbd secret missing on the compute.
    const later = path.join(root, "later");
    cpSync(path.join(unpacked, hosts["compute-1"]), path.join(later, hosts["compute-1"]), { recursive: true });
    appendFileSync(
      path.join(later, hosts["compute-1"], "var/log/nova/nova-compute.log"),
      "2024-05-14 12:44:01.220 2741 ERROR nova.virt.libvirt.driver [None req-9d1e7c52-1b1a-4c8e-a7f3-2e5b9c0d4a61 6f2b0c9e8d7a4b1c9e5f3a2d1c0b9a8e 3c4d5e6f7a8b4c9d8e7f6a5b4c3d2e1f - - default default] [instance: 45b6f25d-6e45-4c46-9d8b-c334a59cd4fa] Failed to attach volume at mountpoint: /dev/vdb: libvirt.libvirtError: Secret not found: no secret with matching uuid '457eb676-33da-42ec-9a8c-9293d545c337'\n",
    );
    execFileSync("tar", ["-czf", path.join(root, "later-compute-1.tar.gz"), "-C", later, hosts["compute-1"]]);
    const next = await cli(["scan", tarballs[0]!, "later-compute-1.tar.gz", "--baseline", "baseline.json", "--format", "json"]);
    expect(next.code).toBe(1);
    const fresh = JSON.parse(next.stdout) as ScanResult;
    expect(fresh.findings.map((f) => `${f.ruleId} ${f.host}`)).toEqual(["libvirt-rbd-secret-not-found compute-1"]);
  });
});
