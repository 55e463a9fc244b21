// detach() must free the text an id or a message was cut from: thousands of related records are held until the report.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { detach } from "../src/model.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapAfterKeeping(cut: (text: string) => string): number {
  const kept: string[] = [];
  for (let i = 0; i < 64; i++) kept.push(cut(`${"y".repeat(1 << 20)}${i}`.slice(100, 400)));
  gc();
  gc();
  expect(kept.every((k) => k.length === 300)).toBe(true);
  return process.memoryUsage().heapUsed;
}

describe("detach", () => {
  it("keeps the same text, and not the 1 MB lines it was cut from", () => {
    expect(detach(`req-${"a".repeat(36)} rest`.slice(0, 40))).toBe(`req-${"a".repeat(36)}`);
    expect(detach("short")).toBe("short");
    const base = heapAfterKeeping((t) => t);
    const detached = heapAfterKeeping(detach);
    // 64 pinned parents are 64 MiB; their detached cuts are 64 x 300 bytes.
    expect(base - detached).toBeGreaterThan(48 << 20);
  });
});
