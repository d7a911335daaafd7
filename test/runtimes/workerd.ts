/**
 * workerd for the runtime matrix: bundle a Worker module with esbuild (workerd runs JavaScript,
 * and the sources import npm packages) and run it in Miniflare, the local workerd that
 * `@cloudflare/vitest-pool-workers` and wrangler use.
 */
import { readFile } from "node:fs/promises";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import type { Finished } from "./processes.ts";


/** What a Worker under test is given besides its code. */
export interface WorkerdOptions {
  bindings?: Record<string, string>;
  compatibilityFlags?: string[];
}

/**
 * A Worker bundled from `entry` and running in workerd, with the compatibility date of the
 * repository's wrangler.toml (so it sees what the Workers examples see); `dispose` stops it.
 *
 * @example
 * const worker = await startWorkerd("test/workers/memcached-worker.ts", { bindings: { MEMCACHED: "127.0.0.1:40000" } });
 * const response = await worker.fetch("/counter");
 */
export async function startWorkerd(entry: string, options: WorkerdOptions = {}): Promise<{ fetch(path: string): Promise<Response>; dispose(): Promise<void> }> {
  const bundle = await build({
    // As wrangler bundles: esbuild's browser platform (so packages' `browser` fields apply) and
    // the Workers export conditions.
    entryPoints: [entry], bundle: true, write: false, format: "esm", platform: "browser", target: "es2022",
    conditions: ["workerd", "worker", "browser"], logLevel: "error",
    external: ["cloudflare:*", "node:*"],
  });
  const compatibilityDate = /^compatibility_date\s*=\s*"([\d-]+)"/m.exec(await readFile("wrangler.toml", "utf8"))?.[1];
  if (!compatibilityDate) throw new Error("wrangler.toml has no compatibility_date");
  const miniflare = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: bundle.outputFiles[0]!.text }],
    compatibilityDate,
    ...options,
  });
  await miniflare.ready;
  return {
    fetch: async (path) => (await miniflare.dispatchFetch(`http://worker.test${path}`)) as unknown as Response,
    dispose: () => miniflare.dispose(),
  };
}

/**
 * Bundle `entry` (a module whose default export has `fetch`), run it in workerd, fetch it once
 * and return the answer as a finished command: code 0 for a 2xx, 1 otherwise.
 *
 * @example
 * const { code, output } = await runInWorkerd("test/runtimes/worker.ts");
 */
export async function runInWorkerd(entry: string): Promise<Finished> {
  const worker = await startWorkerd(entry);
  try {
    const response = await worker.fetch("/");
    const output = await response.text();
    return { code: response.ok ? 0 : 1, output, stdout: output };
  } finally {
    await worker.dispose();
  }
}
