/** The Cache API backend over a cache that fails (a runtime's cache service gone away): misses and errors, never an unhandled rejection. */
import { expect, it } from "vitest";
import { cacheApi } from "../adapters/cache-api.ts";

it("leaves no rejection unhandled when reads of an entry and of the generation token both fail", async () => {
  const unhandled: unknown[] = [];
  const hear = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", hear);
  try {
    const failing = {
      match: () => Promise.reject(new Error("cache service gone")),
      put: () => Promise.reject(new Error("cache service gone")),
      delete: () => Promise.reject(new Error("cache service gone")),
    };
    const backend = cacheApi({ cache: failing });
    const reads = await Promise.allSettled([backend.get("a"), backend.get("b"), backend.get("c")]);
    expect(reads.map((read) => read.status)).toEqual(["rejected", "rejected", "rejected"]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(unhandled).toEqual([]);
  } finally {
    process.off("unhandledRejection", hear);
  }
});
