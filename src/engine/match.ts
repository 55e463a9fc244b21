// Matches decoded records against log rules; only the rules whose hint the prefilter saw are tried.
import type { LogRecord } from "../model.js";
import { nameMatches, type LogRule } from "../ruleset/rule.js";
import { buildPrefilter, escapedForm, type Prefilter } from "./prefilter.js";

export interface RuleMatch {
  rule: LogRule;
  fields: Record<string, string>;
}

/** Regexes see at most this much of a record, so a pathological line costs bounded time. */
export const maxMatchChars = 64 * 1024;

export class Engine {
  readonly prefilter: Prefilter;
  /** For each prefilter literal, the rules (indexes into `rules`) that hint it. */
  private readonly rulesOfLiteral: number[][];

  constructor(readonly rules: LogRule[]) {
    const literalIds = new Map<string, number>();
    const rulesOfLiteral: number[][] = [];
    const add = (literal: string, ruleIndex: number) => {
      const key = literal.toLowerCase();
      let id = literalIds.get(key);
      if (id === undefined) {
        id = rulesOfLiteral.length;
        literalIds.set(key, id);
        rulesOfLiteral.push([]);
      }
      const owners = rulesOfLiteral[id] as number[];
      if (!owners.includes(ruleIndex)) owners.push(ruleIndex);
    };
    rules.forEach((rule, index) => {
      for (const hint of rule.hints) {
        add(hint, index);
        const escaped = escapedForm(hint);
        if (escaped) add(escaped, index);
      }
    });
    this.rulesOfLiteral = rulesOfLiteral;
    this.prefilter = buildPrefilter([...literalIds.keys()]);
  }

  /** The literal ids that this rule alone hints: a record holding only those can be a candidate for no other rule. */
  hintsOnlyOf(ruleId: string): Set<number> {
    const index = this.rules.findIndex((r) => r.id === ruleId);
    const out = new Set<number>();
    this.rulesOfLiteral.forEach((owners, id) => {
      if (owners.length === 1 && owners[0] === index) out.add(id);
    });
    return out;
  }

  /** The rules worth trying on a record whose bytes contain these literal ids. */
  candidates(hits: number[]): number[] {
    if (hits.length === 1) return this.rulesOfLiteral[hits[0] ?? 0] ?? [];
    const out = new Set<number>();
    for (const hit of hits) for (const rule of this.rulesOfLiteral[hit] ?? []) out.add(rule);
    return [...out].sort((a, b) => a - b);
  }

  matchRecord(record: LogRecord, candidates: number[]): RuleMatch[] {
    const matches: RuleMatch[] = [];
    const text = record.message.length > maxMatchChars ? record.message.slice(0, maxMatchChars) : record.message;
    for (const index of candidates) {
      const rule = this.rules[index];
      if (!rule) continue;
      const fields = matchRule(rule, record, text);
      if (fields) matches.push({ rule, fields });
    }
    return matches;
  }
}

/** The captures of a matching rule, or null. A rule sees the message, never the line prefix. */
export function matchRule(rule: LogRule, record: LogRecord, text: string): Record<string, string> | null {
  const where = rule.where;
  if (where.level && (record.level === null || !where.level.has(record.level))) return null;
  if (!nameMatches(where.component, record.component)) return null;
  if (!nameMatches(where.logger, record.logger)) return null;
  let captured: RegExpExecArray | null = null;
  if (rule.any.length > 0) {
    for (const regex of rule.any) {
      captured = regex.exec(text);
      if (captured) break;
    }
    if (!captured) return null;
  }
  for (const regex of rule.all) {
    const m = regex.exec(text);
    if (!m) return null;
    captured ??= m;
  }
  for (const regex of rule.not) if (regex.test(text)) return null;
  const fields: Record<string, string> = {};
  const groups = captured?.groups;
  if (groups) for (const [name, value] of Object.entries(groups)) if (value !== undefined) fields[name] = value.trim();
  return fields;
}
