/**
 * The portable suite's entry for runtimes with a command line (Node, Deno, Bun):
 * `<runtime> test/runtimes/cli.ts [--cache-api]`, where `--cache-api` says the runtime has the
 * Cache API. Exits 1 when a test fails.
 */
import { portableSuites, runTests } from "../portable/index.ts";

/** Node's and Bun's `process`, which Deno 2 provides too. */
declare const process: { argv: string[]; exitCode?: number };

const { failed } = await runTests(portableSuites(process.argv.includes("--cache-api")), console.log);
process.exitCode = failed > 0 ? 1 : 0;
