import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { Redis } from "@upstash/redis";
import { upstash } from "../../adapters/upstash.ts";
import { createCache } from "../../src/cache.ts";
import { BackendTimeoutError, BackendUnavailableError } from "../../src/errors.ts";
import { RespConnection } from "../fixtures/redis.ts";
import { useUpstashStack } from "./stack.ts";

const stack = useUpstashStack("test");

describe("upstash failures", () => {
  it("a wrong token gives a clear error from the low-level API, without the request body in it", async () => {
    const cache = createCache({ backend: upstash({ url: stack().server.url, token: "wrong-token" }) });
    const failure = await cache.set("k", "a value that should not be echoed").catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(BackendUnavailableError);
    expect((failure as Error).message).toMatch(/^upstash set failed: WRONGPASS .*the server rejected the token/);
    expect((failure as Error).message).not.toContain("b64:");
    // Nor in its cause, which loggers print (console.error, util.inspect), stack included.
    expect(inspect(failure, { depth: 5 })).not.toContain("b64:");
    expect(inspect(failure, { depth: 5 })).not.toContain("command was");
    expect(((failure as Error).cause as Error).message).toMatch(/^WRONGPASS/);
  });

  it("keeps the request body out of the error of a client of your own that wraps the client's errors in its own", async () => {
    const inner = new Redis({ url: stack().server.url, token: "wrong-token" });
    const wrapping = new Proxy(inner, {
      get(target, name, receiver) {
        const member = Reflect.get(target, name, receiver) as unknown;
        if (typeof member !== "function") return member;
        return async (...args: unknown[]) => {
          try {
            return await (member as (...args: unknown[]) => Promise<unknown>).apply(target, args);
          } catch (error) {
            throw new Error(`redis ${String(name)} failed`, { cause: error });
          }
        };
      },
    });
    const failure = await upstash({ client: wrapping }).set("k", new TextEncoder().encode("a value that should not be echoed"), 60).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(BackendUnavailableError);
    expect(inspect(failure, { depth: 8 })).not.toContain("command was");
    expect((failure as Error).message).toMatch(/^upstash set failed: WRONGPASS .*the server rejected the token/); // Redis's reason, from the cause
  });

  it("names the failure of a client that throws something that cannot even be shown (an object without toString)", async () => {
    const odd = Object.create(null) as object;
    const throwing = new Proxy(stack().client(), { get: (target, name, receiver) => (name === "set" ? () => Promise.reject(odd) : Reflect.get(target, name, receiver)) });
    const failure = await upstash({ client: throwing }).set("k", new TextEncoder().encode("v"), 60).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(BackendUnavailableError);
    expect((failure as Error).message).toMatch(/^upstash set failed: /);
  });

  it("keeps the request body out of the error of a client that throws its report as a string", async () => {
    const report = "ERR wrong number of arguments, command was: [[\"set\",\"k\",\"b64:c2VjcmV0\"]]";
    const throwing = new Proxy(stack().client(), { get: (target, name, receiver) => (name === "set" ? () => Promise.reject(report) : Reflect.get(target, name, receiver)) });
    const failure = await upstash({ client: throwing }).set("k", new TextEncoder().encode("secret"), 60).catch((error: unknown) => error);
    expect((failure as Error).message).toBe("upstash set failed: ERR wrong number of arguments");
    expect(inspect(failure, { depth: 8 })).not.toContain("b64:");
  });

  it("a wrong token makes reads miss when the cache ignores errors, and onError hears why", async () => {
    const errors: unknown[] = [];
    const cache = createCache({
      backend: upstash({ url: stack().server.url, token: "wrong-token" }),
      ignoreErrors: true,
      onError: (error) => errors.push(error),
    });
    expect(await cache.get("k", { default: "fallback" })).toBe("fallback");
    expect(errors).toEqual([expect.any(BackendUnavailableError)]);
  });

  it("Redis stopped mid-test: calls fail fast, and a cache that ignores errors misses", async () => {
    const errors: unknown[] = [];
    const backend = upstash({ client: stack().client(), prefix: "stopped" });
    const cache = createCache({ backend, ignoreErrors: true, onError: (error) => errors.push(error) });
    await cache.set("k", "v");
    expect(await cache.get("k")).toBe("v");

    await stack().redis.stop();
    const started = performance.now();
    expect(await cache.get("k")).toBeUndefined();
    expect(await cache.getMany(["k"])).toEqual(new Map());
    expect(await cache.add("k", "v")).toBe(false);
    await expect(backend.get("k")).rejects.toThrow(/upstash get failed: ERR Redis is unreachable/);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(errors).toHaveLength(3);
  });

  it("Redis frozen mid-test: operations give up after timeoutMs, and a cache that ignores errors misses", async () => {
    const errors: unknown[] = [];
    const backend = upstash({ url: stack().server.url, token: stack().server.token, prefix: "frozen", timeoutMs: 200 });
    const cache = createCache({ backend, ignoreErrors: true, onError: (error) => errors.push(error) });
    await cache.set("k", "v");
    expect(await cache.get("k")).toBe("v");

    stack().redis.freeze(); // the REST server takes each request and waits on Redis for ever
    await expect(backend.get("k")).rejects.toThrow(new BackendTimeoutError("upstash get failed: no answer within options.timeoutMs"));
    expect(await cache.get("k", { default: "fallback" })).toBe("fallback");
    expect(await cache.add("k", "w")).toBe(false);
    expect(errors.map(String)).toEqual([
      "BackendTimeoutError: upstash get failed: no answer within options.timeoutMs", // what page caching's circuit breaker counts
      "BackendTimeoutError: upstash add failed: no answer within options.timeoutMs",
    ]);

    stack().redis.thaw();
    expect(await cache.get("k")).toBe("v");
  });

  it("REST server unreachable: an operation gives up within timeoutMs, the client's pauses between retries included", async () => {
    const nobody = createServer();
    await new Promise<void>((resolve) => nobody.listen(0, "127.0.0.1", resolve));
    const { port } = nobody.address() as AddressInfo;
    await new Promise((resolve) => nobody.close(resolve)); // connections to it are refused now
    const backend = upstash({ url: `http://127.0.0.1:${port}`, token: "t", timeoutMs: 2000 });
    const started = performance.now();
    await expect(backend.get("k")).rejects.toThrow(new BackendTimeoutError("upstash get failed: no answer within options.timeoutMs"));
    expect(performance.now() - started).toBeLessThan(3000); // the client alone retries for about 4.3 s
  });

  it("REST server unreachable: the error keeps the network's own reason in its causes (ECONNREFUSED), which echo no request body", async () => {
    const nobody = createServer();
    await new Promise<void>((resolve) => nobody.listen(0, "127.0.0.1", resolve));
    const { port } = nobody.address() as AddressInfo;
    await new Promise((resolve) => nobody.close(resolve));
    const backend = upstash({ client: new Redis({ url: `http://127.0.0.1:${port}`, token: "t", retry: false }) });
    const failure = await backend.set("k", new TextEncoder().encode("a value"), 60).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(BackendUnavailableError);
    expect(inspect(failure, { depth: 5 })).toContain("ECONNREFUSED");
  });

  it("Redis frozen behind a client of your own (no limit of the adapter's): createCache's timeoutMs bounds every call", async () => {
    const errors: unknown[] = [];
    const backend = upstash({ client: stack().client(), prefix: "frozen-own-client" });
    const cache = createCache({ backend, timeoutMs: 300, ignoreErrors: true, onError: (error) => errors.push(error) });
    await cache.set("k", "v");
    stack().redis.freeze();
    try {
      const started = performance.now();
      expect(await cache.get("k", { default: "fallback" })).toBe("fallback");
      expect(await cache.getOrSet("report", () => "computed", { collapseMs: 0 })).toBe("computed");
      expect(performance.now() - started).toBeLessThan(2000); // four calls of 300 ms at most, not for ever
      expect(errors.map(String)).toEqual([
        "BackendTimeoutError: the upstash backend took longer than options.timeoutMs (300 ms) to get",
        "BackendTimeoutError: the upstash backend took longer than options.timeoutMs (300 ms) to get",
        "BackendTimeoutError: the upstash backend took longer than options.timeoutMs (300 ms) to add",
        "BackendTimeoutError: the upstash backend took longer than options.timeoutMs (300 ms) to get",
      ]);
    } finally {
      stack().redis.thaw();
    }
    expect(await cache.get("k")).toBe("v");
  });

  it("refuses a timeoutMs that is not a number of 0 or more, and one given with a client of your own", () => {
    expect(() => upstash({ url: "https://example.upstash.io", token: "t", timeoutMs: -1 })).toThrow(new TypeError("options.timeoutMs must be a number of 0 or more, got -1"));
    const client = stack().client();
    expect(() => upstash({ client, timeoutMs: 100 } as never)).toThrow(/options\.timeoutMs applies to the client made from options\.url/);
  });

  it("setMany returns the keys Redis refused", async () => {
    const backend = upstash({ client: stack().client(), prefix: "full" });
    const admin = await RespConnection.open(stack().redis.port);
    await admin.send([["CONFIG", "SET", "maxmemory-policy", "noeviction"], ["CONFIG", "SET", "maxmemory", "1"]]);
    try {
      const entries = ["a", "b"].map((key) => [key, new TextEncoder().encode(key)] as const);
      expect(await backend.setMany!(entries, 60)).toEqual(["a", "b"]);
    } finally {
      await admin.send([["CONFIG", "SET", "maxmemory", "0"]]);
      admin.close();
    }
  });

  it("refuses a proxy's answers that are no reply to the command: a SCAN cursor that is no number, a pipeline short of results", async () => {
    // A proxy in front of the local Upstash server that mangles the two replies.
    const proxy = createHttpServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk)).on("end", () => {
        const body = Buffer.concat(chunks).toString();
        const forwarded = { "content-type": "application/json", authorization: request.headers.authorization ?? "" };
        void fetch(new URL(request.url ?? "/", stack().server.url), { method: "POST", headers: forwarded, body }).then(async (answer) => {
          let reply = (await answer.json()) as unknown;
          if (body.includes('"scan"')) reply = { result: ["next", []] }; // would loop for good, never reaching cursor 0
          else if (Array.isArray(reply)) reply = reply.slice(0, -1); // the last SET's result left off
          response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(reply));
        });
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const backend = upstash({ client: new Redis({ url, token: stack().server.token, automaticDeserialization: false, enableTelemetry: false, retry: false }), prefix: "mangled" });
      await expect(backend.clear!()).rejects.toThrow(/^upstash clear failed: the client answered an array, which is no Redis reply/);
      const entries = ["a", "b"].map((key) => [key, new TextEncoder().encode(key)] as const);
      await expect(backend.setMany!(entries, 60)).rejects.toThrow(/^upstash setMany failed: .*to a pipeline of 2 SETs: not one result per SET/); // not "both stored"
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
