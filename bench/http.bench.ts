/**
 * HTTP level: the `npm start` demo server (Hono on @hono/node-server, memory cache) under
 * autocannon on loopback. Requests per second of the cached slow page (every request a hit)
 * against the bare `c.text()` route `/hello`, and the p99 latency of both. A third row is the
 * floor any cache can reach here: a server whose async middleware answers with the cached page's
 * exact bytes and headers, prebuilt, looking nothing up (`bench/http/prebuilt-server.ts`). The
 * servers and autocannon run as separate child processes, so none steals another's event loop.
 * The routes alternate over several rounds and the median is reported, since a small machine
 * shared with other work gives noisy single runs.
 * Target: the cached page keeps at least 85% of the bare route's requests per second.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import type { CapturedPage } from "./http/prebuilt-server.ts";
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

/** Start a server script on a free port; resolves with it and its base URL once it listens. */
async function startServer(script: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    env: { ...process.env, ...env, PORT: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let printed = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      const match = /listening on (http:\/\/localhost:\d+)/.exec((printed += chunk.toString()));
      if (match) resolve(match[1]!.replace("localhost", "127.0.0.1"));
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, url };
}

/** The cached page as the demo serves it on a hit, minus what Node adds to every response. */
async function capture(url: string): Promise<CapturedPage> {
  const response = await fetch(url);
  const headers = [...response.headers].filter(([name]) => !["date", "connection", "keep-alive", "content-length", "transfer-encoding"].includes(name));
  return { status: response.status, headers, body: Buffer.from(await response.arrayBuffer()).toString("base64") };
}

/** Start the demo server (`npm start`'s) on a free port. */
const startDemo = () => startServer("examples/node-demo/server.ts");

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

const demo = await startDemo();
let floor: Awaited<ReturnType<typeof startServer>> | undefined;
try {
  const { url } = demo;
  const first = await fetch(`${url}/slow`); // the 2 s miss that fills the cache
  await first.text();
  const check = (await fetch(`${url}/slow`)).headers.get("cache-status");
  if (!check?.includes("hit")) throw new Error(`expected /slow to be a hit, got ${check}`);
  floor = await startServer("bench/http/prebuilt-server.ts", { PAGE: JSON.stringify(await capture(`${url}/slow`)) });

  const routes = { bare: `${url}/hello`, floor: `${floor.url}/prebuilt`, cached: `${url}/slow` };
  const runs: Record<keyof typeof routes, Load[]> = { bare: [], floor: [], cached: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of ["bare", "floor", "cached"] as const) runs[name].push(await load(routes[name]));
  }
  const median = (loads: Load[], pick: (load: Load) => number) => {
    const sorted = loads.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  reportThroughput(`HTTP, ${CONNECTIONS} connections, median of ${ROUNDS} × ${SECONDS} s (requests per second)`, [
    ["bare c.text() /hello (baseline)", median(runs.bare, (run) => run.rps)],
    ["floor: the same page prebuilt", median(runs.floor, (run) => run.rps)],
    ["cachePage hit /slow (memory)", median(runs.cached, (run) => run.rps)],
  ]);
  for (const [name, loads] of Object.entries(runs)) {
    const failures = loads.reduce((sum, run) => sum + run.failures, 0);
    console.log(`  ${name.padEnd(7)} p99 by round ${loads.map((run) => `${run.p99Ms} ms`).join(", ")}; rps by round ${loads.map((run) => Math.round(run.rps)).join(", ")}; ${Math.round(median(loads, (run) => run.bytesPerRequest))} bytes/response; ${failures} errors or non-2xx`);
  }
} finally {
  for (const { child } of [demo, ...(floor ? [floor] : [])]) {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
}
