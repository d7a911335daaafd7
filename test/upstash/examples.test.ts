/** The two Upstash examples, run against the local Upstash server as their runtimes would run them. */
import { describe, expect, it, vi } from "vitest";
import { useUpstashStack } from "./stack.ts";

const stack = useUpstashStack();

describe("examples/upstash-worker", () => {
  it("caches the report across requests and counts visits atomically", async () => {
    const { default: worker } = await import("../../examples/upstash-worker/index.ts");
    const env = { UPSTASH_REDIS_REST_URL: stack().server.url, UPSTASH_REDIS_REST_TOKEN: stack().server.token };
    const get = async (path: string) => (await worker.fetch(new Request(`https://example.com${path}`), env)).json();

    const first = await get("/reports/daily");
    expect(first).toMatchObject({ path: "/reports/daily" });
    expect(await get("/reports/daily")).toEqual(first);
    expect(await get("/visits")).toEqual({ visits: 1 });
    expect(await Promise.all([get("/visits"), get("/visits")])).toEqual(expect.arrayContaining([{ visits: 2 }, { visits: 3 }]));
  });
});

describe("examples/upstash-deno", () => {
  const environment: Record<string, string> = {};
  const load = async () => {
    Object.assign(globalThis, { Deno: { env: { get: (name: string) => environment[name] } } });
    return (await import("../../examples/upstash-deno/main.ts")).default;
  };
  const call = async (server: Awaited<ReturnType<typeof load>>, hostname: string) => {
    const response = await server.fetch(new Request("http://localhost:8000/"), { remoteAddr: { hostname } });
    return [response.status, await response.text()] as const;
  };

  it("allows five requests per window and client, then answers 429", async () => {
    Object.assign(environment, { UPSTASH_REDIS_REST_URL: stack().server.url, UPSTASH_REDIS_REST_TOKEN: stack().server.token });
    const server = await load();
    vi.useFakeTimers({ toFake: ["Date"], now: Date.UTC(2026, 0, 1, 12, 0, 1) }); // well inside one 10 s window
    try {
      const answers = await Promise.all(Array.from({ length: 6 }, () => call(server, "203.0.113.7")));
      expect(answers.map(([status]) => status).sort()).toEqual([200, 200, 200, 200, 200, 429]);
      expect(await call(server, "198.51.100.1")).toEqual([200, "hello (request 1 of 5 in this window)\n"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("fails open when Upstash cannot reach Redis", async () => {
    const server = await load();
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    await stack().redis.stop();
    expect(await call(server, "192.0.2.1")).toEqual([200, "hello (not counted)\n"]);
    expect(logged).toHaveBeenCalledOnce();
    logged.mockRestore();
  });
});
