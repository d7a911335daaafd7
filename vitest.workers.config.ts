/**
 * The tests that run inside workerd (test/workers): the backend conformance suite against
 * Workers KV and the Cache API, and the example Worker end to end. `npm run test:workers`.
 * Bindings come from the root wrangler.toml (the example Worker's), simulated by miniflare.
 */
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
  test: {
    include: ["test/workers/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
