/**
 * The portable suite: every behaviour the core, the HTTP helpers, page caching, the Hono
 * middleware and the OpenTelemetry hooks promise on any runtime with Web standards, as a list of
 * suites for `runTests`.
 */
import { cacheApiSuite } from "./cache-api.ts";
import core from "./core.ts";
import type { Suite } from "./harness.ts";
import hono from "./hono.ts";
import http from "./http.ts";
import otel from "./otel.ts";
import pages from "./pages.ts";

export { runTests } from "./harness.ts";

/**
 * The suites a runtime runs: all of them, with the Cache API checks for a runtime that has
 * `caches` (`true`) or must report it unavailable (`false`).
 *
 * @example
 * const { failed } = await runTests(portableSuites(false), console.log);
 */
export function portableSuites(runtimeHasCacheApi: boolean): readonly Suite[] {
  return [core, http, pages, hono, otel, cacheApiSuite(runtimeHasCacheApi)];
}
