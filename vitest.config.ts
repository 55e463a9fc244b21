import { defineConfig } from "vitest/config";

// The unit and fixture suite: runs on a clean clone with nothing beside it.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/corpus/**"],
    allowOnly: false,
    testTimeout: 60_000,
    globalSetup: ["test/global-tmp.ts"],
  },
});
