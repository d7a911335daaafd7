/** The Workers KV backend's own behaviour, inside workerd against miniflare's KV. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type KvNamespaceLike, workersKv } from "../../adapters/workers-kv.ts";
import { BackendUnavailableError, cachePage, createCache } from "../../src/index.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined => value && new TextDecoder().decode(value);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** A page handler as a Worker calls it. */
type Page = (request: Request, env: unknown, ctx: { waitUntil(promise: Promise<unknown>): void }) => Response;

let prefixes = 0;
/** A prefix no other test uses: KV storage is shared by the tests of a file. */
const freshPrefix = (): string => `kv-test-${++prefixes}:`;

interface Put {
  key: string;
  at: number;
  options: { expirationTtl?: number; metadata?: unknown } | undefined;
}

/** The test namespace, recording every put and delete, and every read's options. */
function recording(pageSize?: number) {
  const kv = env.CACHE_KV;
  const puts: Put[] = [];
  const deletes: string[] = [];
  const reads: unknown[] = [];
  let lists = 0;
  const namespace: KvNamespaceLike = {
    getWithMetadata: ((key: string, options: { type: "arrayBuffer" | "stream"; cacheTtl?: number }) => {
      reads.push(options);
      return kv.getWithMetadata(key, options as { type: "arrayBuffer" });
    }) as KvNamespaceLike["getWithMetadata"],
    put: (key, value, options) => {
      puts.push({ key, at: Date.now(), options });
      return kv.put(key, value, options);
    },
    delete: (key) => {
      deletes.push(key);
      return kv.delete(key);
    },
    list: (options) => {
      lists++;
      return kv.list(pageSize === undefined ? options : { ...options, limit: pageSize });
    },
  };
  return { namespace, puts, deletes, reads, lists: () => lists };
}

describe("workers-kv backend", () => {
  it("declares that it is shared, eventually consistent, without atomic add or increment, and holds a second write of a key for a second", () => {
    expect(workersKv(env.CACHE_KV).capabilities).toEqual({ atomicAdd: false, atomicIncrement: false, consistent: false, shared: true, local: false, writeSpacingMs: 2000, ttlGranularityMs: 0 });
  });

  it("gives backends made per request over one binding and prefix one identity, so they share what the isolate learns", () => {
    expect(workersKv(env.CACHE_KV).identity).toBe(workersKv(env.CACHE_KV).identity);
    expect(workersKv(env.CACHE_KV, { prefix: "pages:" }).identity).not.toBe(workersKv(env.CACHE_KV).identity);
  });

  it("expires an entry under 60 s on time, though KV is given 60 s", async () => {
    const { namespace, puts } = recording();
    const backend = workersKv(namespace, { prefix: freshPrefix() });
    await backend.set("short", bytes("v"), 0.5);
    await backend.set("long", bytes("v"), 90.2);
    // KV counts a TTL from the start of the current second: one more keeps 90.2 s whole.
    expect(puts.map((put) => put.options?.expirationTtl)).toEqual([60, 92]);
    expect(text(await backend.get("short"))).toBe("v");
    await sleep(600);
    expect(await backend.get("short")).toBeUndefined();
    expect(await backend.has?.("short")).toBe(false);
    expect(text(await backend.get("long"))).toBe("v");
    expect(await backend.ttl?.("long")).toBeGreaterThan(88);
  });

  it("reads an entry whose metadata it did not write (another writer's, or damaged) as a miss, and deletes it", async () => {
    const prefix = freshPrefix();
    const backend = workersKv(env.CACHE_KV, { prefix });
    const foreign = [{ head: "not base64!", bodyLength: 4 }, { head: 12, bodyLength: 4 }, { head: {} }, { head: "aGVhZA==" }, { expiresAt: "soon" }, "text"];
    for (const [i, metadata] of foreign.entries()) {
      await env.CACHE_KV.put(`${prefix}k:k${i}`, "body", { metadata });
      const label = JSON.stringify(metadata);
      expect(await backend.get(`k${i}`), label).toBeUndefined();
      expect(await backend.has?.(`k${i}`), label).toBe(false);
      expect(await backend.streams!.get(`k${i}`), label).toBeUndefined();
      await backend.delete(`k${i}`);
      expect(await env.CACHE_KV.get(`${prefix}k:k${i}`), label).toBeNull();
    }
  });

  it("keeps only the expiry in metadata, far under KV's 1 KiB", async () => {
    const prefix = freshPrefix();
    const backend = workersKv(env.CACHE_KV, { prefix });
    await backend.set("k", bytes("v"), 30);
    await backend.set("forever", bytes("v"), null);
    const { metadata } = await env.CACHE_KV.getWithMetadata(`${prefix}k:k`);
    expect(Object.keys(metadata as object)).toEqual(["expiresAt"]);
    expect(JSON.stringify(metadata).length).toBeLessThan(1024);
    expect((await env.CACHE_KV.getWithMetadata(`${prefix}k:forever`)).metadata).toBeNull();
  });

  it("keeps a streamed entry's head in metadata under 1 KiB, and a larger head with the body", async () => {
    const prefix = freshPrefix();
    const backend = workersKv(env.CACHE_KV, { prefix });
    const body = bytes("<p>body</p>");
    await backend.streams!.set("small", bytes("head"), body, 30);
    const { value, metadata } = await env.CACHE_KV.getWithMetadata<{ head?: string; bodyLength?: number }>(`${prefix}k:small`, { type: "text" });
    expect(value).toBe("<p>body</p>");
    expect(metadata).toMatchObject({ head: btoa("head"), bodyLength: body.byteLength });
    expect(text(await backend.get("small"))).toBe("head<p>body</p>");

    const bigHead = bytes("h".repeat(2000));
    await backend.streams!.set("big", bigHead, body, 30);
    expect(Object.keys((await env.CACHE_KV.getWithMetadata(`${prefix}k:big`)).metadata as object)).toEqual(["expiresAt"]);
    const entry = (await backend.streams!.get("big"))!;
    expect(entry.length).toBe(bigHead.byteLength + body.byteLength);
    expect(text(await backend.get("big"))).toBe(`${"h".repeat(2000)}<p>body</p>`);
    await entry.body.cancel();
  });

  it("maps keys over 512 bytes to distinct hashed names and keeps shorter keys readable", async () => {
    const prefix = freshPrefix();
    const backend = workersKv(env.CACHE_KV, { prefix });
    const long = "x".repeat(600);
    const multibyte = "é".repeat(300); // 600 bytes in 300 characters
    await backend.set(`${long}a`, bytes("a"), null);
    await backend.set(`${long}b`, bytes("b"), null);
    await backend.set(multibyte, bytes("é"), null);
    await backend.set("short", bytes("s"), null);
    expect([text(await backend.get(`${long}a`)), text(await backend.get(`${long}b`)), text(await backend.get(multibyte))]).toEqual(["a", "b", "é"]);
    const names = (await env.CACHE_KV.list({ prefix })).keys.map(({ name }) => name);
    expect(names).toContain(`${prefix}k:short`);
    const hashed = names.filter((name) => name !== `${prefix}k:short`);
    expect(hashed).toHaveLength(3);
    for (const name of hashed) expect(name).toMatch(new RegExp(`^${prefix}h:[0-9a-f]{64}$`));
  });

  it("refuses values over 25 MiB with a clear error, and setMany reports them as failed", async () => {
    const backend = workersKv(env.CACHE_KV, { prefix: freshPrefix() });
    const huge = new Uint8Array(25 * 2 ** 20 + 1);
    await expect(backend.set("huge", huge, 60)).rejects.toThrow(BackendUnavailableError);
    await expect(backend.set("huge", huge, 60)).rejects.toThrow(/25 MiB/);
    expect(await backend.setMany?.([["huge", huge], ["small", bytes("s")]], 60)).toEqual(["huge"]);
    expect(await backend.has?.("huge")).toBe(false);
    expect(text(await backend.get("small"))).toBe("s");
  });

  it("page caching streams a large page's hit from the stored body, byte for byte", async () => {
    const cache = createCache({ backend: workersKv(env.CACHE_KV, { prefix: freshPrefix() }) });
    const body = Uint8Array.from({ length: 300 * 1024 }, (_, i) => i % 251);
    const handler = cachePage(30, { cache })<Page>(() => new Response(body, { headers: { "content-type": "application/octet-stream" } }));
    const waits: Promise<unknown>[] = [];
    const ctx = { waitUntil: (promise: Promise<unknown>) => waits.push(promise) };
    await (await handler(new Request("https://example.com/large"), env, ctx)).arrayBuffer();
    await Promise.all(waits);
    const hit = await handler(new Request("https://example.com/large"), env, ctx);
    expect(hit.headers.get("cache-status")).toBe("edgecache; hit; ttl=30");
    expect(new Uint8Array(await hit.arrayBuffer())).toEqual(body);
    const head = await handler(new Request("https://example.com/large", { method: "HEAD" }), env, ctx);
    expect(head.headers.get("content-length")).toBe(String(body.byteLength));
  });

  it("page caching serves a page too big for KV and simply does not store it", async () => {
    const errors: unknown[] = [];
    const cache = createCache({ backend: workersKv(env.CACHE_KV, { prefix: freshPrefix() }) });
    const body = new Uint8Array(26 * 2 ** 20);
    const handler = cachePage(30, { cache, maxBodyBytes: 30 * 2 ** 20, onError: (error) => errors.push(error) })<Page>(() => new Response(body));
    const waits: Promise<unknown>[] = [];
    const ctx = { waitUntil: (promise: Promise<unknown>) => waits.push(promise) };
    const first = await handler(new Request("https://example.com/big"), env, ctx);
    expect((await first.arrayBuffer()).byteLength).toBe(body.byteLength);
    await Promise.all(waits);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(BackendUnavailableError);
    const second = await handler(new Request("https://example.com/big"), env, ctx);
    expect(second.headers.get("cache-status")).toMatch(/fwd=uri-miss/);
    await second.arrayBuffer();
    await Promise.all(waits);
  });

  describe("one write per key per second", () => {
    it("sends a second write of a key a second after the first, and reads here see it at once", async () => {
      const { namespace, puts } = recording();
      const backend = workersKv(namespace, { prefix: freshPrefix() });
      await backend.set("k", bytes("one"), 60);
      const second = backend.set("k", bytes("two"), 60);
      expect(text(await backend.get("k"))).toBe("two");
      expect(puts).toHaveLength(1);
      await second;
      expect(puts).toHaveLength(2);
      expect(puts[1]!.at - puts[0]!.at).toBeGreaterThanOrEqual(1000);
      expect(await env.CACHE_KV.get(puts[1]!.key)).toBe("two");
    });

    it("coalesces writes that pile up into one, the latest winning, and every caller resolves", async () => {
      const { namespace, puts, deletes } = recording();
      const backend = workersKv(namespace, { prefix: freshPrefix() });
      await backend.set("k", bytes("one"), 60);
      const writes = [backend.set("k", bytes("two"), 60), backend.set("k", bytes("three"), 60), backend.delete("k"), backend.set("k", bytes("four"), 60)];
      expect(text(await backend.get("k"))).toBe("four");
      await Promise.all(writes);
      expect(puts).toHaveLength(2);
      expect(deletes).toHaveLength(0);
      expect(text(await backend.get("k"))).toBe("four");
    });

    it("shows a waiting delete to reads at once", async () => {
      const backend = workersKv(env.CACHE_KV, { prefix: freshPrefix() });
      await backend.set("k", bytes("v"), 60);
      const removal = backend.delete("k");
      expect(await backend.has?.("k")).toBe(false);
      expect(await removal).toBe(true);
      expect(await backend.has?.("k")).toBe(false);
    });

    it("is shared by every backend over the same binding", async () => {
      const prefix = freshPrefix();
      const one = workersKv(env.CACHE_KV, { prefix });
      const other = workersKv(env.CACHE_KV, { prefix });
      await one.set("k", bytes("one"), 60);
      const write = other.set("k", bytes("two"), 60);
      expect(text(await one.get("k"))).toBe("two");
      await write;
    });

    it("close waits for the writes it deferred", async () => {
      const { namespace, puts } = recording();
      const backend = workersKv(namespace, { prefix: freshPrefix() });
      await backend.set("k", bytes("one"), 60);
      const deferred = backend.set("k", bytes("two"), 60);
      expect(text(await backend.get("k"))).toBe("two"); // waiting now
      await backend.close?.();
      expect(puts).toHaveLength(2);
      await deferred;
    });
  });

  describe("clear", () => {
    it("removes only the keys under its prefix", async () => {
      const prefix = freshPrefix();
      const mine = workersKv(env.CACHE_KV, { prefix });
      const theirs = workersKv(env.CACHE_KV, { prefix: freshPrefix() });
      await env.CACHE_KV.put(`foreign-${prefix}`, "keep");
      await mine.set("a", bytes("a"), null);
      await theirs.set("a", bytes("theirs"), null);
      await mine.clear?.();
      expect(await mine.get("a")).toBeUndefined();
      expect(text(await theirs.get("a"))).toBe("theirs");
      expect(await env.CACHE_KV.get(`foreign-${prefix}`)).toBe("keep");
    });

    it("follows the list cursor through every page", async () => {
      const { namespace, lists } = recording(2);
      const prefix = freshPrefix();
      const backend = workersKv(namespace, { prefix });
      await Promise.all(["a", "b", "c", "d", "e"].map((key) => backend.set(key, bytes(key), null)));
      await backend.clear?.();
      expect(lists()).toBeGreaterThanOrEqual(3);
      expect((await env.CACHE_KV.list({ prefix })).keys).toEqual([]);
    });

    it("also removes a write still waiting for its second", async () => {
      const backend = workersKv(env.CACHE_KV, { prefix: freshPrefix() });
      await backend.set("k", bytes("one"), null);
      const waiting = backend.set("k", bytes("two"), null);
      await backend.clear?.();
      await waiting;
      expect(await backend.get("k")).toBeUndefined();
    });
  });

  describe("options", () => {
    it("passes cacheTtl to every read", async () => {
      const { namespace, reads } = recording();
      await workersKv(namespace, { prefix: freshPrefix(), cacheTtl: 30 }).get("k");
      expect(reads).toEqual([{ type: "arrayBuffer", cacheTtl: 30 }]);
    });

    it.each([
      ["a cacheTtl under 30 s", { cacheTtl: 29 }, /cacheTtl must be at least 30/],
      ["a fractional cacheTtl", { cacheTtl: 30.5 }, /cacheTtl must be an integer/],
      ["a prefix leaving no room for a hash", { prefix: "p".repeat(447) }, /prefix must be a string of at most 446 bytes/],
      ["a clock that is not a function", { now: 5 as unknown as () => number }, /now must be a function/],
    ])("rejects %s", (_label, options, message) => {
      expect(() => workersKv(env.CACHE_KV, options)).toThrow(message);
    });

    it("rejects something that is not a KV binding", () => {
      expect(() => workersKv({} as KvNamespaceLike)).toThrow(/namespace must be a KVNamespace binding/);
    });
  });
});
