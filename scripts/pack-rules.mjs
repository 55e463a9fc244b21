// Validates the built-in rules and writes dist/rules-pack.json, so `cloudtriage scan` starts without YAML or zod.
import { writeFileSync } from "node:fs";
import { packBuiltinRules, rulePackFile } from "../dist/ruleset/load.js";

try {
  writeFileSync(rulePackFile, `${JSON.stringify(packBuiltinRules())}\n`);
} catch (error) {
  console.error(`cloudtriage: ${error.message}`);
  process.exit(2);
}
