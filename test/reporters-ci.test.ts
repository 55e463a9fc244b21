// The CI reporters: SARIF against the published schema, JUnit through a strict XML parser, Markdown as a PR reader sees it.
import { describe, expect, it } from "vitest";
import { parseXml, sarifValidator, type XmlElement } from "./helpers/ci-formats.js";
import type { Finding, RuleInfo, ScanResult } from "../src/model.js";
import type { ReportContext } from "../src/reporters/context.js";
import { formatJson } from "../src/reporters/json.js";
import { formatJunit } from "../src/reporters/junit.js";
import { formatMarkdown } from "../src/reporters/markdown.js";
import { fingerprint, formatSarif, FINGERPRINT_KEY } from "../src/reporters/sarif.js";
import { makeFinding } from "./helpers/findings.js";

// Messages are nova and libvirt strings from ../shared/reference/signatures.md.
const REQ = "req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27";
const INSTANCE = "4f75fd35-c53c-4feb-90bf-391996dee667";

const RULES: RuleInfo[] = [
  {
    id: "nova-no-valid-host",
    title: "The scheduler found no valid host for the request",
    severity: "error",
    remediation:
      "Every compute host was rejected; the related scheduler lines say\nwhether a filter or Placement removed the last one.\n1. openstack compute service list --service nova-compute\n",
    references: ["https://docs.openstack.org/nova/latest/admin/scheduling.html"],
    layer: "service",
  },
  {
    id: "nova-compute-service-down",
    title: "A nova-compute service stopped reporting to the scheduler",
    severity: "error",
    remediation: "The heartbeat expired.\n1. openstack compute service list\n2. systemctl status nova-compute on that host\n",
    references: ["https://docs.openstack.org/nova/latest/admin/troubleshooting/affinity-policy-violated.html"],
    layer: "service",
  },
  {
    id: "libvirt-disk-permission-denied",
    title: "QEMU could not open a disk image: permission denied",
    severity: "error",
    remediation: "1. ls -lZ the image path\n2. check dynamic_ownership and user/group in /etc/libvirt/qemu.conf\n",
    references: ["https://libvirt.org/drvqemu.html#posix-users-groups"],
    layer: "libvirt",
  },
  {
    id: "nova-build-rescheduled",
    title: "An instance build failed on one host and was rescheduled",
    severity: "warning",
    remediation: "Read the reason; it carries the hypervisor's error.\n",
    references: [],
    layer: "service",
  },
];

function finding(overrides: Partial<Finding> & Pick<Finding, "id" | "ruleId">): Finding {
  const rule = RULES.find((r) => r.id === overrides.ruleId);
  return makeFinding({ title: rule?.title ?? overrides.ruleId, remediation: rule?.remediation ?? "", references: rule?.references ?? [], ...overrides });
}

const NO_VALID_HOST = finding({
  id: "f-no-valid-host",
  ruleId: "nova-no-valid-host",
  component: "nova-conductor",
  host: "controller-0",
  path: "var/log/nova/nova-conductor.log",
  line: 412,
  timestamp: "2024-03-12T10:15:40.027",
  message: "Failed to compute_task_build_instances: No valid host was found. There are not enough hosts available.",
  requestIds: [REQ],
  instanceIds: [INSTANCE],
  fields: { operation: "build_instances", reason: "There are not enough hosts available." },
  related: [
    {
      path: "var/log/nova/nova-scheduler.log",
      line: 2291,
      host: "controller-0",
      component: "nova-scheduler",
      timestamp: "2024-03-12T10:15:39.951",
      level: "INFO",
      message: "Filter ComputeFilter returned 0 hosts",
    },
  ],
});

const SERVICE_DOWN = finding({
  id: "f-service-down",
  ruleId: "nova-compute-service-down",
  component: "nova-scheduler",
  host: "controller-0",
  path: "var/log/nova/nova-scheduler.log",
  line: 2288,
  timestamp: "2024-03-12T10:15:39.950",
  message:
    "(compute-2, compute-2.example.com) ram: 31488MB disk: 412672MB io_ops: 0 instances: 3, allocation_candidates: 1 has not been heard from in a while",
  requestIds: [REQ],
});

const DISK_DENIED = finding({
  id: "f-disk-denied",
  ruleId: "libvirt-disk-permission-denied",
  component: "libvirtd",
  host: "compute-1",
  path: "var/log/libvirt/libvirtd.log",
  line: 88,
  timestamp: "2024-03-12T14:01:02.112",
  message: `internal error: qemu unexpectedly closed the monitor: 2024-03-12T14:01:02.088417Z qemu-kvm: -blockdev {"driver":"file","filename":"/var/lib/nova/instances/${INSTANCE}/disk"}: Could not open '/var/lib/nova/instances/${INSTANCE}/disk': Permission denied`,
  instanceIds: [INSTANCE],
});

// No rule knows this line; the host is unknown because the file came without a hostname.
const UNMATCHED = finding({
  id: "f-unmatched",
  ruleId: "unmatched-error",
  title: "An ERROR line no rule explains",
  severity: "info",
  component: "nova-api",
  path: "nova-api.log",
  line: 7,
  message:
    "Unexpected exception in API method: TypeError: unsupported operand type(s) for |: 'dict' and 'dict'\nTraceback (most recent call last):\n  File \"/usr/lib/python3.9/site-packages/nova/api/openstack/wsgi.py\", line 658, in <module>",
  remediation: "Read the traceback; if it recurs, write a rule for it.",
  references: [],
});

const RESULT: ScanResult = {
  schemaVersion: 1,
  language: "en",
  summary: {
    files: 6,
    lines: 48213,
    bytes: 7340032,
    findings: 4,
    incidents: 1,
    bySeverity: { critical: 0, error: 3, warning: 0, info: 1 },
    skipped: [{ path: "var/log/nova/nova-compute.log.2.gz", reason: "truncated gzip stream after 1.2 MB; earlier lines were scanned" }],
    truncatedLines: 0,
    suppressed: 0,
  },
  findings: [NO_VALID_HOST, SERVICE_DOWN, DISK_DENIED, UNMATCHED],
  incidents: [
    {
      id: "incident-1",
      requestIds: [REQ],
      instanceIds: [INSTANCE],
      findings: [NO_VALID_HOST.id, SERVICE_DOWN.id],
      rootCause: SERVICE_DOWN.id,
      summary: "nova-compute on compute-2 stopped reporting, so the scheduler had no host for the build",
    },
  ],
};

const CTX: ReportContext = {
  rules: RULES,
  toolVersion: "0.1.0",
  failOn: "error",
  colorLevel: 0,
  language: "en",
  inputs: ["sosreport-controller-0/"],
};

describe("formatJson", () => {
  // Written a finding at a time; the text must still be exactly what JSON.stringify(report, null, 2) gives.
  const canonical = (text: string) => `${JSON.stringify(JSON.parse(text), null, 2)}\n`;
  const related = { path: "nova-api.log", line: 3, host: "controller-0", component: "nova-api", timestamp: "2024-03-12T14:00:59.001", level: "INFO", message: '10.0.0.5 "POST /v2.1/servers" status: 202' };
  const empty: ScanResult = { ...RESULT, findings: [], incidents: [], summary: { ...RESULT.summary, findings: 0, incidents: 0, skipped: [] } };
  const withRelated: ScanResult = { ...RESULT, findings: [{ ...NO_VALID_HOST, related: [related, { ...related, line: 4 }] }, UNMATCHED] };

  for (const [name, result] of [["no findings", empty], ["findings, related lines and an incident", RESULT], ["related lines and a multi-line message", withRelated]] as const) {
    it(`is JSON.stringify's two-space text, key order kept, with ${name}`, () => {
      const text = formatJson(result);
      expect(text).toBe(canonical(text));
      expect(JSON.parse(text)).toMatchObject({ schemaVersion: 1, findings: result.findings.map((f) => ({ id: f.id, line: f.line, related: f.related })), incidents: result.incidents });
    });
  }
});

describe("formatSarif", () => {
  const validate = sarifValidator();

  const sarif = (result: ScanResult = RESULT, ctx: ReportContext = CTX) => JSON.parse(formatSarif(result, ctx));

  it("validates against the SARIF 2.1.0 schema", () => {
    const log = sarif();
    const isValid = validate(log);
    expect(validate.errors ?? []).toEqual([]);
    expect(isValid).toBe(true);
    expect(log.$schema).toBe("https://json.schemastore.org/sarif-2.1.0.json");
    expect(log.version).toBe("2.1.0");
    expect(log.runs).toHaveLength(1);
  });

  it("still validates with no findings, odd paths and a zh-CN run", () => {
    const odd = finding({ id: "f-odd", ruleId: "request-lost", title: "请求丢失", path: "C:\\logs\\nova 1.log", line: 0, severity: "warning" });
    const stdin = finding({ id: "f-stdin", ruleId: "service-silent", path: "/var/log/nova/nova-compute.log", line: 3 });
    const empty = { ...RESULT, findings: [], incidents: [], summary: { ...RESULT.summary, skipped: [], truncatedLines: 12 } };
    for (const result of [empty, { ...RESULT, language: "zh-CN" as const, findings: [odd, stdin] }]) {
      const isValid = validate(sarif(result, { ...CTX, language: result.language }));
      expect(validate.errors ?? []).toEqual([]);
      expect(isValid).toBe(true);
    }
  });

  it("describes every rule that ran, with its help link and level", () => {
    const { rules } = sarif().runs[0].tool.driver;
    expect(rules.map((rule: { id: string }) => rule.id)).toEqual([...RULES.map((rule) => rule.id), "unmatched-error"]);
    expect(rules[0]).toMatchObject({
      id: "nova-no-valid-host",
      name: "NovaNoValidHost",
      shortDescription: { text: "The scheduler found no valid host for the request" },
      helpUri: "https://docs.openstack.org/nova/latest/admin/scheduling.html",
      defaultConfiguration: { level: "error" },
      properties: { tags: ["nova", "service"] },
    });
    expect(rules[0].help.text).toContain("openstack compute service list --service nova-compute");
    expect(rules[0].fullDescription.text).toContain("whether a filter or Placement removed the last one");
    expect(rules[3].defaultConfiguration.level).toBe("warning");
    expect(rules[3]).not.toHaveProperty("helpUri");
    // The built-in kind gets a descriptor of its own, from the finding.
    expect(rules[4]).toMatchObject({ id: "unmatched-error", defaultConfiguration: { level: "note" }, properties: { tags: ["built-in", "correlator"] } });
  });

  it("puts each finding at its file and line, pointing at its rule", () => {
    const run = sarif().runs[0];
    const [noValidHost, , diskDenied] = run.results;
    expect(noValidHost).toMatchObject({
      ruleId: "nova-no-valid-host",
      ruleIndex: 0,
      level: "error",
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: "var/log/nova/nova-conductor.log", uriBaseId: "SRCROOT" },
            region: { startLine: 412 },
          },
        },
      ],
      relatedLocations: [
        { physicalLocation: { artifactLocation: { uri: "var/log/nova/nova-scheduler.log" }, region: { startLine: 2291 } } },
      ],
      properties: { host: "controller-0", component: "nova-conductor", count: 1, requestIds: [REQ], instanceIds: [INSTANCE], incidentId: "incident-1", isRootCause: false },
    });
    expect(noValidHost.message.text).toBe(
      "The scheduler found no valid host for the request: Failed to compute_task_build_instances: No valid host was found. There are not enough hosts available.",
    );
    expect(run.tool.driver.rules[diskDenied.ruleIndex].id).toBe("libvirt-disk-permission-denied");
    expect(run.results[1].properties).toMatchObject({ incidentId: "incident-1", isRootCause: true });
    expect(run.properties.incidents).toEqual([expect.objectContaining({ id: "incident-1", rootCause: "f-service-down", rootCauseRuleId: "nova-compute-service-down" })]);
    expect(run.originalUriBaseIds.SRCROOT.description.text).toContain("sosreport-controller-0/");
  });

  it("escapes paths into URIs with forward slashes", () => {
    const run = sarif({ ...RESULT, findings: [finding({ id: "f", ruleId: "nova-no-valid-host", path: "sos report\\var\\log\\nova#1.log" })], incidents: [] }).runs[0];
    expect(run.results[0].locations[0].physicalLocation.artifactLocation.uri).toBe("sos%20report/var/log/nova%231.log");
  });

  it("reports skipped inputs as warnings of a run that still succeeded", () => {
    const [invocation] = sarif().runs[0].invocations;
    expect(invocation.executionSuccessful).toBe(true);
    expect(invocation.toolExecutionNotifications).toEqual([
      expect.objectContaining({
        level: "warning",
        message: { text: "var/log/nova/nova-compute.log.2.gz: truncated gzip stream after 1.2 MB; earlier lines were scanned" },
      }),
    ]);
  });

  describe("fingerprints", () => {
    const print = (f: Finding): string => sarif({ ...RESULT, findings: [f], incidents: [] }).runs[0].results[0].partialFingerprints[FINGERPRINT_KEY];
    const before = finding({
      id: "a",
      ruleId: "libvirt-disk-permission-denied",
      host: "compute-1",
      component: "libvirtd",
      path: "var/log/libvirt/libvirtd.log",
      line: 88,
      message: `2024-03-12 14:01:02.112+0000: 2411: error : qemuProcessReportLogError:1914 : internal error: qemu unexpectedly closed the monitor: 2024-03-12T14:01:02.088417Z qemu-kvm: Could not open '/var/lib/nova/instances/${INSTANCE}/disk': Permission denied [${REQ}]`,
    });
    // The next day: another line, another time, pid, request and instance; the same failure.
    const after = {
      ...before,
      id: "b",
      line: 5120,
      timestamp: "2024-03-13T02:44:10.009",
      message: `2024-03-13 02:44:10.009+0000: 3170: error : qemuProcessReportLogError:1914 : internal error: qemu unexpectedly closed the monitor: 2024-03-13T02:44:09.976310Z qemu-kvm: Could not open '/var/lib/nova/instances/9c720758-2f1e-4a43-8f37-d5f0c1b7a3e2/disk': Permission denied [req-db4bd5bb-49e0-415e-8564-8a4c7bdc8a91]`,
    };

    it("stay the same when only lines, times and ids change", () => {
      expect(print(after)).toBe(print(before));
      expect(print(before)).toMatch(/^[0-9a-f]{64}$/);
      expect(fingerprint(after)).toBe(fingerprint(before));
    });

    it("differ when the rule, the host or the message differs", () => {
      const printed = new Set([
        print(before),
        print({ ...before, ruleId: "nova-no-valid-host" }),
        print({ ...before, host: "compute-2" }),
        print({ ...before, message: before.message.replace("Permission denied", "No such file or directory") }),
      ]);
      expect(printed.size).toBe(4);
    });

    it("tell two named hosts apart in a message", () => {
      const down = (host: string) => ({ ...SERVICE_DOWN, message: SERVICE_DOWN.message.replaceAll("compute-2", host) });
      expect(fingerprint(down("compute-12"))).not.toBe(fingerprint(down("compute-2")));
      expect(fingerprint({ ...SERVICE_DOWN, message: SERVICE_DOWN.message.replace("31488MB", "1024MB") })).toBe(fingerprint(SERVICE_DOWN));
    });
  });
});

const childrenNamed = (element: XmlElement, name: string): XmlElement[] => element.children.filter((child) => child.name === name);

describe("formatJunit", () => {
  const junit = (result: ScanResult = RESULT, ctx: ReportContext = CTX) => parseXml(formatJunit(result, ctx));

  it("lists every rule as a test case on every host, so passing rules show", () => {
    const suites = junit();
    expect(suites.name).toBe("testsuites");
    expect(suites.attributes).toMatchObject({ name: "cloudtriage" });
    const testsuites = childrenNamed(suites, "testsuite");
    expect(testsuites.map((suite) => suite.attributes.name)).toEqual(["compute-1", "controller-0", "unknown-host"]);
    const controller = testsuites[1]!;
    expect(childrenNamed(controller, "testcase").map((testCase) => testCase.attributes.name)).toEqual([
      "nova-no-valid-host: The scheduler found no valid host for the request",
      "nova-compute-service-down: A nova-compute service stopped reporting to the scheduler",
      "libvirt-disk-permission-denied: QEMU could not open a disk image: permission denied",
      "nova-build-rescheduled: An instance build failed on one host and was rescheduled",
      "unmatched-error: An ERROR line no rule explains",
    ]);
    expect(childrenNamed(controller, "testcase").every((testCase) => testCase.attributes.classname === "cloudtriage.controller-0")).toBe(true);
    // 3 hosts × 5 rules; three cases fail: two on controller-0, one on compute-1.
    expect(suites.attributes).toMatchObject({ tests: "15", failures: "3" });
    expect(controller.attributes).toMatchObject({ tests: "5", failures: "2" });
  });

  it("puts one failure per finding at or above --fail-on in its case", () => {
    const failures = (xml: XmlElement) =>
      Object.fromEntries(
        childrenNamed(xml, "testsuite").flatMap((suite) =>
          childrenNamed(suite, "testcase").map((testCase) => [`${suite.attributes.name} ${testCase.attributes.name?.split(":")[0]}`, childrenNamed(testCase, "failure").length]),
        ),
      );
    const twice = { ...RESULT, findings: [...RESULT.findings, { ...NO_VALID_HOST, id: "f-again", line: 977 }] };
    const counts = failures(junit(twice));
    expect(counts["controller-0 nova-no-valid-host"]).toBe(2);
    expect(counts["controller-0 nova-compute-service-down"]).toBe(1);
    expect(counts["compute-1 libvirt-disk-permission-denied"]).toBe(1);
    expect(counts["compute-1 nova-no-valid-host"]).toBe(0);
    expect(counts["unknown-host unmatched-error"]).toBe(0);

    const failure = childrenNamed(childrenNamed(childrenNamed(junit(), "testsuite")[1]!, "testcase")[0]!, "failure")[0]!;
    expect(failure.attributes.type).toBe("error");
    expect(failure.text).toContain("var/log/nova/nova-conductor.log:412");
    expect(failure.text).toContain("No valid host was found. There are not enough hosts available.");
    expect(failure.text).toContain("openstack compute service list --service nova-compute");
  });

  it("keeps findings below --fail-on as passed cases with the finding in system-out", () => {
    const unknown = childrenNamed(junit(), "testsuite")[2]!;
    const unmatched = childrenNamed(unknown, "testcase").find((testCase) => testCase.attributes.name?.startsWith("unmatched-error"))!;
    expect(childrenNamed(unmatched, "failure")).toHaveLength(0);
    expect(childrenNamed(unmatched, "system-out")[0]?.text).toContain("info nova-api.log:7: Unexpected exception in API method");

    expect(junit(RESULT, { ...CTX, failOn: "never" }).attributes.failures).toBe("0");
    expect(junit(RESULT, { ...CTX, failOn: "info" }).attributes.failures).toBe("4");
  });

  it("lists every rule as passed on a clean scan", () => {
    const clean = junit({ ...RESULT, findings: [], incidents: [] });
    expect(clean.attributes).toMatchObject({ tests: "4", failures: "0" });
    expect(childrenNamed(clean, "testsuite").map((suite) => suite.attributes.name)).toEqual(["all-hosts"]);
  });

  it("escapes markup, quotes and characters XML 1.0 forbids", () => {
    const nasty = finding({
      id: "f-nasty",
      ruleId: "nova-no-valid-host",
      host: 'ctl"<0>&',
      path: "var/log/nova/nova-conductor.log",
      line: 9,
      // oslo.log's colour formatter writes ANSI codes; the traceback names <module>; and "]]>" ends CDATA.
      message: "\u001b[01;31mERROR\u001b[00m Failed in <module> & \"x\" ]]> tab\there\u0000\uFFFF\uD800end",
    });
    const xml = formatJunit({ ...RESULT, findings: [nasty], incidents: [] }, CTX);
    const suite = childrenNamed(parseXml(xml), "testsuite")[0]!;
    expect(suite.attributes.name).toBe('ctl"<0>&');
    const failure = childrenNamed(childrenNamed(suite, "testcase")[0]!, "failure")[0]!;
    expect(failure.text).toContain('\\x1b[01;31mERROR\\x1b[00m Failed in <module> & "x" ]]> tab\there\\x00\\uFFFF\uFFFDend');
    expect(failure.attributes.message).toContain("Failed in <module> & \"x\" ]]>");
  });
});

describe("formatMarkdown", () => {
  const markdown = formatMarkdown(RESULT, CTX);

  it("opens with the counts and the verdict", () => {
    const [title, , line] = markdown.split("\n");
    expect(title).toBe("## cloudtriage: 4 findings (3 error, 1 info)");
    expect(line).toBe("6 files, 48,213 lines scanned · 1 incident · 1 input skipped. **Failed**: 3 findings at or above `error`.");
    expect(markdown).not.toContain("\u001b");
  });

  it("shows incidents first, root cause before symptoms", () => {
    const incidents = markdown.indexOf("### Incidents");
    const table = markdown.indexOf("| Severity |");
    expect(incidents).toBeGreaterThan(0);
    expect(incidents).toBeLessThan(table);
    expect(markdown).toContain("#### 1. A nova-compute service stopped reporting to the scheduler");
    expect(markdown).toContain("**Root cause** error `nova-compute-service-down` on `controller-0` / `nova-scheduler` at `var/log/nova/nova-scheduler.log:2288`");
    expect(markdown).toContain("- error `nova-no-valid-host` on `controller-0` at `var/log/nova/nova-conductor.log:412`: Failed to compute\\_task\\_build\\_instances");
    // Findings inside the incident are not repeated in the table.
    expect(markdown.slice(table)).not.toContain("nova-no-valid-host");
  });

  it("lists other findings in a table whose cells cannot break it", () => {
    const rows = markdown.split("\n").filter((line) => line.startsWith("| "));
    // The header, its separator and two rows.
    expect(rows).toHaveLength(4);
    const unmatched = rows.find((row) => row.includes("unmatched-error"))!;
    // Unescaped pipes are the column separators only: 6 cells, 7 pipes.
    expect(unmatched.replace(/\\\|/g, "").split("|")).toHaveLength(8);
    expect(unmatched).toContain("for \\|: 'dict' and 'dict' Traceback");
    expect(unmatched).toContain("| - | `nova-api.log:7` | 1 |");
    const cell = unmatched.split(" | ").at(-1)!;
    expect([...cell.replace(/\\(.)/g, "$1").replace(/ \|$/, "")].length).toBeLessThanOrEqual(120);

    const backticks = formatMarkdown(
      {
        ...RESULT,
        incidents: [],
        findings: [
          finding({
            id: "db",
            ruleId: "unmatched-error",
            severity: "info",
            path: "var/log/nova/nova-conductor.log",
            line: 30,
            message:
              "IntegrityError: (1452, 'Cannot add or update a child row: a foreign key constraint fails (`nova`.`instance_extra`, CONSTRAINT `instance_extra_instance_uuid_fkey`)')\nsecond line",
          }),
        ],
      },
      CTX,
    );
    const row = backticks.split("\n").find((line) => line.includes("IntegrityError"))!;
    expect(row).toContain("(\\`nova\\`.\\`instance\\_extra\\`, CONS…");
    expect(row).not.toContain("\n");
  });

  it("ends with the skipped inputs", () => {
    expect(markdown.trimEnd().split("\n").slice(-3)).toEqual([
      "### Skipped inputs (1)",
      "",
      "- `var/log/nova/nova-compute.log.2.gz`: truncated gzip stream after 1.2 MB; earlier lines were scanned",
    ]);
  });

  it("says so when there is nothing to report", () => {
    const clean = formatMarkdown({ ...RESULT, findings: [], incidents: [], summary: { ...RESULT.summary, findings: 0, incidents: 0, bySeverity: { critical: 0, error: 0, warning: 0, info: 0 }, skipped: [] } }, CTX);
    expect(clean).toBe("## cloudtriage: no findings\n\n6 files, 48,213 lines scanned. **Passed**: nothing at or above `error`.\n");
  });
});
