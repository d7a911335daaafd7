/**
 * How faithful the local Upstash server is: the wire format from shared/reference/upstash-rest.md,
 * checked with raw HTTP, and every command the adapter uses, checked through the real client with
 * and without the base64 response encoding.
 */
import { describe, expect, it } from "vitest";
import { useUpstashStack } from "./stack.ts";

const stack = useUpstashStack();

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(stack().server.url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${stack().server.token}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as unknown, syncToken: response.headers.get("upstash-sync-token") };
}

const base64 = { "upstash-encoding": "base64" };
const b64 = (text: string) => Buffer.from(text).toString("base64");

describe("Upstash wire format", () => {
  it("answers 401 with an error body for a missing or wrong token", async () => {
    expect(await post("/", ["get", "k"], { authorization: "Bearer nope" })).toMatchObject({ status: 401, body: { error: expect.stringMatching(/WRONGPASS/) } });
    const anonymous = await fetch(stack().server.url, { method: "POST", body: JSON.stringify(["ping"]) });
    expect(anonymous.status).toBe(401);
  });

  it("answers 405 for methods Upstash does not allow", async () => {
    const response = await fetch(stack().server.url, { method: "DELETE", headers: { authorization: `Bearer ${stack().server.token}` } });
    expect(response.status).toBe(405);
  });

  it("takes numbers and booleans as arguments and answers integers as JSON numbers, nil as null", async () => {
    expect(await post("/", ["set", "wire:n", 10])).toMatchObject({ status: 200, body: { result: "OK" } });
    expect(await post("/", ["incrby", "wire:n", 5])).toMatchObject({ body: { result: 15 } });
    expect(await post("/", ["set", "wire:b", true])).toMatchObject({ body: { result: "OK" } });
    expect(await post("/", ["get", "wire:b"])).toMatchObject({ body: { result: "true" } });
    expect(await post("/", ["get", "wire:missing"])).toMatchObject({ body: { result: null } });
  });

  it("writes integers beyond 2^53 as exact JSON digits", async () => {
    await post("/", ["set", "wire:big", "9007199254740993"]);
    const response = await fetch(stack().server.url, {
      method: "POST",
      headers: { authorization: `Bearer ${stack().server.token}` },
      body: JSON.stringify(["incrby", "wire:big", 1]),
    });
    expect(await response.text()).toBe('{"result":9007199254740994}');
  });

  it("answers 400 with the Redis error for a failing single command", async () => {
    expect(await post("/", ["incr", "wire:b"])).toEqual({ status: 400, body: { error: "ERR value is not an integer or out of range" }, syncToken: expect.any(String) });
    expect(await post("/", ["nosuchcommand"])).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^ERR unknown command/) } });
  });

  it("base64-encodes every string except a top-level OK, also inside arrays and pipelines", async () => {
    expect(await post("/", ["set", "wire:s", "héllo"], base64)).toMatchObject({ body: { result: "OK" } });
    expect(await post("/", ["get", "wire:s"], base64)).toMatchObject({ body: { result: b64("héllo") } });
    expect(await post("/", ["ping"], base64)).toMatchObject({ body: { result: b64("PONG") } });
    expect(await post("/", ["mget", "wire:s", "wire:missing", "wire:n"], base64)).toMatchObject({ body: { result: [b64("héllo"), null, b64("15")] } });
    expect(await post("/", ["eval", "return {'OK', 1}", 0], base64)).toMatchObject({ body: { result: [b64("OK"), 1] } });
    expect(await post("/pipeline", [["set", "wire:t", "x"], ["get", "wire:t"], ["strlen", "wire:t"]], base64)).toMatchObject({
      status: 200, body: [{ result: "OK" }, { result: b64("x") }, { result: 1 }],
    });
  });

  it("keeps pipeline errors inline and runs the other commands", async () => {
    expect(await post("/pipeline", [["set", "wire:p", "a"], ["incr", "wire:p"], ["append", "wire:p", "b"]])).toEqual({
      status: 200,
      body: [{ result: "OK" }, { error: "ERR value is not an integer or out of range" }, { result: 2 }],
      syncToken: expect.any(String),
    });
  });

  it("runs /multi-exec as a transaction: runtime errors inline, a queueing error discards it all", async () => {
    expect(await post("/multi-exec", [["set", "wire:m", "a"], ["incr", "wire:m"], ["get", "wire:m"]])).toMatchObject({
      status: 200, body: [{ result: "OK" }, { error: expect.stringMatching(/not an integer/) }, { result: "a" }],
    });
    expect(await post("/multi-exec", [["set", "wire:m", "changed"], ["nosuchcommand"]])).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^ERR unknown command/) } });
    expect(await post("/", ["get", "wire:m"])).toMatchObject({ body: { result: "a" } });
  });

  it("refuses commands that would change or block the shared connection", async () => {
    expect(await post("/", ["select", 1])).toMatchObject({ status: 400, body: { error: "ERR Command is not allowed: select" } });
    expect(await post("/pipeline", [["ping"], ["blpop", "q", 0]])).toMatchObject({ body: [{ result: "PONG" }, { error: "ERR Command is not allowed: blpop" }] });
  });

  it("sends a fresh upstash-sync-token on every response, errors included", async () => {
    const tokens = [
      (await post("/", ["ping"])).syncToken,
      (await post("/", ["ping"])).syncToken,
      (await post("/", ["nosuchcommand"])).syncToken,
      (await post("/", ["ping"], { authorization: "Bearer nope" })).syncToken,
    ];
    expect(new Set(tokens).size).toBe(4);
    expect(tokens.every((token) => typeof token === "string" && token.length > 0)).toBe(true);
  });

  it("rejects a body that is not a JSON array of commands", async () => {
    expect(await post("/", { set: "k" })).toMatchObject({ status: 400, body: { error: expect.any(String) } });
    expect(await post("/pipeline", [["get", { k: 1 }]])).toMatchObject({ status: 400, body: { error: expect.any(String) } });
  });
});

describe.each([
  ["base64 responses (the client's default)", {}],
  ["plain responses", { responseEncoding: false as const }],
])("the real client over %s, for every command the adapter uses", (_label, encoding) => {
  it("gives the results Upstash documents", async () => {
    const redis = stack().client(encoding);
    const key = (name: string) => `client:${JSON.stringify(encoding)}:${name}`;
    expect(await redis.set(key("a"), "héllo ✓")).toBe("OK");
    expect(await redis.get(key("a"))).toBe("héllo ✓");
    expect(await redis.set(key("a"), "x", { nx: true, ex: 60 })).toBeNull();
    expect(await redis.set(key("n"), "7", { px: 60_000 })).toBe("OK");
    expect(await redis.mget(key("a"), key("missing"), key("n"))).toEqual(["héllo ✓", null, "7"]);
    expect(await redis.eval("return redis.call('incrby', KEYS[1], ARGV[1])", [key("n")], ["3"])).toBe(10);
    expect(await redis.exists(key("n"))).toBe(1);
    expect(await redis.pttl(key("n"))).toBeGreaterThan(59_000);
    expect(await redis.pttl(key("a"))).toBe(-1);
    expect(await redis.pttl(key("missing"))).toBe(-2);
    expect(await redis.expire(key("a"), 60)).toBe(1);
    expect(await redis.pexpire(key("missing"), 500)).toBe(0);
    expect(await redis.multi().persist(key("a")).exists(key("a")).exec()).toEqual([1, 1]);
    expect(await redis.pipeline().set(key("p"), "1").incr(key("p")).exec()).toEqual(["OK", 2]);
    const [cursor, keys] = await redis.scan("0", { match: `${key("")}*`, count: 1000 });
    expect(cursor).toBe("0");
    expect(keys.sort()).toEqual([key("a"), key("n"), key("p")].sort());
    expect(await redis.del(key("a"), key("n"), key("missing"))).toBe(2);
    expect(await redis.set(key("t"), "text")).toBe("OK");
    await expect(redis.incr(key("t"))).rejects.toThrow(/ERR value is not an integer or out of range/);
  });

  it("follows the server's read-your-writes token", async () => {
    const redis = stack().client(encoding);
    await redis.get("client:ryw");
    const first = redis.readYourWritesSyncToken;
    await redis.get("client:ryw");
    expect(first).toBeTruthy();
    expect(redis.readYourWritesSyncToken).not.toBe(first);
  });
});
