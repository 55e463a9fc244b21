// The only reader of rule files: parses YAML with positions, validates, compiles; errors name file:line:col.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Document, LineCounter } from "yaml";
import type { Level } from "../model.js";
import { requiredLiterals } from "./literals.js";
import type { ConfigRule, Layer, Localized, LogRule, NameFilter, Rule, RuleExample, ValueTest } from "./rule.js";
import { buildSchemas, type ConfigRuleFile, type LogRuleFile } from "./schema.js";

let schemas: ReturnType<typeof buildSchemas> | undefined;

// yaml, zod and the ReDoS checker are loaded only when a rule file is read as YAML: the built-in pack
// comes precompiled (dist/rules-pack.json), which keeps `cloudtriage scan` quick to start in a pipe.
const require = createRequire(import.meta.url);
const lazy = {
  get yaml(): typeof import("yaml") {
    return require("yaml") as typeof import("yaml");
  },
  get schema(): ReturnType<typeof buildSchemas> {
    schemas ??= buildSchemas((require("zod") as typeof import("zod")).z);
    return schemas;
  },
  get safeRegex(): (pattern: string) => boolean {
    return require("safe-regex2") as (pattern: string) => boolean;
  },
};

/** A rule file that cannot be used; the message starts with `file:line:col`. */
export class RuleError extends Error {}

export const builtinRulesDir = fileURLToPath(new URL("../../rules/", import.meta.url));

/** Hints shorter than this slow the prefilter to a crawl (perf.md §3). */
export const minHintBytes = 6;

interface Position {
  line: number;
  col: number;
}

function positionOf(doc: Document | null, counter: LineCounter | null, keyPath: (string | number)[]): Position {
  if (!doc || !counter) return { line: 1, col: 1 };
  for (let depth = keyPath.length; depth >= 0; depth--) {
    const node = doc.getIn(keyPath.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === "object" && node.range) {
      const pos = counter.linePos(node.range[0]);
      return { line: pos.line, col: pos.col };
    }
  }
  return { line: 1, col: 1 };
}

function keyPosition(doc: Document, counter: LineCounter, objectPath: (string | number)[], key: string): Position {
  const node = objectPath.length ? doc.getIn(objectPath, true) : doc.contents;
  const { isMap, isScalar } = lazy.yaml;
  if (isMap(node)) {
    for (const item of node.items) {
      if (isScalar(item.key) && item.key.value === key && item.key.range) {
        const pos = counter.linePos(item.key.range[0]);
        return { line: pos.line, col: pos.col };
      }
    }
  }
  return positionOf(doc, counter, objectPath);
}

function fail(file: string, pos: Position, message: string): never {
  throw new RuleError(`${file}:${pos.line}:${pos.col}: ${message}`);
}

function localized(value: string | { en: string; "zh-CN": string }): Localized {
  return typeof value === "string" ? { en: value, "zh-CN": value } : value;
}

function list<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function nameFilter(value: string | string[] | undefined): NameFilter | null {
  if (value === undefined) return null;
  const names = list(value);
  return { exact: new Set(names.filter((n) => !n.endsWith("*"))), prefixes: names.filter((n) => n.endsWith("*")).map((n) => n.slice(0, -1)) };
}

function defaultLayer(id: string): Layer {
  if (id.startsWith("libvirt-")) return "libvirt";
  if (id.startsWith("qemu-")) return "qemu";
  if (id.startsWith("config-")) return "config";
  return "service";
}

interface Located {
  file: string;
  doc: Document | null;
  counter: LineCounter | null;
  /** Off for the built-in pack, which was checked when it was packed. */
  checkBacktracking: boolean;
}

function compileRegex(where: Located, keyPath: (string | number)[], pattern: string, flags: string): RegExp {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, flags);
  } catch (error) {
    fail(where.file, positionOf(where.doc, where.counter, keyPath), `invalid regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, "")}`);
  }
  // Nested quantifiers such as (a+)+ backtrack exponentially on a line that almost matches.
  if (where.checkBacktracking && !lazy.safeRegex(pattern)) {
    fail(where.file, positionOf(where.doc, where.counter, keyPath), "regular expression may backtrack catastrophically (a quantifier inside a repeated group); rewrite it without nested repetition");
  }
  return regex;
}

function compileLogRule(where: Located, spec: LogRuleFile): LogRule {
  const flags = `m${spec.flags ?? ""}`;
  const matchSpec = typeof spec.match === "string" ? { any: [spec.match], all: undefined, not: undefined } : spec.match;
  const base = typeof spec.match === "string" ? ["match"] : ["match"];
  const compileList = (name: "any" | "all" | "not", patterns: string[] | undefined) =>
    (patterns ?? []).map((p, i) => compileRegex(where, typeof spec.match === "string" ? base : [...base, name, i], p, flags));
  const any = compileList("any", matchSpec.any);
  const all = compileList("all", matchSpec.all);
  const not = compileList("not", matchSpec.not);
  let hints = list(spec.hint);
  if (hints.length === 0) {
    // Every match must contain the literal of one `any` branch (or of the first `all` pattern).
    const sources = matchSpec.any ?? matchSpec.all?.slice(0, 1) ?? [];
    const derived: string[] = [];
    for (const source of sources) {
      const literals = requiredLiterals(source, minHintBytes);
      if (!literals) {
        fail(where.file, positionOf(where.doc, where.counter, ["match"]), `cannot derive a literal hint of at least ${minHintBytes} bytes from this pattern; add \`hint:\` with text every match contains`);
      }
      derived.push(...literals);
    }
    hints = derived;
  }
  hints.forEach((hint, i) => {
    if (Buffer.byteLength(hint) < minHintBytes) {
      fail(where.file, positionOf(where.doc, where.counter, Array.isArray(spec.hint) ? ["hint", i] : ["hint"]), `hint "${hint}" is shorter than ${minHintBytes} bytes; give a longer literal`);
    }
  });
  const defaultSource = spec.examples.source ?? "var/log/messages";
  const example = (e: { line: string; source?: string | undefined; why?: string | undefined; fields?: Record<string, string> | undefined; requestIds?: string[] | undefined; instanceIds?: string[] | undefined }): RuleExample => ({
    line: e.line.replace(/\n$/, ""),
    source: e.source ?? defaultSource,
    ...(e.why !== undefined ? { why: e.why } : {}),
    ...(e.fields !== undefined ? { fields: e.fields } : {}),
    ...(e.requestIds !== undefined ? { requestIds: e.requestIds } : {}),
    ...(e.instanceIds !== undefined ? { instanceIds: e.instanceIds } : {}),
  });
  return {
    kind: "log",
    id: spec.id,
    file: where.file,
    title: localized(spec.title),
    severity: spec.severity,
    severityAlone: spec.severityAlone ?? null,
    layer: spec.layer ?? defaultLayer(spec.id),
    explains: spec.explains ?? [],
    remediation: localized(spec.remediation),
    references: spec.references,
    where: {
      component: nameFilter(spec.where?.component),
      level: spec.where?.level ? new Set(list(spec.where.level) as Level[]) : null,
      logger: nameFilter(spec.where?.logger),
    },
    hints,
    any,
    all,
    not,
    examples: {
      positive: spec.examples.positive.map(example),
      negative: spec.examples.negative.map(example),
      knownGaps: (spec.examples.knownGaps ?? []).map(example),
    },
  };
}

function compileValueTest(where: Located, keyPath: (string | number)[], spec: { notIn?: string[] | undefined; in?: string[] | undefined; equals?: string | undefined; matches?: string | undefined }): ValueTest {
  return {
    ...(spec.notIn ? { notIn: spec.notIn } : {}),
    ...(spec.in ? { in: spec.in } : {}),
    ...(spec.equals !== undefined ? { equals: spec.equals } : {}),
    ...(spec.matches ? { matches: compileRegex(where, [...keyPath, "matches"], spec.matches, "i") } : {}),
  };
}

function compileConfigRule(where: Located, spec: ConfigRuleFile): ConfigRule {
  const check = spec.check;
  return {
    kind: "config",
    id: spec.id,
    file: where.file,
    title: localized(spec.title),
    severity: spec.severity,
    severityAlone: spec.severityAlone ?? null,
    layer: spec.layer ?? "config",
    explains: spec.explains ?? [],
    remediation: localized(spec.remediation),
    references: spec.references,
    files: spec.files,
    check: {
      ...compileValueTest(where, ["check"], check),
      sections: check.sections ?? (check.section ? [check.section] : null),
      key: check.key,
      differsFrom: check.differsFrom ? { files: check.differsFrom.files, section: check.differsFrom.section ?? null, key: check.differsFrom.key } : null,
      when: (check.when ?? []).map((w, i) => ({ ...compileValueTest(where, ["check", "when", i], w), section: w.section ?? null, key: w.key, ...(w.missingMeans !== undefined ? { missingMeans: w.missingMeans } : {}) })),
      ignoreValues: check.ignoreValues ?? ["*********", "****", "***"],
    },
    examples: {
      positive: spec.examples.positive.map((e) => ({ file: e.file, path: e.path ?? spec.files[0] ?? "etc/x.conf", ...(e.other ? { other: e.other } : {}) })),
      negative: spec.examples.negative.map((e) => ({ file: e.file, path: e.path ?? spec.files[0] ?? "etc/x.conf", why: e.why, ...(e.other ? { other: e.other } : {}) })),
    },
  };
}

/** Parses and validates one rule file. `display` is the path used in messages. */
export function loadRuleFile(absPath: string, display: string): Rule {
  let source: string;
  try {
    source = readFileSync(absPath, "utf8");
  } catch (error) {
    throw new RuleError(`${display}: cannot read rule file: ${(error as Error).message}`);
  }
  const { LineCounter, parseDocument } = lazy.yaml;
  const counter = new LineCounter();
  const doc = parseDocument(source, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const where: Located = { file: display, doc, counter, checkBacktracking: true };
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = counter.linePos(yamlError.pos[0]);
    fail(display, { line: pos.line, col: pos.col }, `YAML: ${yamlError.message.split("\n")[0]}`);
  }
  const data = doc.toJS() as unknown;
  if (typeof data !== "object" || data === null || Array.isArray(data)) fail(display, { line: 1, col: 1 }, "a rule file holds one mapping (id, title, severity, match, …)");
  const kind = (data as { kind?: unknown }).kind;
  const { configRuleSchema, logRuleSchema } = lazy.schema;
  const schema = kind === "config" ? configRuleSchema : logRuleSchema;
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (!issue) fail(display, { line: 1, col: 1 }, "invalid rule");
    const keyPath = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    if (issue.code === "unrecognized_keys") {
      const key = issue.keys[0] ?? "";
      fail(display, keyPosition(doc, counter, keyPath, key), `unknown field \`${[...keyPath, key].join(".")}\`; see docs/rule-format.md for the fields a rule takes`);
    }
    const field = keyPath.length ? `\`${keyPath.join(".")}\`: ` : "";
    fail(display, positionOf(doc, counter, keyPath), `${field}${issue.message}`);
  }
  const spec = parsed.data;
  const expectedId = path.basename(absPath).replace(/\.ya?ml$/, "");
  if (spec.id !== expectedId) fail(display, positionOf(doc, counter, ["id"]), `id \`${spec.id}\` must equal the file name \`${expectedId}\``);
  lastSpec = spec as LogRuleFile | ConfigRuleFile;
  return compileSpec(where, lastSpec);
}

function compileSpec(where: Located, spec: LogRuleFile | ConfigRuleFile): Rule {
  return spec.kind === "config" ? compileConfigRule(where, spec as ConfigRuleFile) : compileLogRule(where, spec as LogRuleFile);
}

/** The validated spec of the last file loadRuleFile read (the packer stores these). */
let lastSpec: LogRuleFile | ConfigRuleFile | null = null;

export interface PackedRule {
  file: string;
  display: string;
  spec: LogRuleFile | ConfigRuleFile;
}

export interface RulePack {
  /** Newest modification time of the rule files it was made from, and how many there were. */
  newestMtimeMs: number;
  files: number;
  rules: PackedRule[];
}

/** Validates every built-in rule file (YAML, schema, regexes, backtracking) into one JSON document. */
export function packBuiltinRules(): RulePack {
  const files = ruleFiles(builtinRulesDir);
  const rules = files.map((file) => {
    const display = path.join("rules", path.relative(builtinRulesDir, file));
    loadRuleFile(file, display);
    return { file: path.relative(builtinRulesDir, file), display, spec: lastSpec as LogRuleFile | ConfigRuleFile };
  });
  return { newestMtimeMs: Math.max(0, ...files.map((f) => statSync(f).mtimeMs)), files: files.length, rules };
}

export const rulePackFile = fileURLToPath(new URL("../rules-pack.json", import.meta.url));

/** The packed built-in rules, when the pack is at least as new as every rule file; else null. */
function loadPackedBuiltin(): Rule[] | null {
  let pack: RulePack;
  try {
    pack = JSON.parse(readFileSync(rulePackFile, "utf8")) as RulePack;
  } catch {
    return null;
  }
  const files = ruleFiles(builtinRulesDir);
  if (files.length !== pack.files || files.some((f) => statSync(f).mtimeMs > pack.newestMtimeMs)) return null;
  return pack.rules.map((r) => compileSpec({ file: r.display, doc: null, counter: null, checkBacktracking: false }, r.spec));
}

function ruleFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...ruleFiles(full));
    else if (/\.ya?ml$/.test(name)) out.push(full);
  }
  return out;
}

/** Loads the built-in pack and each user pack; a duplicate id is an error naming both files. */
export function loadRules(userDirs: string[] = [], options: { builtin?: boolean; cwd?: string } = {}): Rule[] {
  const packed = options.builtin === false ? null : loadPackedBuiltin();
  const dirs = [...(options.builtin === false || packed ? [] : [builtinRulesDir]), ...userDirs.map((d) => path.resolve(options.cwd ?? ".", d))];
  const rules: Rule[] = [...(packed ?? [])];
  const seen = new Map<string, string>(rules.map((r) => [r.id, r.file]));
  for (const dir of dirs) {
    let files: string[];
    try {
      files = statSync(dir).isDirectory() ? ruleFiles(dir) : [dir];
    } catch (error) {
      throw new RuleError(`${dir}: cannot read rules: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such directory" : (error as Error).message}`);
    }
    for (const file of files) {
      const display = dir === builtinRulesDir ? path.join("rules", path.relative(dir, file)) : path.relative(options.cwd ?? process.cwd(), file) || file;
      const rule = loadRuleFile(file, display);
      const earlier = seen.get(rule.id);
      if (earlier) throw new RuleError(`${display}:1:1: duplicate rule id \`${rule.id}\` (also in ${earlier}); give one of them a new id`);
      seen.set(rule.id, display);
      rules.push(rule);
    }
  }
  return rules;
}
