// The classic troubleshooting walk as findings: a request that vanished, a service that went quiet, an ERROR with no cause.
import type { Language, Severity } from "../model.js";
import type { CollectedFinding } from "../engine/findings.js";
import { hashOfId } from "../parser/assemble.js";
import type { CorrelationInput, SourceInfo } from "./correlate.js";
import { apiCreationPattern } from "./observations.js";
import { readRecordsAt } from "./reread.js";

/** Causal edges of the built-in findings, as rule files declare theirs. */
export const derivedExplains: Record<string, string[]> = {
  "instance-error-without-cause": ["nova-set-instance-error"],
};

interface Text {
  title: Record<Language, string>;
  remediation: Record<Language, string>;
  severity: Severity;
}

const texts: Record<string, Text> = {
  "request-lost": {
    severity: "error",
    title: {
      en: "An API request was accepted but no scheduler, conductor or compute ever logged it",
      "zh-CN": "API 已接受请求，但调度器、conductor 和计算节点都没有记录它",
    },
    remediation: {
      en: "The API put the request on the message queue and nothing picked it up.\n1. Check RabbitMQ: rabbitmqctl cluster_status; rabbitmqctl list_queues name messages consumers | grep -E 'conductor|scheduler'\n2. Check nova-conductor and nova-scheduler are running and connected: openstack compute service list; systemctl status openstack-nova-conductor (or the container)\n3. Look for 'AMQP server … is unreachable' or MessagingTimeout in the API and conductor logs around this time.",
      "zh-CN": "API 已把请求放入消息队列，但没有服务取走它。\n1. 检查 RabbitMQ：rabbitmqctl cluster_status；rabbitmqctl list_queues name messages consumers | grep -E 'conductor|scheduler'\n2. 确认 nova-conductor 和 nova-scheduler 正在运行并已连接：openstack compute service list；systemctl status openstack-nova-conductor（或对应容器）\n3. 在此时间前后的 API 和 conductor 日志中查找 “AMQP server … is unreachable” 或 MessagingTimeout。",
    },
  },
  "service-silent": {
    severity: "warning",
    title: {
      en: "A service stopped logging long before the others",
      "zh-CN": "某个服务比其他服务早很久就停止写日志",
    },
    remediation: {
      en: "A periodic OpenStack service writes lines every minute; this one went quiet, so it is probably hung or dead since its last line.\n1. systemctl status <service> (or docker/podman ps for containers) and its journal: journalctl -u <service> --since '<last time>'\n2. If it is running but silent, take a stack dump (kill -USR2 <pid> for oslo services, written to the log) and restart it.\n3. Check its disk and log rotation: a full /var/log also stops logging.",
      "zh-CN": "周期性运行的 OpenStack 服务每分钟都会写日志；该服务已静默，很可能从最后一行日志起就已挂起或退出。\n1. systemctl status <服务>（容器用 docker/podman ps）并查看日志：journalctl -u <服务> --since '<最后时间>'\n2. 如果进程仍在运行但不写日志，先获取堆栈（oslo 服务可用 kill -USR2 <pid>，输出到日志），然后重启。\n3. 检查磁盘和日志轮转：/var/log 写满也会导致停止记录日志。",
    },
  },
  "instance-error-without-cause": {
    severity: "warning",
    title: {
      en: "An instance went to ERROR but no component logged an error for it",
      "zh-CN": "实例进入 ERROR 状态，但没有任何组件为它记录错误",
    },
    remediation: {
      en: "No log in this capture explains the failure.\n1. openstack server show <uuid> -c fault: the fault often holds the message.\n2. The request may not have reached the API you collected: check the load balancer / VIP and the other API nodes' logs.\n3. Raise logging to debug ([DEFAULT] debug = True) on the API, conductor and compute services and reproduce.",
      "zh-CN": "本次收集的日志都无法解释该故障。\n1. openstack server show <uuid> -c fault：fault 字段通常包含错误信息。\n2. 请求可能没有到达你收集日志的 API 节点：检查负载均衡/VIP 以及其他 API 节点的日志。\n3. 在 API、conductor 和 compute 服务上开启调试日志（[DEFAULT] debug = True）并复现。",
    },
  },
};

/** Services that log on a timer; an API or a CLI log may rightly be quiet for hours. */
const periodic = (component: string | null) => !!component && !/api|wsgi|manage|status|httpd|keystone|horizon|placement|metadata|novncproxy|spicehtml5|rootwrap|privsep|dashboard|access|error/.test(component);
const silenceMs = 3_600_000;
/** A log counts as periodic when it has this many records over at least an hour, in most ten-minute windows. */
const minRecords = 30;
const windowMs = 10 * 60_000;
const minSpanMs = 3_600_000;
const minCoverage = 0.8;
const coverMs = 60_000;

function make(input: CorrelationInput, ruleId: string, finding: Omit<CollectedFinding["finding"], "id" | "ruleId" | "title" | "severity" | "remediation" | "references" | "related" | "count">, time: number | null, sourceIndex: number): CollectedFinding {
  const t = texts[ruleId] as Text;
  return {
    finding: { id: "", ruleId, title: t.title[input.language], severity: t.severity, count: 1, remediation: t.remediation[input.language], references: ["https://docs.openstack.org/nova/latest/admin/support-compute.html"], related: [], ...finding },
    meta: { rule: null, time, sourceIndex, explains: derivedExplains[ruleId] ?? [], layer: "service" },
  };
}

async function requestLost(input: CorrelationInput): Promise<CollectedFinding[]> {
  const requests = input.observations.apiRequests;
  if (requests.length === 0) return [];
  const wanted = new Set<number>();
  requests.addHashesTo(wanted);
  const downstream = (i: number) => /scheduler|conductor|compute/.test(input.sources[i]?.component ?? "");
  const reachedDownstream = await input.index.presentIn(wanted, downstream);
  // Only a capture whose downstream logs go on after the request can say it was lost.
  let downstreamEnd = -Infinity;
  input.sources.forEach((s, i) => {
    if (downstream(i) && s.lastTime !== null) downstreamEnd = Math.max(downstreamEnd, s.lastTime);
  });
  const lost: { time: number; sourceIndex: number; line: number; idHash: number; request: number }[] = [];
  for (let i = 0; i < requests.length; i++) {
    // Most requests reached a service: that is answered from the columns, before the request is unpacked.
    if (reachedDownstream.has(requests.hashOf(i, 0)) || reachedDownstream.has(requests.hashOf(i, 1))) continue;
    const r = requests.get(i);
    if (r.time === null || downstreamEnd < r.time + coverMs) continue;
    lost.push({ time: r.time, sourceIndex: r.sourceIndex, line: r.line, idHash: r.idHashes[0] as number, request: i });
  }
  if (lost.length === 0) return [];
  // The requests were kept as numbers: their lines are read again for the text of the findings.
  const positions = new Map<number, Set<number>>();
  for (const r of lost) {
    const lines = positions.get(r.sourceIndex) ?? new Set<number>();
    lines.add(r.line);
    positions.set(r.sourceIndex, lines);
  }
  const byPlace = new Map((await readRecordsAt(input.sources, positions)).map((r) => [`${r.sourceIndex}:${r.record.line}`, r.record]));
  const creation = new RegExp(apiCreationPattern);
  const out: CollectedFinding[] = [];
  for (const r of lost) {
    const info = input.sources[r.sourceIndex] as SourceInfo;
    const record = byPlace.get(`${r.sourceIndex}:${r.line}`);
    const m = record && record.requestIds.some((id) => hashOfId(id) === r.idHash) ? creation.exec(record.message) : null;
    if (!record || !m?.groups) {
      // The log changed after it was scanned (rotated, truncated): the request is still reported, with what was kept.
      const timestamp = new Date(r.time).toISOString().replace(/Z$/, "");
      out.push(make(input, "request-lost", { component: info.component, host: info.host, path: info.displayPath, line: r.line, timestamp, message: '"POST …/servers" status: 202 (the line changed after the scan read it)', requestIds: [requests.firstIdOf(r.request)], instanceIds: [], fields: { method: "POST", url: "", status: "202" } }, r.time, r.sourceIndex));
      continue;
    }
    const { method = "", url = "", status = "" } = m.groups;
    out.push(
      make(input, "request-lost", { component: record.component, host: record.host ?? info.host, path: info.displayPath, line: r.line, timestamp: record.timestamp, message: `"${method} ${url}" status: ${status}`, requestIds: record.requestIds, instanceIds: [], fields: { method, url, status } }, r.time, r.sourceIndex),
    );
  }
  return out;
}

/**
 * A log that wrote a line every few minutes for its whole life and then stopped an hour or more
 * before the rest of its capture. Rotated-only series are skipped: sosreport drops live files over
 * its size limit, and an old rotation ends early by design.
 */
function serviceSilent(input: CorrelationInput): CollectedFinding[] {
  const newestByTree = new Map<string, number>();
  for (const s of input.sources) {
    if (!s.yearKnown) continue;
    const t = Math.max(s.lastTime ?? -Infinity, s.captureTime ?? -Infinity);
    if (Number.isFinite(t)) newestByTree.set(s.treeKey, Math.max(newestByTree.get(s.treeKey) ?? -Infinity, t));
  }
  const byComponent = new Map<string, number[]>();
  input.sources.forEach((s, i) => {
    if (!(s.format === "oslo" || s.format === "zstack") || !periodic(s.component)) return;
    const key = `${s.treeKey}\u0000${s.component}`;
    byComponent.set(key, [...(byComponent.get(key) ?? []), i]);
  });
  const out: CollectedFinding[] = [];
  for (const members of byComponent.values()) {
    const live = members.map((i) => input.sources[i] as SourceInfo).filter((s) => s.isLive);
    const s = live[0];
    if (!s || s.lastTime === null) continue;
    const i = input.sources.indexOf(s);
    const first = Math.min(...members.map((m) => input.sources[m]?.firstTime ?? Infinity));
    const records = members.reduce((n, m) => n + (input.sources[m]?.records ?? 0), 0);
    const windows = members.reduce((n, m) => n + (input.sources[m]?.windows ?? 0), 0);
    // Periodic means steady: most ten-minute windows of the log's life hold a line. Start-up and error
    // bursts make a quiet agent look busy on average, but not steady.
    const span = Number.isFinite(first) ? s.lastTime - first : 0;
    const coverage = windows / (Math.floor(span / windowMs) + 1);
    const newest = newestByTree.get(s.treeKey) ?? -Infinity;
    const silence = newest - s.lastTime;
    if (records < minRecords || span < minSpanMs || coverage < minCoverage || silence <= silenceMs) continue;
    const hours = (silence / 3_600_000).toFixed(1);
    const last = new Date(s.lastTime).toISOString().replace(/\.\d{3}Z$/, "").replace("Z", "");
    out.push(
      make(input, "service-silent", { component: s.component, host: s.host, path: s.displayPath, line: s.lastLine ?? 1, timestamp: last, message: `last line at ${last}, ${hours} h before the newest line on ${s.host ?? "this tree"}`, requestIds: [], instanceIds: [], fields: { silentHours: hours, lastLine: last } }, s.lastTime, i),
    );
  }
  return out;
}

function instanceErrorWithoutCause(input: CorrelationInput): CollectedFinding[] {
  const out: CollectedFinding[] = [];
  // The ids of every other finding, gathered once: asking each finding in turn was quadratic.
  const explaining = new Set<string>();
  for (const o of input.findings) {
    if (o.finding.ruleId === "nova-set-instance-error") continue;
    for (const k of o.finding.requestIds) explaining.add(k);
    for (const k of o.finding.instanceIds) explaining.add(k);
  }
  for (const c of input.findings) {
    if (c.finding.ruleId !== "nova-set-instance-error") continue;
    const keys = new Set([...c.finding.requestIds, ...c.finding.instanceIds]);
    if (keys.size === 0) continue;
    const explained = [...keys].some((k) => explaining.has(k));
    const errored = [...keys].some((k) => input.observations.errorIdHashes.has(hashOfId(k)));
    if (explained || errored) continue;
    out.push(make(input, "instance-error-without-cause", { component: c.finding.component, host: c.finding.host, path: c.finding.path, line: c.finding.line, timestamp: c.finding.timestamp, message: c.finding.message, requestIds: c.finding.requestIds, instanceIds: c.finding.instanceIds, fields: {} }, c.meta.time, c.meta.sourceIndex));
  }
  return out;
}

export async function derivedFindings(input: CorrelationInput): Promise<CollectedFinding[]> {
  return [...(await requestLost(input)), ...serviceSilent(input), ...instanceErrorWithoutCause(input)];
}
