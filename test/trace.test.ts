// `cloudtriage trace`: what happened to one request or one instance, from every file and host, in time order.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { trace } from "../src/trace.js";

const tree = path.resolve("fixtures/openstack-controller-compute");
// The boot that failed on compute-1 because QEMU could not allocate guest memory.
const request = "req-c2bb4cd3-b25a-427d-8e07-6a43c3748a54";
const instance = "6a30fbca-699b-4005-a7cb-03803547cd5f";

interface Line {
  timestamp: string | null;
  host: string | null;
  component: string | null;
  path: string;
  line: number;
  message: string;
}

async function traced(id: string): Promise<{ ids: string[]; lines: Line[] }> {
  const out = await trace({ id, inputs: [tree], cwd: process.cwd(), format: "json", redact: true, colorLevel: 0 });
  return JSON.parse(out.text) as { ids: string[]; lines: Line[] };
}

function times(lines: Line[]): number[] {
  return lines.filter((l) => l.timestamp).map((l) => Date.parse(l.timestamp!.endsWith("Z") ? l.timestamp! : `${l.timestamp}Z`));
}

describe("trace", () => {
  it("follows a request id from the API on the controller to QEMU on the compute, in time order", async () => {
    const { ids, lines } = await traced(request);
    // The API logs the client's global id next to nova's own; the request names its instance, QEMU its domain.
    expect(ids).toEqual(expect.arrayContaining([request, "req-f6603775-f948-448a-98ea-408f79235f26", instance, "instance-0000000a"]));
    const seen = new Set(lines.map((l) => `${l.host} ${l.component}`));
    for (const where of ["controller-0 nova-api", "controller-0 nova-scheduler", "controller-0 nova-conductor", "compute-1 nova-compute", "compute-1 qemu"]) expect(seen).toContain(where);
    const api = lines.findIndex((l) => l.message.includes('"POST /v2.1/servers" status: 202'));
    const spawn = lines.findIndex((l) => l.message.startsWith("Instance failed to spawn"));
    const qemu = lines.findIndex((l) => l.path.endsWith("qemu/instance-0000000a.log") && l.message.includes("Cannot allocate memory"));
    expect(api).toBeGreaterThanOrEqual(0);
    expect(qemu).toBeGreaterThan(api);
    expect(spawn).toBeGreaterThan(qemu);
    const t = times(lines);
    expect(t).toEqual([...t].sort((a, b) => a - b));
  });

  it("answers what happened to an instance, including the request that built it", async () => {
    const { ids, lines } = await traced(instance);
    expect(ids).toContain(request);
    expect(lines.some((l) => l.path === "controller-0/var/log/nova/nova-api.log" && l.message.includes('"POST /v2.1/servers" status: 202'))).toBe(true);
    expect(lines.some((l) => l.component === "qemu")).toBe(true);
  });

  it("says so when no line mentions the id, and exits 1 from the command line", async () => {
    const out = await trace({ id: "req-00000000-0000-4000-8000-000000000000", inputs: [tree], cwd: process.cwd(), format: "text", redact: true, colorLevel: 0 });
    expect(out.found).toBe(false);
    expect(out.text).toMatch(/no line mentions req-00000000-0000-4000-8000-000000000000/);
  });
});
