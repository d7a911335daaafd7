/**
 * The runtime matrix (`npm run test:runtimes`): the portable suite (test/portable) under Node 20,
 * 22 and 24, Deno, Bun and workerd, then the examples, the memcached adapter on those runtimes
 * against real memcached processes, and the package's published shape. Two
 * jobs run at a time (CI has 2 cores). When a job ends its lines are printed, each prefixed with
 * the job's name; at the end come one `name: N passed, N failed` line per job and a closing
 * `runtimes: N passed, N failed`. The exit code is 1 when anything failed, and the failed jobs are
 * named.
 *
 * Node 22 and 24 come from the runtimes/ package (`npm install --prefix runtimes`); Deno and Bun from
 * the devDependencies; workerd from Miniflare.
 */
import { existsSync } from "node:fs";
import { runTests, type Suite } from "../portable/harness.ts";
import examples from "./examples.ts";
import memcachedRuntimes from "./memcached.ts";
import packageShape from "./package.ts";
import { BINARIES, type Finished, runCommand } from "./processes.ts";
import { runInWorkerd } from "./workerd.ts";

/** The portable suite's command-line entry; `--cache-api` tells it the runtime has the Cache API. */
const ENTRY = "test/runtimes/cli.ts";
const LIMIT_MS = 120_000;
/**
 * Node 22 and 24 run the TypeScript sources with Node's own type stripping (the default from
 * Node 22.18); tsconfig's `erasableSyntaxOnly` keeps the sources strippable.
 */
const NODE_TYPESCRIPT = ["--no-warnings"];

/** One row of the matrix: its name and how to get its report. */
interface Job {
  name: string;
  run: () => Promise<Finished>;
}

function command(name: string, binary: string, args: readonly string[], setup = "npm install"): Job {
  const missing = { code: 1, output: `${binary} is missing: run \`${setup}\``, stdout: "" };
  return { name, run: () => (existsSync(binary) ? runCommand(binary, args, LIMIT_MS) : Promise.resolve(missing)) };
}

function nodeFromRuntimes(version: 22 | 24): Job {
  return command(`node${version}`, BINARIES[`node${version}`], [...NODE_TYPESCRIPT, ENTRY], "npm install --prefix runtimes");
}

/** A suite that needs Node's APIs, run in this process (Node 20). */
function inProcess(suite: Suite): Job {
  return {
    name: suite.name,
    run: async () => {
      const lines: string[] = [];
      const { failed } = await runTests([suite], (line) => lines.push(line));
      const output = lines.join("\n");
      return { code: failed > 0 ? 1 : 0, output, stdout: output };
    },
  };
}

const jobs: Job[] = [
  command("node20", process.execPath, ["--import", "tsx", ENTRY]),
  nodeFromRuntimes(22),
  nodeFromRuntimes(24),
  command("deno", BINARIES.deno, ["run", "--no-prompt", ENTRY, "--cache-api"]),
  command("bun", BINARIES.bun, [ENTRY]),
  {
    name: "workerd",
    run: () => runInWorkerd("test/runtimes/worker.ts").catch((error: unknown) => ({ code: 1, output: String(error), stdout: "" })),
  },
  inProcess(examples),
  inProcess(memcachedRuntimes),
  inProcess(packageShape),
];

/** The counts a job reported in its closing line; a crash or a non-zero exit without failures counts as one failure. */
function tally({ code, output }: Finished): { passed: number; failed: number } {
  const closing = [...output.matchAll(/^(\d+) passed, (\d+) failed$/gm)].at(-1);
  const passed = Number(closing?.[1] ?? 0);
  const failed = Number(closing?.[2] ?? 0);
  return { passed, failed: code !== 0 && failed === 0 ? 1 : failed };
}

const results = new Map<string, { passed: number; failed: number }>();
const queue = [...jobs];
const worker = async () => {
  for (let job = queue.shift(); job; job = queue.shift()) {
    const started = Date.now();
    const finished = await job.run();
    const counts = tally(finished);
    results.set(job.name, counts);
    const prefix = `[${job.name}] `;
    console.log(prefix + finished.output.trimEnd().split("\n").join(`\n${prefix}`));
    if (finished.code !== 0) console.log(`${prefix}exited with code ${finished.code}`);
    console.log(`${prefix}took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
};
await Promise.all([worker(), worker()]);

console.log("");
let passed = 0;
let failed = 0;
for (const { name } of jobs) {
  const counts = results.get(name)!;
  passed += counts.passed;
  failed += counts.failed;
  console.log(`${name}: ${counts.passed} passed, ${counts.failed} failed`);
}
const failing = jobs.filter(({ name }) => results.get(name)!.failed > 0).map(({ name }) => name);
if (failing.length > 0) console.log(`failed on: ${failing.join(", ")}`);
console.log(`runtimes: ${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
