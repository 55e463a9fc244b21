// The progress bar an operator sees on a terminal during a long scan: what it says, and when it says nothing.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Progress } from "../src/cli/terminal.js";

function terminal(columns = 100): { stream: NodeJS.WritableStream & { columns?: number }; written: string[] } {
  const written: string[] = [];
  const stream = { columns, write: (s: string) => written.push(s) } as unknown as NodeJS.WritableStream & { columns?: number };
  return { stream, written };
}

describe("Progress", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-12-03T10:00:00Z"));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("stays quiet for the first second, then shows files, MB, MB/s and the time left on one line", () => {
    const { stream, written } = terminal();
    const progress = new Progress(stream, true);
    vi.advanceTimersByTime(500);
    progress.update(1, 5, 100e6, 600e6);
    expect(written).toEqual([]);
    vi.advanceTimersByTime(1000);
    progress.update(2, 5, 300e6, 600e6);
    expect(written).toEqual(["\r[############------------] 2/5 files  300 MB  200 MB/s  2 s left\x1b[K"]);
    progress.clear();
    expect(written.at(-1)).toBe("\r\x1b[K");
  });

  it("starts the rate and the time left again for the second pass, and names it", () => {
    const { stream, written } = terminal();
    const progress = new Progress(stream, true);
    vi.advanceTimersByTime(2000);
    progress.update(5, 5, 600e6, 600e6);
    progress.update(0, 5, 0, 600e6, 2);
    vi.advanceTimersByTime(1000);
    progress.update(1, 5, 150e6, 600e6, 2);
    expect(written.at(-1)).toBe("\rsecond pass [######------------------] 1/5 files  150 MB  150 MB/s  3 s left\x1b[K");
  });

  it("fits a terminal that gives no width, and draws nothing when disabled (a pipe, --quiet)", () => {
    const { stream, written } = terminal(0);
    const progress = new Progress(stream, true);
    vi.advanceTimersByTime(1500);
    progress.update(2, 5, 300e6, 600e6);
    expect(written.at(-1)).toMatch(/2 s left\x1b\[K$/);
    const off = terminal();
    const quiet = new Progress(off.stream, false);
    vi.advanceTimersByTime(1500);
    quiet.update(2, 5, 300e6, 600e6);
    quiet.clear();
    expect(off.written).toEqual([]);
  });
});
