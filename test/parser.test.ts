// Parsers: every format the reference documents, with exact line numbers and folded multi-line records.
import { describe, expect, it } from "vitest";
import { parseRecords } from "../src/parser/parse-text.js";

const conductorTraceback = [
  "2024-03-12 10:15:39.001 2744 INFO nova.conductor.manager [None req-0c4f9e3d-0a57-4b41-8f46-1c3e5d7f9a01 - - default default] Scheduling instance",
  "2024-03-12 10:15:40.027 2744 ERROR nova.conductor.manager [None req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 6f2b0c9e8d7a4b1c9e5f3a2d1c0b9a8e 3c4d5e6f7a8b4c9d8e7f6a5b4c3d2e1f - - default default] Failed to schedule instances: nova.exception_Remote.NoValidHost_Remote: No valid host was found. There are not enough hosts available.",
  "Traceback (most recent call last):",
  "",
  '  File "/usr/lib/python3.9/site-packages/oslo_messaging/rpc/server.py", line 244, in inner',
  "    return func(*args, **kwargs)",
  "nova.exception.NoValidHost: No valid host was found. There are not enough hosts available.",
  "",
  "2024-03-12 10:15:40.027 2744 ERROR nova.conductor.manager Traceback (most recent call last):",
  '2024-03-12 10:15:40.027 2744 ERROR nova.conductor.manager   File "/usr/lib/python3.9/site-packages/nova/conductor/manager.py", line 1654, in schedule_and_build_instances',
  "2024-03-12 10:15:40.027 2744 ERROR nova.conductor.manager nova.exception_Remote.NoValidHost_Remote: No valid host was found. There are not enough hosts available.",
  "2024-03-12 10:15:40.027 2744 ERROR nova.conductor.manager ",
  "2024-03-12 10:15:40.121 2744 WARNING nova.scheduler.utils [None req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 - - default default] [instance: 4f75fd35-c53c-4feb-90bf-391996dee667] Setting instance to ERROR state.",
].join("\n");

describe("oslo.log", () => {
  it("folds a conductor traceback, unprefixed remote lines included, into one record with the first line's number", () => {
    const records = parseRecords(conductorTraceback, "var/log/nova/nova-conductor.log");
    expect(records.map((r) => [r.line, r.endLine])).toEqual([
      [1, 1],
      [2, 12],
      [13, 13],
    ]);
    const failure = records[1]!;
    expect(failure.level).toBe("ERROR");
    expect(failure.component).toBe("nova-conductor");
    expect(failure.logger).toBe("nova.conductor.manager");
    expect(failure.pid).toBe(2744);
    expect(failure.timestamp).toBe("2024-03-12T10:15:40.027");
    expect(failure.requestIds).toEqual(["req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27"]);
    expect(failure.globalRequestId).toBeNull();
    expect(failure.message.split("\n")).toContain("nova.exception.NoValidHost: No valid host was found. There are not enough hosts available.");
    // Continuation lines lose the "ts pid ERROR logger" prefix.
    expect(failure.message).toContain("\nTraceback (most recent call last):\n");
    expect(records[2]!.instanceIds).toEqual(["4f75fd35-c53c-4feb-90bf-391996dee667"]);
    expect(records[2]!.message).toBe("Setting instance to ERROR state.");
  });

  it("keeps line numbers when the same text arrives in 7-byte chunks", () => {
    const whole = parseRecords(conductorTraceback, "var/log/nova/nova-conductor.log");
    const pieces = parseRecords(conductorTraceback, "var/log/nova/nova-conductor.log", { chunkBytes: 7 });
    expect(pieces.map((r) => [r.line, r.endLine, r.message])).toEqual(whole.map((r) => [r.line, r.endLine, r.message]));
  });

  it("reads every bracket generation: Icehouse, Juno–Yoga, Zed+ with a global id, and [-]", () => {
    const text = [
      "2014-04-16 21:48:04.492 18457 INFO nova.compute.manager [req-a83244ba-2171-44c4-a8a0-e506b869e6ee None None] Icehouse",
      "2015-06-11 12:05:03.111 3011 INFO nova.osapi_compute.wsgi.server [req-473467af-2a5d-4b0c-9a61-38e2f0f4f5e1 415b597bda074b30a90d8cb3b9fd92ec e914019c03814ded9911e9718ff69977 - - -] Juno",
      "2024-03-12 10:15:38.001 1877 INFO nova.api.openstack.requestlog [req-9f0e1d2c-3b4a-4c5d-8e6f-7a8b9c0d1e2f req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 6f2b0c9e8d7a4b1c9e5f3a2d1c0b9a8e 3c4d5e6f7a8b4c9d8e7f6a5b4c3d2e1f - - default default] 10.0.0.5 \"POST /v2.1/servers\" status: 202 len: 410 microversion: 2.79 time: 0.412345",
      "2024-03-12 10:15:38.500 2210 INFO nova.service [-] Starting scheduler node",
      "2024-03-12 10:15:38.600 2210 DEBUG oslo_concurrency.lockutils [None req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 - - - - - -] Lock \"compute_resources\" acquired inner /usr/lib/python3.9/site-packages/oslo_concurrency/lockutils.py:390",
    ].join("\n");
    const [ice, juno, zed, dash, debug] = parseRecords(text, "var/log/nova/nova-api.log");
    expect(ice!.requestIds).toEqual(["req-a83244ba-2171-44c4-a8a0-e506b869e6ee"]);
    expect(ice!.message).toBe("Icehouse");
    expect(juno!.requestIds).toEqual(["req-473467af-2a5d-4b0c-9a61-38e2f0f4f5e1"]);
    expect(zed!.requestIds).toEqual(["req-9f0e1d2c-3b4a-4c5d-8e6f-7a8b9c0d1e2f", "req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27"]);
    expect(zed!.globalRequestId).toBe("req-9f0e1d2c-3b4a-4c5d-8e6f-7a8b9c0d1e2f");
    expect(dash!.requestIds).toEqual([]);
    expect(dash!.message).toBe("Starting scheduler node");
    // The DEBUG suffix "funcName path:line" is not part of the message.
    expect(debug!.message).toBe('Lock "compute_resources" acquired');
  });

  it("folds the old TRACE prefix into the record it belongs to", () => {
    const text = [
      "2017-05-25 11:01:29.577 21880 ERROR nova.compute.manager [req-e21fdda8-7c6c-47d7-9137-0eaed3fc7c7c 5976e07fd29649a383023e80b50e1e9e 3090c353f4104643a1e4fbe8c96e23ba - - -] [instance: 2c5a8e62-62d0-430d-8747-795350bb6939] Instance failed to spawn",
      "2017-05-25 11:01:29.577 21880 TRACE nova.compute.manager [instance: 2c5a8e62-62d0-430d-8747-795350bb6939] Traceback (most recent call last):",
      "2017-05-25 11:01:29.577 21880 TRACE nova.compute.manager [instance: 2c5a8e62-62d0-430d-8747-795350bb6939] ProcessExecutionError: Unexpected error while running command.",
      "2017-05-25 11:01:29.577 21880 TRACE nova.compute.manager [instance: 2c5a8e62-62d0-430d-8747-795350bb6939] Stderr: u'qemu-img: error while writing sector 1569792: No space left on device\\n'",
      "2017-05-25 11:01:30.001 21880 INFO nova.compute.manager [req-e21fdda8-7c6c-47d7-9137-0eaed3fc7c7c - - - - -] next",
    ].join("\n");
    const records = parseRecords(text, "var/log/nova/nova-compute.log");
    expect(records.map((r) => [r.line, r.endLine])).toEqual([
      [1, 4],
      [5, 5],
    ]);
    expect(records[0]!.message).toContain("Stderr: u'qemu-img: error while writing sector 1569792: No space left on device");
    expect(records[0]!.instanceIds).toEqual(["2c5a8e62-62d0-430d-8747-795350bb6939"]);
  });

  it("decodes \\u escapes in messages for matching and display", () => {
    const [r] = parseRecords('2024-03-12 10:15:38.001 1877 DEBUG nova.api.openstack.wsgi [None req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 - - - - - -] Action: \'create\', body: {"server": {"name": "\\u6d4b\\u8bd5"}}', "var/log/nova/nova-api.log");
    expect(r!.message).toContain('"name": "测试"');
  });

  it("counts CRLF, invalid UTF-8 and a blank line without shifting line numbers", () => {
    const bytes = Buffer.concat([
      Buffer.from("2024-03-12 10:00:00.000 1 INFO nova.a [-] one\r\n"),
      Buffer.from([0x32, 0x30, 0x32, 0x34]),
      Buffer.from("-03-12 10:00:01.000 1 INFO nova.a [-] bad \xff\xfe bytes\n".replace(/\xff\xfe/, ""), "latin1"),
      Buffer.from([0xff, 0xfe, 0x0a]),
      Buffer.from("\n2024-03-12 10:00:02.000 1 ERROR nova.a [-] three\n"),
    ]);
    const records = parseRecords(bytes, "var/log/nova/nova-api.log");
    const last = records[records.length - 1]!;
    expect(last.line).toBe(5);
    expect(last.message).toBe("three");
    expect(records[0]!.message).toBe("one");
  });
});

describe("libvirt and QEMU", () => {
  it("reads libvirtd's log with its preamble and keeps unprefixed qemu stderr in the error record", () => {
    const text = [
      "2024-03-12 10:15:20.001+0000: 3310: info : libvirt version: 8.0.0, package: 1ubuntu7.8",
      "2024-03-12 10:15:20.001+0000: 3310: info : hostname: compute-1",
      "2024-03-12 10:15:41.912+0000: 3315: error : qemuProcessReportLogError:1914 : internal error: qemu unexpectedly closed the monitor: 2024-03-12T10:15:41.901233Z qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory",
      "2024-03-12T10:15:41.905000Z qemu-system-x86_64: -object memory-backend-ram,id=pc.ram,size=68719476736: cannot set up guest memory 'pc.ram': Cannot allocate memory",
      "2024-03-12 10:16:00.000+0000: 3310: warning : virSecurityDACSetOwnership:123 : something",
    ].join("\n");
    const records = parseRecords(text, "var/log/libvirt/libvirtd.log");
    expect(records.map((r) => r.line)).toEqual([1, 2, 3, 5]);
    expect(records[1]!.host).toBe("compute-1");
    expect(records[2]!.level).toBe("ERROR");
    expect(records[2]!.logger).toBe("qemuProcessReportLogError");
    expect(records[2]!.timestamp).toBe("2024-03-12T10:15:41.912Z");
    expect(records[2]!.endLine).toBe(4);
    expect(records[2]!.component).toBe("libvirtd");
    expect(records[3]!.level).toBe("WARNING");
  });

  it("reads the old libvirt layout without a date", () => {
    const [r] = parseRecords("10:00:01.123: 2411: error : qemudStartVMDaemon:3002 : internal error no supported architecture for os type 'hvm'", "var/log/libvirt/libvirtd.log");
    expect(r!.level).toBe("ERROR");
    expect(r!.message).toBe("internal error no supported architecture for os type 'hvm'");
  });

  it("folds a domain log's command line and takes the instance UUID from -uuid", () => {
    const text = [
      "2024-03-12 10:15:41.100+0000: starting up libvirt version: 8.0.0, qemu version: 6.2.0, kernel: 5.15.0-91-generic, hostname: compute-1.example.com",
      "LC_ALL=C \\",
      "/usr/bin/qemu-system-x86_64 \\",
      "-name guest=instance-0000000a,debug-threads=on \\",
      "-uuid 4f75fd35-c53c-4feb-90bf-391996dee667 \\",
      "-msg timestamp=on",
      "2024-03-12T10:15:41.901233Z qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory",
      "2024-03-12 10:15:41.950+0000: shutting down, reason=failed",
    ].join("\n");
    const records = parseRecords(text, "var/log/libvirt/qemu/instance-0000000a.log");
    expect(records.map((r) => [r.line, r.endLine])).toEqual([
      [1, 6],
      [7, 7],
      [8, 8],
    ]);
    expect(records[0]!.component).toBe("qemu");
    expect(records[0]!.host).toBe("compute-1");
    expect(records[1]!.timestamp).toBe("2024-03-12T10:15:41.901233Z");
    expect(records[2]!.message).toBe("shutting down, reason=failed");
  });
});

describe("journald", () => {
  it("reads short output, parses an inner oslo line and folds its traceback lines", () => {
    const text = [
      "-- Logs begin at Fri 2024-03-08 09:34:04 UTC, end at Tue 2024-03-12 16:19:19 UTC. --",
      "Mar 12 10:15:42 compute-1 nova-compute[2741]: 2024-03-12 10:15:42.318 2741 ERROR nova.compute.manager [None req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 - - default default] [instance: 4f75fd35-c53c-4feb-90bf-391996dee667] Instance failed to spawn: libvirt.libvirtError: internal error",
      "Mar 12 10:15:42 compute-1 nova-compute[2741]: 2024-03-12 10:15:42.318 2741 ERROR nova.compute.manager [instance: 4f75fd35-c53c-4feb-90bf-391996dee667] Traceback (most recent call last):",
      "Mar 12 10:15:42 compute-1 nova-compute[2741]: 2024-03-12 10:15:42.318 2741 ERROR nova.compute.manager [instance: 4f75fd35-c53c-4feb-90bf-391996dee667] libvirt.libvirtError: internal error",
      "Mar 12 10:15:43 compute-1 libvirtd[3310]: Secret not found: no secret with matching uuid '457eb676-33da-42ec-9a8c-9293d545c337'",
    ].join("\n");
    const records = parseRecords(text, "journal.txt", { referenceMs: Date.UTC(2024, 5, 1) });
    expect(records.map((r) => [r.line, r.endLine])).toEqual([
      [1, 1],
      [2, 4],
      [5, 5],
    ]);
    const nova = records[1]!;
    expect(nova.host).toBe("compute-1");
    expect(nova.component).toBe("nova-compute");
    expect(nova.level).toBe("ERROR");
    expect(nova.logger).toBe("nova.compute.manager");
    expect(nova.requestIds).toEqual(["req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27"]);
    expect(nova.timestamp).toBe("2024-03-12T10:15:42.318");
    expect(records[2]!.component).toBe("libvirtd");
    expect(records[2]!.timestamp).toBe("2024-03-12T10:15:43");
  });

  it("reads short-iso and short-precise", () => {
    const text = ["2022-02-04T09:42:51+0000 compute4 libvirtd[29261]: hostname: compute4", "2022-02-04T09:42:52+00:00 compute4 nova-compute[29295]: started"].join("\n");
    const [a, b] = parseRecords(text, "journal.txt");
    expect(a!.timestamp).toBe("2022-02-04T09:42:51Z");
    expect(b!.component).toBe("nova-compute");
    const [p] = parseRecords("Feb 04 09:42:51.603128 compute4 libvirtd[29261]: hostname: compute4", "journal.txt", { referenceMs: Date.UTC(2022, 5, 1) });
    expect(p!.timestamp).toBe("2022-02-04T09:42:51.603128");
  });

  it("reads -o json with MESSAGE as a string or a byte array, and the unit, host and priority", () => {
    const message = "2024-03-12 10:15:42.318 2741 ERROR nova.compute.manager [None req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 - - default default] 云主机 failed";
    const text = [
      JSON.stringify({ __REALTIME_TIMESTAMP: "1710238542318000", _HOSTNAME: "compute-4", _SYSTEMD_UNIT: "openstack-nova-compute.service", _PID: "2741", PRIORITY: "3", MESSAGE: [...Buffer.from(message)] }),
      JSON.stringify({ __REALTIME_TIMESTAMP: "1710238543000000", _HOSTNAME: "compute-4", _SYSTEMD_UNIT: "libvirtd.service", _COMM: "libvirtd", _PID: "3310", PRIORITY: "3", MESSAGE: "internal error: qemu unexpectedly closed the monitor" }),
    ].join("\n");
    const [a, b] = parseRecords(text, "journal.json");
    expect(a!.host).toBe("compute-4");
    expect(a!.component).toBe("nova-compute");
    expect(a!.message).toBe("云主机 failed");
    expect(a!.requestIds).toEqual(["req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27"]);
    expect(b!.level).toBe("ERROR");
    expect(b!.component).toBe("libvirtd");
    expect(b!.timestamp).toBe("2024-03-12T10:15:43.000Z");
  });
});

describe("other formats", () => {
  it("reads a ZStack management-server.log line and folds its Java stack trace", () => {
    const text = [
      "2024-05-01 10:00:00,123 WARN  [KVMHost] {api=3f2c0e3d8b2a4c6e9f1a2b3c4d5e6f70} (zs-thread-42) connection error",
      "org.zstack.header.errorcode.OperationFailureException: cannot find either 'vmx' or 'svm' in /proc/cpuinfo",
      "\tat org.zstack.kvm.KVMHost$34.run(KVMHost.java:3125)",
      "2024-05-01 10:00:01,000 INFO  [ApiMediator] {} (zs-thread-43) next",
    ].join("\n");
    const records = parseRecords(text, "usr/local/zstack/apache-tomcat/logs/management-server.log");
    expect(records.map((r) => [r.line, r.endLine])).toEqual([
      [1, 3],
      [4, 4],
    ]);
    expect(records[0]!.level).toBe("WARNING");
    expect(records[0]!.logger).toBe("KVMHost");
    expect(records[0]!.component).toBe("zstack-management");
  });

  it("reads the kvmagent log", () => {
    const [r] = parseRecords("2024-05-01 10:00:00,123 139876543210 WARNING [vm_plugin] unable to migrate vm[uuid:5c0f2a4e6b8d4f01a3c5e7f9b1d3f5a7] to qemu+tcp://10.0.0.2/system", "var/log/zstack/zstack-kvmagent.log");
    expect(r!.level).toBe("WARNING");
    expect(r!.instanceIds).toEqual(["5c0f2a4e6b8d4f01a3c5e7f9b1d3f5a7"]);
  });

  it("reads Apache httpd's error log and the Python level mod_wsgi carries", () => {
    const [r] = parseRecords("[Tue Mar 12 17:00:00.123456 2024] [wsgi:error] [pid 1422:tid 140187654321408] [remote 10.0.0.5:51234] WARNING horizon.exceptions Recoverable error: Invalid service catalog: network", "var/log/httpd/horizon_error.log");
    expect(r!.level).toBe("WARNING");
    expect(r!.logger).toBe("horizon.exceptions");
    expect(r!.component).toBe("horizon");
    expect(r!.message).toBe("Recoverable error: Invalid service catalog: network");
    expect(r!.timestamp).toBe("2024-03-12T17:00:00.123456");
  });

  it("reads classic syslog with a space-padded day", () => {
    const [r] = parseRecords("May  8 20:22:34 controller0 httpd[4499]: (13)Permission denied: AH00072: make_sock: could not bind to address [::]:5000", "var/log/messages", { referenceMs: Date.UTC(2016, 11, 1) });
    expect(r!.host).toBe("controller0");
    expect(r!.component).toBe("httpd");
    expect(r!.timestamp).toBe("2016-05-08T20:22:34");
  });
});

describe("components", () => {
  it("come from the path in every layout, the journal unit, or the QEMU folder", async () => {
    const { componentFromPath, componentFromUnit } = await import("../src/parser/fields.js");
    expect(componentFromPath("var/log/nova/nova-compute.log.2.gz")).toBe("nova-compute");
    expect(componentFromPath("var/log/containers/nova/nova-compute.log")).toBe("nova-compute");
    expect(componentFromPath("var/log/kolla/nova/nova-scheduler.log")).toBe("nova-scheduler");
    expect(componentFromPath("var/log/libvirt/libvirtd.log")).toBe("libvirtd");
    expect(componentFromPath("var/log/containers/libvirt/qemu/instance-0000000a.log")).toBe("qemu");
    expect(componentFromPath("var/log/glance/api.log")).toBe("glance-api");
    expect(componentFromPath("var/log/httpd/keystone_wsgi_error.log")).toBe("keystone");
    expect(componentFromPath("sos_strings/nova/var.log.nova.nova-compute.log.tailed")).toBe("nova-compute");
    expect(componentFromPath("usr/local/zstack/apache-tomcat/logs/management-server.log")).toBe("zstack-management");
    expect(componentFromUnit("openstack-nova-compute.service")).toBe("nova-compute");
  });

  it("reads journalctl -o cat (bare messages) by the format of the messages", () => {
    const text = [
      "2024-03-12 10:15:40.121 2744 WARNING nova.scheduler.utils [None req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27 - - default default] Failed to compute_task_build_instances: No valid host was found. ",
      "2024-03-12 10:15:40.122 2744 INFO nova.scheduler.utils [-] next",
    ].join("\n");
    const [r] = parseRecords(text, "journal-cat.txt");
    expect(r!.format).toBe("oslo");
    expect(r!.level).toBe("WARNING");
    expect(r!.requestIds).toEqual(["req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27"]);
  });

  it("reads Sunbeam/pebble pod logs and folds the traceback lines they wrap", () => {
    const text = [
      "2025-05-14T07:10:35.743Z [nova-conductor] 2025-05-14 07:10:35.742 17 ERROR nova.scheduler.client.report [-] Failed to initialize placement client\x1b[00m",
      "2025-05-14T07:10:35.743Z [nova-conductor] 2025-05-14 07:10:35.742 17 ERROR nova.scheduler.client.report Traceback (most recent call last):",
      "2025-05-14T07:10:35.743Z [nova-conductor] 2025-05-14 07:10:35.742 17 ERROR nova.scheduler.client.report   File \"/usr/lib/python3/dist-packages/nova/scheduler/client/report.py\", line 286, in __init__",
      "2025-05-14T07:10:36.000Z [nova-conductor] 2025-05-14 07:10:36.000 17 INFO nova.service [-] Starting conductor node",
    ].join("\n");
    const records = parseRecords(text, "k8s_kubectl_--namespace_openstack_logs_nova-0_-c_nova-conductor");
    expect(records.map((r) => [r.line, r.endLine])).toEqual([
      [1, 3],
      [4, 4],
    ]);
    expect(records[0]!.component).toBe("nova-conductor");
    expect(records[0]!.level).toBe("ERROR");
    expect(records[0]!.message.startsWith("Failed to initialize placement client")).toBe(true);
  });
});
