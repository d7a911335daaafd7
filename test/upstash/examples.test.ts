/** The two Upstash examples, run against the local Upstash server as their runtimes would run them. */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { useUpstashStack } from "./stack.ts";

const stack = useUpstashStack();

describe("examples/upstash-worker", () => {
  it("caches report pages in Upstash and counts visits atomically", async () => {
    const { default: worker } = await import("../../examples/upstash-worker/index.ts");
    const env = { UPSTASH_REDIS_REST_URL: stack().server.url, UPSTASH_REDIS_REST_TOKEN: stack().server.token };
    const get = async (path: string) => {
      const writes: Promise<unknown>[] = [];
      const response = await worker.fetch(new Request(`https://example.com${path}`), env, { waitUntil: (write) => writes.push(write) });
      const body = await response.text();
      await Promise.all(writes);
      return { status: response.headers.get("cache-status"), body };
    };

    const first = await get("/reports/daily");
    expect(first).toMatchObject({ status: expect.stringMatching(/fwd=uri-miss; stored/), body: expect.stringContaining("<h1>Report daily</h1>") });
    expect(await get("/reports/daily")).toEqual({ status: expect.stringMatching(/; hit; ttl=/), body: first.body });
    const visits = await Promise.all(Array.from({ length: 10 }, async () => JSON.parse((await get("/visits")).body) as { visits: number }));
    expect(visits.map(({ visits }) => visits).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(await get("/reports/%3Cimg%20src%3Dx%3E")).toMatchObject({ body: expect.stringContaining("<h1>Report &#60;img src=x&#62;</h1>") });
    expect(await get("/favicon.ico")).toEqual({ status: null, body: "not found\n" }); // no page, so no write for any URL
  });

  it("answers 503 for the counter while Upstash cannot be reached", async () => {
    vi.resetModules(); // the example keeps one cache per isolate: a fresh one, over nothing
    const { default: worker } = await import("../../examples/upstash-worker/index.ts");
    const env = { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1", UPSTASH_REDIS_REST_TOKEN: "token" };
    const response = await worker.fetch(new Request("https://example.com/visits"), env, { waitUntil: () => {} });
    expect(response.status).toBe(503);
  });
});

describe("examples/upstash-deno, under deno serve", () => {
  let deno: ChildProcess;
  let origin: string;
  beforeAll(async () => {
    deno = spawn("node_modules/.bin/deno", ["serve", "--host", "127.0.0.1", "--port", "0", "--allow-net", "--allow-env", "--allow-read", "examples/upstash-deno/main.ts"], {
      env: { ...process.env, UPSTASH_REDIS_REST_URL: stack().server.url, UPSTASH_REDIS_REST_TOKEN: stack().server.token, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    origin = await new Promise<string>((resolve, reject) => {
      const listen = (chunk: Buffer) => {
        output += chunk.toString();
        const listening = /Listening on (http:\/\/[\d.]+:\d+)/.exec(output);
        if (listening) resolve(listening[1]!);
      };
      deno.stdout!.on("data", listen);
      deno.stderr!.on("data", listen);
      deno.once("exit", (code) => reject(new Error(`deno serve exited with ${code}:\n${output}`)));
    });
  });
  afterAll(async () => {
    const exited = once(deno, "exit");
    deno.kill("SIGTERM");
    await exited;
  });
  const call = async () => {
    const response = await fetch(origin);
    return [response.status, await response.text()] as const;
  };

  it("allows five requests per window and client, then answers 429", async () => {
    const intoWindow = Date.now() % 10_000;
    if (intoWindow > 8_500) await new Promise((resolve) => setTimeout(resolve, 10_100 - intoWindow)); // stay inside one window
    const answers = await Promise.all(Array.from({ length: 6 }, call));
    expect(answers.map(([status]) => status).sort()).toEqual([200, 200, 200, 200, 200, 429]);
    expect(answers.map(([, text]) => text)).toContain("hello (request 5 of 5 in this window)\n");
  });

  it("fails open when Upstash cannot reach Redis", async () => {
    await stack().redis.stop();
    expect(await call()).toEqual([200, "hello (not counted)\n"]);
  });
});
