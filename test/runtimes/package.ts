/**
 * The published shape: `npm run build` emits ESM with declarations for every entry point in
 * package.json's `exports`, Node 20 imports (and requires) the build by the package's public names, `npm pack`
 * ships only the build and the docs, and jsr.json lets Deno publish (and import) the sources.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { equal, ok, suite } from "../portable/harness.ts";
import { BINARIES, runCommand } from "./processes.ts";

const LIMIT_MS = 120_000;

/** The adapters users can import (`edgecache/adapters/<name>`): one top-level module each. */
async function adapterNames(): Promise<string[]> {
  return (await readdir("adapters")).filter((file) => file.endsWith(".ts")).map((file) => file.slice(0, -3)).sort();
}

/** The public entry points by import name: the core, the Hono middleware, OpenTelemetry and every adapter. */
async function entryPoints(): Promise<Record<string, string>> {
  const names = await adapterNames();
  return { ".": "src/index", "./hono": "src/hono", "./otel": "src/otel", ...Object.fromEntries(names.map((name) => [`./adapters/${name}`, `adapters/${name}`])) };
}

/** A script for `node --input-type=module` that imports every entry point by its public name and serves one page twice. */
function smokeScript(specifiers: string[]): string {
  return `
    const modules = await Promise.all(${JSON.stringify(specifiers)}.map((specifier) => import(specifier)));
    const { cachePage, createCache } = modules[0];
    const { memory } = await import("edgecache/adapters/memory");
    const writes = [];
    const handler = cachePage(60, { cache: createCache({ backend: memory() }), waitUntil: (write) => writes.push(write) })(() => new Response("page"));
    const statuses = [];
    for (let i = 0; i < 2; i++) {
      const response = await handler(new Request("https://example.com/"));
      await response.text();
      await Promise.all(writes);
      statuses.push(response.headers.get("cache-status"));
    }
    console.log(JSON.stringify({ exports: modules.map((module) => Object.keys(module).length), statuses }));`;
}

/**
 * The package suite, run by the matrix driver under Node 20.
 *
 * @example
 * await runTests([packageShape], console.log);
 */
export default suite("package", (test) => {
  test("npm run build emits ESM and declarations for every entry point", async () => {
    const build = await runCommand("npm", ["run", "--silent", "build"], LIMIT_MS);
    ok(build.code === 0, `npm run build failed:\n${build.output}`);
    const missing = Object.values(await entryPoints()).flatMap((path) => [`dist/${path}.js`, `dist/${path}.d.ts`]).filter((file) => !existsSync(file));
    equal(missing, [], "built files missing");
  });

  test("Node 20 imports the build by the package's public names", async () => {
    const specifiers = Object.keys(await entryPoints()).map((entry) => `edgecache${entry.slice(1)}`);
    const smoke = await runCommand(process.execPath, ["--input-type=module", "-e", smokeScript(specifiers)], LIMIT_MS);
    ok(smoke.code === 0, `the smoke import failed:\n${smoke.output}`);
    const { exports, statuses } = JSON.parse(smoke.stdout) as { exports: number[]; statuses: string[] };
    ok(exports.every((count) => count > 0), "every entry point exports something");
    equal(statuses, ["edgecache; fwd=uri-miss; stored", "edgecache; hit; ttl=60"]);
  });

  test("package.json exports each entry point by name, Node 20 require()s them (require of ESM), and none of the adapters' inner modules", async () => {
    const { exports } = JSON.parse(await readFile("package.json", "utf8")) as { exports: Record<string, unknown> };
    const entries = await entryPoints();
    equal(Object.keys(exports).filter((entry) => entry !== "./package.json").sort(), Object.keys(entries).sort(), "package.json exports");
    const specifiers = Object.keys(entries).map((entry) => `edgecache${entry.slice(1)}`);
    const script = `
      const loaded = ${JSON.stringify(specifiers)}.map((specifier) => Object.keys(require(specifier)).length);
      const inner = ["edgecache/adapters/memcached/commands", "edgecache/adapters/cloudflare/keys"].map((specifier) => {
        try { require(specifier); return "loaded"; } catch (error) { return error.code; }
      });
      console.log(JSON.stringify({ loaded, inner }));`;
    const run = await runCommand(process.execPath, ["--no-warnings", "-e", script], LIMIT_MS);
    ok(run.code === 0, `the require()s failed:\n${run.output}`);
    const { loaded, inner } = JSON.parse(run.stdout) as { loaded: number[]; inner: string[] };
    ok(loaded.every((count) => count > 0), "every entry point exports something");
    equal(inner, ["ERR_PACKAGE_PATH_NOT_EXPORTED", "ERR_PACKAGE_PATH_NOT_EXPORTED"]);
  });

  test("npm pack ships the build, the README and the docs, and nothing else", async () => {
    const pack = await runCommand("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], LIMIT_MS);
    ok(pack.code === 0, `npm pack failed:\n${pack.output}`);
    const [{ files }] = JSON.parse(pack.stdout) as [{ files: { path: string }[] }];
    const unexpected = files.map(({ path }) => path).filter((path) =>
      !/^(package\.json|README\.md|LICENSE|docs\/[\w-]+\.md|dist\/(src|adapters)\/[\w/-]+\.(js|d\.ts))$/.test(path));
    equal(unexpected, [], "files users do not need");
    ok(files.some(({ path }) => path === "dist/src/index.js"), "the package ships dist/src/index.js");
  });

  test("jsr.json exports every entry point from source, and deno publish accepts it", async () => {
    const jsr = JSON.parse(await readFile("jsr.json", "utf8")) as { exports: Record<string, string> };
    const expected = Object.fromEntries(Object.entries(await entryPoints()).map(([entry, path]) => [entry, `./${path}.ts`]));
    equal(jsr.exports, expected, "jsr.json exports");
    const publish = await runCommand(BINARIES.deno, ["publish", "--dry-run", "--allow-dirty"], LIMIT_MS);
    ok(publish.code === 0, `deno publish --dry-run failed:\n${publish.output}`);
  });
});
