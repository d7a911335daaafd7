/**
 * HTTP level: the `npm start` demo server (Hono on @hono/node-server, memory cache) under
 * autocannon on loopback. Requests per second of the cached slow page (every request a hit)
 * against the bare `c.text()` route `/hello`, and the p99 latency of both. The server and
 * autocannon run as separate child processes, so neither steals the other's event loop. The
 * routes alternate over several rounds and the median is reported, since a small machine shared
 * with other work gives noisy single runs.
 * Target: the cached page keeps at least 85% of the bare route's requests per second.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { reportThroughput } from "./lib.ts";

const CONNECTIONS = 50;
const SECONDS = 4;
const ROUNDS = 3;
const autocannonBin = createRequire(import.meta.url).resolve("autocannon/autocannon.js");

interface Load {
  rps: number;
  p99Ms: number;
  bytesPerRequest: number;
  failures: number;
}

/** Start the demo server on a free port; resolves with it and its base URL once it listens. */
async function startDemo(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "examples/node-demo/server.ts"], {
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let printed = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      const match = /listening on (http:\/\/localhost:\d+)/.exec((printed += chunk.toString()));
      if (match) resolve(match[1]!.replace("localhost", "127.0.0.1"));
    });
    child.once("exit", (code) => reject(new Error(`the demo exited with ${code}`)));
  });
  return { child, url };
}

/** A bounded autocannon run (with a one-second warm-up) against `url`. */
async function load(url: string): Promise<Load> {
  const child = spawn(process.execPath, [autocannonBin, "--json", "-c", String(CONNECTIONS), "-d", String(SECONDS), "--warmup", "[", "-c", "10", "-d", "1", "]", url], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await once(child, "exit");
  const result = JSON.parse(output.trim().split("\n").pop()!) as { // the last line is the measured run
    requests: { average: number };
    latency: { p99: number };
    throughput: { average: number };
    errors: number;
    timeouts: number;
    non2xx: number;
  };
  return {
    rps: result.requests.average,
    p99Ms: result.latency.p99,
    bytesPerRequest: result.throughput.average / result.requests.average,
    failures: result.errors + result.timeouts + result.non2xx,
  };
}

const { child, url } = await startDemo();
try {
  const first = await fetch(`${url}/slow`); // the 2 s miss that fills the cache
  await first.text();
  const check = (await fetch(`${url}/slow`)).headers.get("cache-status");
  if (!check?.includes("hit")) throw new Error(`expected /slow to be a hit, got ${check}`);

  const routes = { bare: `${url}/hello`, cached: `${url}/slow` };
  const runs: Record<keyof typeof routes, Load[]> = { bare: [], cached: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of ["bare", "cached"] as const) runs[name].push(await load(routes[name]));
  }
  const median = (loads: Load[], pick: (load: Load) => number) => {
    const sorted = loads.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  reportThroughput(`HTTP, ${CONNECTIONS} connections, median of ${ROUNDS} × ${SECONDS} s (requests per second)`, [
    ["bare c.text() /hello (baseline)", median(runs.bare, (run) => run.rps)],
    ["cachePage hit /slow (memory)", median(runs.cached, (run) => run.rps)],
  ]);
  for (const [name, loads] of Object.entries(runs)) {
    const failures = loads.reduce((sum, run) => sum + run.failures, 0);
    console.log(`  ${name.padEnd(7)} p99 by round ${loads.map((run) => `${run.p99Ms} ms`).join(", ")}; rps by round ${loads.map((run) => Math.round(run.rps)).join(", ")}; ${Math.round(median(loads, (run) => run.bytesPerRequest))} bytes/response; ${failures} errors or non-2xx`);
  }
} finally {
  child.kill("SIGTERM");
  await once(child, "exit");
}
