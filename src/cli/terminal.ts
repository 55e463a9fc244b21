// Colour, language and progress decisions: the only place that reads the terminal's environment.
import type { Language } from "../model.js";

export type ColorLevel = 0 | 1 | 2 | 3;

/** --color/--no-color, else non-empty NO_COLOR, else FORCE_COLOR, else whether stdout is a TTY (chalk alone ignores NO_COLOR). */
export function colorLevel(flag: boolean | undefined, env: NodeJS.ProcessEnv, isTTY: boolean): ColorLevel {
  if (flag === true) return 1;
  if (flag === false) return 0;
  if (env.NO_COLOR) return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === "0" || force === "false") return 0;
    const n = Number(force);
    return n >= 1 && n <= 3 ? (n as ColorLevel) : 1;
  }
  if (!isTTY || env.TERM === "dumb") return 0;
  if (env.COLORTERM === "truecolor" || env.COLORTERM === "24bit") return 3;
  return /256/.test(env.TERM ?? "") ? 2 : 1;
}

/** LC_ALL, then LC_MESSAGES, then LANG: a zh_* locale picks Chinese. */
export function defaultLanguage(env: NodeJS.ProcessEnv): Language {
  const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG || "";
  return /^zh/i.test(locale) ? "zh-CN" : "en";
}

/** A one-line progress bar on stderr; drawn only on a TTY, at most 10 times a second, cleared before the report. */
export class Progress {
  private lastDraw = 0;
  private drawn = false;
  private readonly started = Date.now();
  /** When the current pass began: the second pass's rate and time left are its own. */
  private passStarted = this.started;
  private pass = 1;

  constructor(
    private readonly stream: NodeJS.WritableStream & { columns?: number },
    private readonly enabled: boolean,
  ) {}

  update(files: number, totalFiles: number, bytes: number, totalBytes: number, pass = 1): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (pass !== this.pass) {
      this.pass = pass;
      this.passStarted = now;
    }
    if (now - this.started < 1000 || now - this.lastDraw < 100 || now === this.passStarted) return;
    this.lastDraw = now;
    const seconds = (now - this.passStarted) / 1000;
    const rate = bytes / 1e6 / seconds;
    const fraction = totalBytes > 0 ? Math.min(1, bytes / totalBytes) : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    const eta = fraction > 0 && rate > 0 ? Math.max(0, (totalBytes - bytes) / 1e6 / rate) : NaN;
    const text = `${pass === 2 ? "second pass " : ""}[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${files}/${totalFiles} files  ${(bytes / 1e6).toFixed(0)} MB  ${rate.toFixed(0)} MB/s${Number.isFinite(eta) ? `  ${eta.toFixed(0)} s left` : ""}`;
    // A terminal that gives no size (a pty under script, say) reports 0 columns.
    const columns = this.stream.columns || 80;
    this.stream.write(`\r${text.slice(0, columns - 1)}\x1b[K`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) this.stream.write("\r\x1b[K");
    this.drawn = false;
  }
}
