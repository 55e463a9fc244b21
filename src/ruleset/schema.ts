// The rule file schema (zod); docs/rule-format.md explains each field to rule authors.
import type { z as Z } from "zod";

export const LAYERS = ["hardware", "kernel", "config", "storage", "network", "libvirt", "qemu", "service"] as const;
export const LEVELS = ["TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL"] as const;

/** Builds the schemas with a given zod, so zod loads only when a YAML rule file is read. */
export function buildSchemas(z: typeof Z) {
  const text = z.string().min(1);
  const stringOrList = z.union([text, z.array(text).min(1)]);
  const localized = z.union([text, z.strictObject({ en: text, "zh-CN": text })]);

  const example = z.strictObject({
    line: text,
    source: text.optional(),
    why: text.optional(),
    fields: z.record(z.string(), z.string()).optional(),
    requestIds: z.array(text).optional(),
    instanceIds: z.array(text).optional(),
  });

  const logExamples = z.strictObject({
    source: text.optional(),
    positive: z.array(example).min(1),
    negative: z.array(example.extend({ why: text })).min(1),
    knownGaps: z.array(example.extend({ why: text })).optional(),
  });

  const matchSpec = z.union([
    text,
    z
      .strictObject({ any: z.array(text).min(1).optional(), all: z.array(text).min(1).optional(), not: z.array(text).min(1).optional() })
      .refine((m) => m.any !== undefined || m.all !== undefined, { message: "give `any` or `all`" }),
  ]);

  const common = {
    id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)+$/, "ids are lower-case words joined by '-', e.g. nova-no-valid-host"),
    title: localized,
    severity: z.enum(["critical", "error", "warning", "info"]),
    layer: z.enum(LAYERS).optional(),
    explains: z.array(text).optional(),
    severityAlone: z.enum(["critical", "error", "warning", "info"]).optional(),
    remediation: localized,
    references: z.array(z.url()).min(1),
  };

  const logRuleSchema = z.strictObject({
    ...common,
    kind: z.literal("log").optional(),
    where: z
      .strictObject({
        component: stringOrList.optional(),
        level: z.union([z.enum(LEVELS), z.array(z.enum(LEVELS)).min(1)]).optional(),
        logger: stringOrList.optional(),
      })
      .optional(),
    hint: stringOrList.optional(),
    match: matchSpec,
    flags: z.literal("i").optional(),
    evidence: z.array(z.strictObject({ id: text, match: text })).optional(),
    examples: logExamples,
  });

  const valueTest = {
    notIn: z.array(z.string()).min(1).optional(),
    in: z.array(z.string()).min(1).optional(),
    equals: z.string().optional(),
    matches: text.optional(),
  };

  const configExample = z.strictObject({ file: text, path: text.optional(), why: text.optional(), other: z.strictObject({ file: text, path: text }).optional() });

  const configRuleSchema = z.strictObject({
    ...common,
    kind: z.literal("config"),
    files: z.array(text).min(1),
    check: z.strictObject({
      section: text.optional(),
      sections: z.array(text).min(1).optional(),
      key: text,
      ...valueTest,
      differsFrom: z.strictObject({ files: z.array(text).min(1), section: text.optional(), key: text }).optional(),
      when: z.array(z.strictObject({ section: text.optional(), key: text, missingMeans: z.string().optional(), ...valueTest })).optional(),
      ignoreValues: z.array(z.string()).optional(),
    }),
    examples: z.strictObject({
      positive: z.array(configExample).min(1),
      negative: z.array(configExample.extend({ why: text })).min(1),
    }),
  });
  return { logRuleSchema, configRuleSchema };
}

type Schemas = ReturnType<typeof buildSchemas>;
export type LogRuleFile = Z.infer<Schemas["logRuleSchema"]>;
export type ConfigRuleFile = Z.infer<Schemas["configRuleSchema"]>;
