// Lint: typescript-eslint recommended, plus the stage boundaries of STYLE.md.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const pureStage = {
  patterns: [
    { group: ["node:fs", "node:fs/*", "fs", "node:process", "process", "node:child_process"], message: "Pure stages do no I/O." },
    { group: ["**/cli/*"], message: "Only src/cli touches argv, env and stdio." },
  ],
};

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "bench-out/**", "fixtures/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Logs carry ANSI escapes and NUL bytes; matching them is the point.
      "no-control-regex": "off",
    },
  },
  {
    files: ["src/parser/**/*.ts", "src/engine/**/*.ts", "src/redact/**/*.ts", "src/reporters/**/*.ts"],
    rules: { "no-restricted-imports": ["error", pureStage] },
  },
);
