// The JSON Schema of rule files, generated from the zod schema, so editors validate rules as they are typed.
import { z } from "zod";
import { buildSchemas } from "./schema.js";

export function ruleJsonSchema(): unknown {
  const { logRuleSchema, configRuleSchema } = buildSchemas(z);
  return z.toJSONSchema(z.union([logRuleSchema, configRuleSchema]), { unrepresentable: "any" });
}
