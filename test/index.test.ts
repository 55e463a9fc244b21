// The correlation index and the accepted API requests: what related lines and request-lost are built from.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { IdIndex, SecondPassIndex } from "../src/correlator/index.js";
import { ApiRequests, DomainMentions } from "../src/correlator/observations.js";
import { makeTree, runCli } from "./helpers/cli.js";

/** lookup's answer as plain arrays, sources and lines ascending. */
function found(index: IdIndex, wanted: number[], perIdPerSource?: number): [number, number[]][] {
  return [...index.lookup(new Set(wanted), perIdPerSource)].map(([source, lines]) => [source, [...lines].sort((a, b) => a - b)] as [number, number[]]).sort((a, b) => a[0] - b[0]);
}

describe("IdIndex", () => {
  it("finds hashes at both ends of the u32 range, 0 included, and nothing it was not given", () => {
    const index = new IdIndex();
    index.add(0, 0, 10);
    index.add(0xffffffff, 0, 11);
    index.add(0x80000000, 1, 12);
    index.add(0x12345678, 1, 13);
    expect(found(index, [0, 0xffffffff, 0x80000000])).toEqual([
      [0, [10, 11]],
      [1, [12]],
    ]);
    expect(found(index, [0x12345679])).toEqual([]);
    expect([...index.presentIn(new Set([0, 0x12345678, 7]), (source) => source === 1)]).toEqual([0x12345678]);
    expect([...index.presentIn(new Set([0, 7]), () => true)]).toEqual([0]);
  });

  it("keeps each id's first and last lines in a file when it appears more often than the cap", () => {
    const index = new IdIndex();
    for (let line = 1; line <= 100; line++) index.add(0xabcdef01, 3, line);
    expect(found(index, [0xabcdef01], 5)).toEqual([[3, [1, 2, 3, 4, 5, 96, 97, 98, 99, 100]]]);
  });

  it("merges other threads' indexes as they are, and adds after them, with every source's lines intact", () => {
    const worker = new IdIndex();
    worker.add(0x11111111, 2, 5);
    worker.add(0x22222222, 2, 6);
    const main = new IdIndex();
    main.add(0x11111111, 0, 1);
    main.merge(worker.export());
    expect(worker.size).toBe(0);
    // After a merge the correlator adds the ids that QEMU domain names stand for: the first of them lands
    // in the worker's last block, and must not take the source of that block's last run.
    main.add(0x11111111, 0, 2);
    main.add(0x11111111, 2, 9);
    main.add(0x22222222, 4, 1);
    expect(main.size).toBe(6);
    expect(found(main, [0x11111111])).toEqual([
      [0, [1, 2]],
      [2, [5, 9]],
    ]);
    expect(found(main, [0x22222222])).toEqual([
      [2, [6]],
      [4, [1]],
    ]);
    expect([...main.presentIn(new Set([0x11111111, 0x22222222]), (source) => source === 4)]).toEqual([0x22222222]);
  });

  it("spills into a second block past 2^23 entries without losing the lines on either side", () => {
    const index = new IdIndex();
    const perBlock = 1 << 23;
    for (let i = 0; i < perBlock + 3; i++) index.add(i === perBlock - 1 || i === perBlock + 1 ? 0xfeedface : 1, 0, i + 1);
    expect(index.size).toBe(perBlock + 3);
    expect(found(index, [0xfeedface])).toEqual([[0, [perBlock, perBlock + 2]]]);
  });
});

describe("the index's memory budget", () => {
  it("drops its entries past the budget, also when a merge takes it there, and will not answer from what is left", () => {
    const index = new IdIndex(3);
    for (let line = 1; line <= 3; line++) index.add(0x11111111, 0, line);
    expect(index.overflowed).toBe(false);
    expect(found(index, [0x11111111])).toEqual([[0, [1, 2, 3]]]);
    index.add(0x11111111, 0, 4);
    expect(index.overflowed).toBe(true);
    expect(index.size).toBe(0);
    expect(() => index.lookup(new Set([0x11111111]))).toThrow(/overflowed/);

    const worker = new IdIndex(2);
    worker.add(1, 1, 1);
    worker.add(2, 1, 2);
    const main = new IdIndex(3);
    main.add(3, 0, 1);
    main.add(4, 0, 2);
    main.merge(worker.export());
    expect(main.overflowed).toBe(true);
    expect(() => main.presentIn(new Set([1]), () => true)).toThrow(/overflowed/);
    // A thread that overflowed on its own makes the merged index overflow too.
    const full = new IdIndex(1);
    full.add(1, 1, 1);
    full.add(2, 1, 2);
    const roomy = new IdIndex();
    roomy.merge(full.export());
    expect(roomy.overflowed).toBe(true);
  });

  it("takes the correlator's few entries after the scan even when the scan left it full", () => {
    const index = new IdIndex(2);
    index.add(1, 0, 1);
    index.add(2, 0, 2);
    index.removeBudget();
    index.add(3, 1, 7);
    expect(index.overflowed).toBe(false);
    expect(found(index, [1, 3])).toEqual([
      [0, [1]],
      [1, [7]],
    ]);
  });

  it("holds the budget for the sum of the threads' indexes, not for each one", () => {
    const counts = new Int32Array(new SharedArrayBuffer(4));
    const budget = 40_000;
    const a = new IdIndex(budget, null, { counts, slot: 0 });
    const b = new IdIndex(budget, null, { counts, slot: 0 });
    for (let i = 0; i < 30_000; i++) a.add(1, 0, i + 1);
    expect(a.overflowed).toBe(false);
    // Alone, b would stay under the budget too; with a's entries the two pass it.
    for (let i = 0; i < 33_000; i++) b.add(2, 1, i + 1);
    expect(b.overflowed).toBe(true);
    for (let i = 30_000; i < 40_000 && !a.overflowed; i++) a.add(1, 0, i + 1);
    expect(a.overflowed).toBe(true);
    const alone = new IdIndex(budget, null, { counts: new Int32Array(new SharedArrayBuffer(4)), slot: 0 });
    for (let i = 0; i < 39_000; i++) alone.add(3, 0, i + 1);
    expect(alone.overflowed).toBe(false);
  });

  it("keeps only the wanted ids in the second pass's index", () => {
    const index = new IdIndex(Infinity, new Set([0xabc]));
    index.add(0xabc, 0, 1);
    index.add(0xdef, 0, 2);
    expect(index.size).toBe(1);
    expect(found(index, [0xabc, 0xdef])).toEqual([[0, [1]]]);
  });

  it("answers every question of the correlator from one second read when the likely ids cover them, and reads again when not", async () => {
    const reads: number[][] = [];
    const readAgain = async (wanted: Set<number>) => {
      reads.push([...wanted].sort((a, b) => a - b));
      const index = new IdIndex(Infinity, wanted);
      index.add(1, 0, 10);
      index.add(2, 1, 20);
      index.add(3, 2, 30);
      return index;
    };
    const second = new SecondPassIndex(readAgain, new Set([1, 2]));
    expect([...(await second.presentIn(new Set([2]), (source) => source === 1))]).toEqual([2]);
    expect([...(await second.lookup(new Set([1, 2])))].sort()).toEqual([
      [0, new Set([10])],
      [1, new Set([20])],
    ]);
    expect(reads).toEqual([[1, 2]]);
    expect([...(await second.lookup(new Set([3])))]).toEqual([[2, new Set([30])]]);
    expect(reads).toEqual([
      [1, 2],
      [1, 2, 3],
    ]);
  });
});

describe("DomainMentions", () => {
  it("keeps a domain's first and last 20 mentions in each file, and lists them file by file as one thread would", () => {
    const worker = new DomainMentions();
    for (let line = 1; line <= 100; line++) worker.note("instance-0000002a", 3, line);
    worker.note("instance-0000002b", 3, 50);
    const main = new DomainMentions();
    main.note("instance-0000002a", 1, 7);
    main.merge(worker.export());
    const lines = (source: number, name: string) => main.list().filter((m) => m.sourceIndex === source && m.name === name).map((m) => m.line);
    expect(lines(3, "instance-0000002a")).toEqual([...Array.from({ length: 20 }, (_, i) => i + 1), ...Array.from({ length: 20 }, (_, i) => i + 81)]);
    expect(lines(1, "instance-0000002a")).toEqual([7]);
    const order = main.list().map((m) => `${m.sourceIndex}:${m.line}`);
    expect(order.slice(0, 3)).toEqual(["1:7", "3:1", "3:2"]);
    expect(order).toContain("3:50");
    expect(main.list().filter((m) => m.line === 50).map((m) => m.name)).toEqual(["instance-0000002b"]);
  });
});

describe("ApiRequests", () => {
  it("gives back each request's first id exactly, packed or not, across a worker's merge and the sort", () => {
    const worker = new ApiRequests();
    worker.add([0x11], 2000, 1, 7, "req-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    worker.add([0x22], null, 1, 3, "req-not-a-uuid");
    const main = new ApiRequests();
    main.add([0x33, 0x44], 1000, 0, 9, "req-ffffffff-0000-0000-0000-000000000001");
    main.add([], 1500, 0, 2, "req-0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0");
    main.merge(structuredClone(worker.export()));
    main.sort();
    expect(Array.from({ length: main.length }, (_, i) => ({ ...main.get(i), firstId: main.firstIdOf(i) }))).toEqual([
      { idHashes: [], time: 1500, sourceIndex: 0, line: 2, firstId: "req-0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0" },
      { idHashes: [0x33, 0x44], time: 1000, sourceIndex: 0, line: 9, firstId: "req-ffffffff-0000-0000-0000-000000000001" },
      { idHashes: [0x22], time: null, sourceIndex: 1, line: 3, firstId: "req-not-a-uuid" },
      { idHashes: [0x11], time: 2000, sourceIndex: 1, line: 7, firstId: "req-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" },
    ]);
  });

  it("grows past its first thousand requests without losing one", () => {
    const requests = new ApiRequests();
    const id = (i: number) => `req-${i.toString(16).padStart(8, "0")}-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
    for (let i = 0; i < 2500; i++) requests.add([i], i, 0, i + 1, id(i));
    expect(requests.length).toBe(2500);
    expect([0, 1023, 1024, 2499].map((i) => requests.firstIdOf(i))).toEqual([0, 1023, 1024, 2499].map(id));
  });
});

describe("related lines of compressed logs", () => {
  it("are the lines of the same logs uncompressed, read between checkpoints of the inflated text", async () => {
    const root = makeTree({}, "ct-gz-related-");
    // Failures every 256 KiB of 4 MiB: many ids whose lines lie far apart in each file, and far from its ends.
    const gen = spawnSync(process.execPath, ["scripts/gen-logs.mjs", "--out", root, "--size", "4MiB", "--seed", "7", "--failure-every", "256KiB", "--gz"], { encoding: "utf8" });
    expect(gen.status).toBe(0);
    const linked = async (dir: string) => {
      const result = JSON.parse((await runCli(["scan", dir, "--format", "json"])).stdout) as { findings: { ruleId: string; path: string; line: number; related: { path: string; line: number; message: string }[] }[] };
      return result.findings.map((f) => `${f.ruleId} ${f.path.replace(/\.gz$/, "")}:${f.line} ${f.related.map((r) => `${r.path.replace(/\.gz$/, "")}:${r.line} ${r.message}`).join(" | ")}`);
    };
    const plain = await linked(root);
    expect(plain.filter((f) => f.includes(" | ")).length).toBeGreaterThan(10);
    expect(await linked(`${root}-gz`)).toEqual(plain);
  }, 30_000);
});
