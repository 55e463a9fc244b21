// Config rules: reads INI-style files (nova.conf, cinder.conf, qemu.conf, sysconfig) and states what must hold.
import type { ConfigRule, Rule, ValueTest } from "../ruleset/rule.js";
import type { FindingCollector } from "./findings.js";

export interface ConfigFile {
  path: string;
  host: string | null;
  text: string;
  sourceIndex: number;
}

interface Setting {
  section: string;
  key: string;
  value: string;
  line: number;
  raw: string;
}

/** `[section]` headers, `key = value` lines, shell-style `KEY="value"`; `#` and `;` start comments. */
export function parseIni(text: string): Setting[] {
  const settings: Setting[] = [];
  let section = "DEFAULT";
  const lines = text.split("\n");
  lines.forEach((rawLine, i) => {
    const line = rawLine.replace(/\r$/, "");
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#") || trimmed.startsWith(";")) return;
    const header = /^\[([^\]]+)\]$/.exec(trimmed);
    if (header?.[1]) {
      section = header[1].trim();
      return;
    }
    const kv = /^([A-Za-z_][\w.-]*)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (!kv?.[1]) return;
    let value = (kv[2] ?? "").trim();
    // Inline comments are not part of the value in qemu.conf and sysconfig files.
    if (/^"[^"]*"/.test(value)) value = /^"([^"]*)"/.exec(value)?.[1] ?? value;
    else if (/^'[^']*'/.test(value)) value = /^'([^']*)'/.exec(value)?.[1] ?? value;
    else value = value.replace(/\s+#.*$/, "");
    settings.push({ section, key: kv[1], value, line: i + 1, raw: line });
  });
  return settings;
}

/** `**` spans folders, `*` and `?` stay within one. */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? "";
    if (c === "*" && glob[i + 1] === "*") {
      out += glob[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += glob[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

function matchesAny(globs: string[], path: string): boolean {
  return globs.some((g) => globToRegExp(g).test(path) || globToRegExp(g).test(`/${path}`));
}

function violates(test: ValueTest, value: string): boolean {
  const v = value.trim();
  if (test.notIn && !test.notIn.includes(v)) return true;
  if (test.in && test.in.includes(v)) return true;
  if (test.equals !== undefined && v === test.equals) return true;
  if (test.matches && test.matches.test(v)) return true;
  return false;
}

function inSections(sections: string[] | null, section: string): boolean {
  return sections === null || sections.includes("*") || sections.some((s) => s.toLowerCase() === section.toLowerCase());
}

function componentOf(path: string): string {
  const m = /etc\/(?:kolla\/)?([a-z]+)/.exec(path) ?? /puppet-generated\/([a-z]+)/.exec(path);
  return m?.[1] ?? "config";
}

export interface ConfigViolation {
  rule: ConfigRule;
  file: ConfigFile;
  setting: Setting;
  other: string | null;
}

/** Every violation of one rule across the files given; `differsFrom` compares across all of them. */
export function checkRule(rule: ConfigRule, files: ConfigFile[]): ConfigViolation[] {
  const check = rule.check;
  const parsed = files.map((file) => ({ file, settings: parseIni(file.text) }));
  const targets = parsed.filter((p) => matchesAny(rule.files, p.file.path));
  const out: ConfigViolation[] = [];
  for (const { file, settings } of targets) {
    for (const setting of settings) {
      if (setting.key !== check.key || !inSections(check.sections, setting.section)) continue;
      if (check.ignoreValues.includes(setting.value) || /^\*{3,}$/.test(setting.value)) continue;
      const conditionsHold = check.when.every((w) => {
        const found = settings.find((s) => s.key === w.key && (w.section === null || s.section.toLowerCase() === w.section.toLowerCase()));
        const value = found?.value ?? w.missingMeans;
        return value !== undefined && violates(w, value);
      });
      if (!conditionsHold) continue;
      if (check.differsFrom) {
        const other = check.differsFrom;
        const values = parsed
          .filter((p) => matchesAny(other.files, p.file.path))
          .flatMap((p) => p.settings.filter((s) => s.key === other.key && (other.section === null || other.section === "*" || s.section === other.section)))
          .map((s) => s.value)
          .filter((v) => v && !check.ignoreValues.includes(v) && !/^\*{3,}$/.test(v));
        const differing = values.find((v) => v !== setting.value);
        if (differing !== undefined && !values.includes(setting.value)) out.push({ rule, file, setting, other: differing });
        continue;
      }
      if (violates(check, setting.value)) out.push({ rule, file, setting, other: null });
    }
  }
  return out;
}

export function checkConfigFiles(files: ConfigFile[], rules: Rule[], collector: FindingCollector, language: "en" | "zh-CN"): void {
  const configRules = rules.filter((r): r is ConfigRule => r.kind === "config");
  for (const rule of configRules) {
    for (const v of checkRule(rule, files)) {
      collector.add(
        {
          ruleId: rule.id,
          title: rule.title[language],
          severity: rule.severity,
          component: componentOf(v.file.path),
          host: v.file.host,
          path: v.file.path,
          line: v.setting.line,
          timestamp: null,
          message: `[${v.setting.section}] ${v.setting.raw.trim()}`,
          requestIds: [],
          instanceIds: [],
          fields: { section: v.setting.section, key: v.setting.key, value: v.setting.value, ...(v.other !== null ? { other: v.other } : {}) },
          remediation: rule.remediation[language],
          references: rule.references,
        },
        { rule, time: null, sourceIndex: v.file.sourceIndex, explains: rule.explains, layer: rule.layer },
      );
    }
  }
}
