// Writes schema/rule.schema.json from the zod schema (npm run schema); a test fails when it is stale.
import { writeFileSync } from "node:fs";
import { ruleJsonSchema } from "../dist/ruleset/json-schema.js";

writeFileSync(new URL("../schema/rule.schema.json", import.meta.url), `${JSON.stringify(ruleJsonSchema(), null, 2)}\n`);
