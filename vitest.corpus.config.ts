import { defineConfig } from "vitest/config";

// Scans ../shared/corpus (real logs published by other projects) when it is present.
export default defineConfig({
  test: {
    include: ["test/corpus/**/*.test.ts"],
    allowOnly: false,
    testTimeout: 300_000,
  },
});
