// --since/--until values: an ISO time, or a duration (90s, 30m, 24h, 7d) counted back from now or a capture time.
import { UsageError } from "./run.js";

export interface TimeOption {
  absoluteMs: number | null;
  durationMs: number | null;
}

const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseTimeOption(value: string, flag: string): TimeOption {
  const duration = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(value.trim());
  if (duration) return { absoluteMs: null, durationMs: Number(duration[1]) * (units[duration[2] ?? "h"] ?? 0) };
  const iso = value.trim().replace(" ", "T");
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) || !/T/.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(ms)) throw new UsageError(`${flag} takes an ISO time (2024-03-12T10:00) or a duration (24h, 30m, 7d); got "${value}"`);
  return { absoluteMs: ms, durationMs: null };
}
