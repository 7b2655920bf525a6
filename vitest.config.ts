import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end tests start processes and servers; two workers on two cores.
    maxWorkers: 2,
    reporters: ["default"],
    globalSetup: ["test/global-setup.ts"],
  },
});
