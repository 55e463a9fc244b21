// A finding with every field of the JSON contract filled by a default, for tests that build results by hand.
import type { Finding } from "../../src/model.js";

export function makeFinding(overrides: Partial<Finding> & Pick<Finding, "id" | "ruleId">): Finding {
  return {
    title: overrides.ruleId,
    severity: "error",
    component: null,
    host: null,
    path: "-",
    line: 1,
    timestamp: null,
    message: "",
    count: 1,
    requestIds: [],
    instanceIds: [],
    fields: {},
    remediation: "",
    references: [],
    related: [],
    ...overrides,
  };
}
