import { Buffer as NodeBuffer } from "node:buffer";
import { runInNewContext } from "node:vm";
import { encode as cborgEncode } from "cborg";
import { structBigIntEncoder } from "cborg/taglib";
import { describe, expect, it, vi } from "vitest";
import { memory } from "../adapters/memory.ts";
import type { Backend } from "../src/backend.ts";
import { createCache, readSharedStreamed } from "../src/cache.ts";
import { cborSerializer, decodeValue, encodeValue } from "../src/codec.ts";
import { CorruptEntryError } from "../src/errors.ts";
import { cachePage } from "../src/page/cache-page.ts";
import { purgeTag } from "../src/tags.ts";

const failing: Backend = {
  name: "broken",
  get: () => Promise.reject(new Error("connection refused")),
  set: () => Promise.reject(new Error("connection refused")),
  delete: () => Promise.reject(new Error("connection refused")),
  clear: () => Promise.reject(new Error("connection refused")),
};

describe("EdgeCache failure model", () => {
  it("propagates backend errors by default", async () => {
    const cache = createCache({ backend: failing });
    await expect(cache.get("k")).rejects.toThrow("connection refused");
    await expect(cache.set("k", 1)).rejects.toThrow("connection refused");
  });

  it("with ignoreErrors, a broken backend misses on reads, fails writes quietly and reports each error", async () => {
    const reported: string[] = [];
    const cache = createCache({ backend: failing, ignoreErrors: true, onError: (_e, operation) => reported.push(operation) });
    expect(await cache.get("k", { default: "d" })).toBe("d");
    await cache.set("k", 1);
    expect(await cache.add("k", 1)).toBe(false);
    expect(await cache.has("k")).toBe(false);
    expect(await cache.delete("k")).toBe(false);
    expect(await cache.getMany(["a"])).toEqual(new Map());
    expect(await cache.setMany({ a: 1, b: 2 })).toEqual(["a", "b"]);
    expect(await cache.getOrSet("k", () => "computed")).toBe("computed");
    await cache.clear();
    expect(reported).toEqual(["get", "set", "add", "has", "delete", "getMany", "setMany", "get", "getOrSet", "get", "clear"]);
    // Without the store they have no number to answer with.
    await expect(cache.incr("k")).rejects.toThrow("connection refused");
    await expect(cache.incrVersion("k")).rejects.toThrow("connection refused");
  });
});

describe("value codec", () => {
  it("stores safe integers as decimal text so native increments work", () => {
    expect(new TextDecoder().decode(encodeValue(-42, cborSerializer))).toBe("-42");
    expect(decodeValue(new TextEncoder().encode("1234"), cborSerializer)).toBe(1234);
  });

  it("never reads non-canonical decimal text as a counter", () => {
    for (const text of ["01", "-", "1.0", " 1", "+1", "-0", " ", "1 2", "007", "-00", "09007199254740992"]) {
      expect(() => decodeValue(new TextEncoder().encode(text), cborSerializer), text).toThrow(CorruptEntryError);
    }
  });

  it("gives back every Date to the millisecond, those a float of seconds cannot hold (past ±140,000 years) too", () => {
    const roundTrip = (date: Date) => decodeValue(encodeValue(date, cborSerializer), cborSerializer) as Date;
    for (const ms of [0, 1, -1, 1_700_000_000_123, 4_492_601_229_007_485, -4_426_045_342_225_887, 8.64e15, -8.64e15]) {
      expect(roundTrip(new Date(ms)).getTime(), String(ms)).toBe(ms);
    }
    expect(roundTrip(new Date(NaN)).getTime()).toBeNaN();
    // A float of seconds where it holds, as before (RFC 8949's tag 1); RFC 9581's extended time (tag 1001) beyond.
    expect(encodeValue(new Date(1_700_000_000_123), cborSerializer).subarray(3, 4)).toEqual(Uint8Array.of(0xc1));
    expect(encodeValue(new Date(4_492_601_229_007_485), cborSerializer).subarray(3, 6)).toEqual(Uint8Array.of(0xd9, 0x03, 0xe9));
  });

  it("decodes bignums of any size exactly, by edgecache's own linear decoder (cborg's is quadratic: a planted 200 KiB one held the isolate a minute)", () => {
    const roundTrip = (value: bigint) => decodeValue(encodeValue(value, cborSerializer), cborSerializer);
    for (const value of [0n, 2n ** 64n, 2n ** 64n - 1n, -(2n ** 64n), -(2n ** 64n) - 1n, -(10n ** 40n), 3n ** 300n]) expect(roundTrip(value)).toBe(value);
    const planted = new Uint8Array(9 + 65536).fill(0xab); // self-described CBOR, tag 3, a 64 KiB byte string
    planted.set([0xd9, 0xd9, 0xf7, 0xc3, 0x5a, 0x00, 0x01, 0x00, 0x00]);
    expect(decodeValue(planted, cborSerializer)).toBe(-1n - BigInt(`0x${"ab".repeat(65536)}`));
  });

  it("refuses what CBOR would change: text with a lone surrogate (UTF-8 cannot hold it), symbol-keyed properties (left out)", () => {
    for (const value of ["a\uD800b", { "\uDC00": 1 }, new Map([["k", ["\uD83D"]]])]) {
      expect(() => encodeValue(value, cborSerializer)).toThrow(/cannot store a string with a lone UTF-16 surrogate/);
    }
    expect(() => encodeValue({ [Symbol("id")]: 42, name: "lamp" }, cborSerializer)).toThrow(/cannot store an object with symbol-keyed properties/);
    const hidden = Object.defineProperty({ name: "lamp" }, Symbol("id"), { value: 42, enumerable: false });
    expect(decodeValue(encodeValue(hidden, cborSerializer), cborSerializer)).toEqual({ name: "lamp" }); // not enumerable: not its data, as with string keys
    expect(decodeValue(encodeValue("\uD83D\uDE00 \uFFFD", cborSerializer), cborSerializer)).toBe("\uD83D\uDE00 \uFFFD");
  });

  it("reads a counter padded with spaces, as memcached leaves one it decremented to fewer digits", () => {
    expect(decodeValue(new TextEncoder().encode("5  "), cborSerializer)).toBe(5);
    expect(decodeValue(new TextEncoder().encode(`9${" ".repeat(15)}`), cborSerializer)).toBe(9);
  });

  it("decodes only the tags it knows: a CBOR tag naming a constructor is corrupt data, not code", () => {
    // Self-described CBOR of tag 27 ["Function", "return 1"]: cbor-x would build a function here.
    const poisoned = Uint8Array.of(0xd9, 0xd9, 0xf7, 0xd8, 0x1b, 0x82, 0x68, ...new TextEncoder().encode("Function"), 0x68, ...new TextEncoder().encode("return 1"));
    expect(() => decodeValue(poisoned, cborSerializer)).toThrow(CorruptEntryError);
  });

  it("keeps a leading U+FEFF in every string, map keys and long strings included", async () => {
    const cache = createCache({ backend: memory() });
    const value = { "\uFEFFkey": ["\uFEFF", "\uFEFFhi", `\uFEFF${"long text ".repeat(20)}`, "a\uFEFF"], plain: "hi" };
    await cache.set("k", value);
    expect(await cache.get("k")).toEqual(value);
  });

  it("reads another writer's plain 64-bit integer beside a string opening with U+FEFF, as cborg does", () => {
    const bytes = Uint8Array.of(0xd9, 0xd9, 0xf7, 0x82, 0x1b, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x64, 0xef, 0xbb, 0xbf, 0x78);
    expect(decodeValue(bytes, cborSerializer)).toEqual([2n ** 60n, "\uFEFFx"]);
  });

  it("never lets a decoded __proto__ key change an object's prototype", () => {
    const bytes = Uint8Array.of(0xd9, 0xd9, 0xf7, 0xa1, 0x69, ...new TextEncoder().encode("__proto__"), 0xa1, 0x61, 0x78, 0x01);
    const value = decodeValue(bytes, cborSerializer) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect((value as { x?: number }).x).toBeUndefined();
  });

  it("writes a byte string exactly as cborg does at every length width, and reads it back", () => {
    for (const length of [0, 23, 24, 255, 256, 65_535, 65_536]) {
      const value = Uint8Array.from({ length }, (_, i) => i % 251);
      const encoded = encodeValue(value, cborSerializer);
      expect(encoded, `length ${length}`).toEqual(Uint8Array.of(0xd9, 0xd9, 0xf7, ...cborgEncode(value)));
      expect(decodeValue(encoded, cborSerializer), `length ${length}`).toEqual(value);
    }
  });

  it("reads a byte string whose length does not fill the entry as corrupt", () => {
    const truncated = encodeValue(new Uint8Array(300), cborSerializer).subarray(0, 200);
    expect(() => decodeValue(truncated, cborSerializer)).toThrow(CorruptEntryError);
    const trailing = Uint8Array.of(...encodeValue(new Uint8Array(3), cborSerializer), 0x00);
    expect(() => decodeValue(trailing, cborSerializer)).toThrow(CorruptEntryError);
  });

  it("gives callers copies of stored bytes, and edgecache's own readers the stored bytes themselves", async () => {
    const cache = createCache({ backend: memory() });
    await cache.set("bytes", Uint8Array.of(1, 2, 3));
    (await cache.get<Uint8Array>("bytes"))![0] = 9;
    (await cache.getMany<Uint8Array>(["bytes"])).get("bytes")![1] = 9;
    (await cache.getOrSet("bytes", () => new Uint8Array(0)))[2] = 9;
    expect(await cache.get("bytes")).toEqual(Uint8Array.of(1, 2, 3));
    const shared = (await readSharedStreamed(cache, "bytes")) as Uint8Array;
    expect(shared).toEqual(Uint8Array.of(1, 2, 3));
    expect(((await readSharedStreamed(cache, "bytes")) as Uint8Array).buffer).toBe(shared.buffer); // no copy on a hit
  });

  it("refuses instances of subclasses of the types it stores, as other class instances, but stores Node's Buffer as its bytes", () => {
    class Cart extends Map<string, number> {}
    class Tags extends Set<string> {}
    class Rows extends Array<number> {}
    class When extends Date {}
    class Digest extends Uint8Array {}
    class Block extends ArrayBuffer {}
    const subclassed: Array<[string, unknown]> = [
      ["Cart", new Cart([["lamp", 2]])], ["Tags", new Tags(["a"])], ["Rows", Rows.from([1, 2])], ["When", new When(0)],
      ["Digest", new Digest(2)], ["Block", new Block(2)],
    ];
    for (const [name, value] of subclassed) {
      const message = new RegExp(`cannot store an instance of ${name}:`);
      expect(() => encodeValue(value, cborSerializer), name).toThrow(TypeError);
      expect(() => encodeValue(value, cborSerializer), name).toThrow(message);
      expect(() => encodeValue({ nested: [value] }, cborSerializer), `${name} nested`).toThrow(message);
    }
    // An object posing as a Map by its Symbol.toStringTag is refused in the same words, not by a crash in cborg.
    const posing = Object.assign(Object.create(null) as object, { [Symbol.toStringTag]: "Map" });
    expect(() => encodeValue(posing, cborSerializer)).toThrow(/cannot store an instance of anonymous class/);
    // A Buffer (Node's, or a polyfill), a Uint8Array subclass code stores all the time, is kept as its bytes and comes back a Uint8Array.
    class Buffer extends Uint8Array {} // as Deno's node:buffer names it
    class Buffer3 extends Uint8Array {} // as a bundler renames the buffer package's class, which it marks
    Object.defineProperty(Buffer3.prototype, "_isBuffer", { value: true });
    for (const polyfill of [Buffer.of(1, 2, 3), Buffer3.of(1, 2, 3)]) expect(encodeValue(polyfill, cborSerializer)).toEqual(encodeValue(Uint8Array.of(1, 2, 3), cborSerializer));
    // The types it stores, made in another realm (node:vm, Jest's module registry), are those types.
    const foreign = runInNewContext("({ list: [1, 2], when: new Date(0), map: new Map([[1, 2]]), set: new Set([3]) })") as object;
    expect(decodeValue(encodeValue(foreign, cborSerializer), cborSerializer)).toEqual({ list: [1, 2], when: new Date(0), map: new Map([[1, 2]]), set: new Set([3]) });
    expect(() => encodeValue(runInNewContext("class Cart extends Map {}; new Cart()"), cborSerializer)).toThrow(/cannot store an instance of Cart/);
    const buffer = NodeBuffer.from([1, 2, 3]);
    expect(encodeValue(buffer, cborSerializer)).toEqual(encodeValue(Uint8Array.of(1, 2, 3), cborSerializer));
    expect(decodeValue(encodeValue({ b: buffer }, cborSerializer), cborSerializer)).toEqual({ b: Uint8Array.of(1, 2, 3) });
    // An array with named properties is stored as its elements, as JSON stores it (finding those costs a walk over every key).
    const match = /(\w)-(\w)/.exec("a-b")!;
    expect(decodeValue(encodeValue(Object.assign([1, 2], { cursor: "abc" }), cborSerializer), cborSerializer)).toEqual([1, 2]);
    expect(decodeValue(encodeValue(match, cborSerializer), cborSerializer)).toEqual(["a-b", "a", "b"]);
  });

  it("refuses values nested deeper than it could read back (500 levels), and stores those up to that", () => {
    const nest = (depth: number, wrap: (inner: unknown) => unknown): unknown => {
      let value: unknown = 1;
      for (let i = 0; i < depth; i++) value = wrap(value);
      return value;
    };
    for (const wrap of [(inner: unknown) => [inner], (inner: unknown) => ({ inner }), (inner: unknown) => new Map([[1, inner]]), (inner: unknown) => new Set([inner])]) {
      const deepest = nest(500, wrap);
      expect(decodeValue(encodeValue(deepest, cborSerializer), cborSerializer)).toEqual(deepest);
      expect(() => encodeValue(nest(501, wrap), cborSerializer)).toThrow(/cannot store a value nested more than 500 levels deep/);
      expect(() => encodeValue(nest(3000, wrap), cborSerializer)).toThrow(TypeError);
    }
  });

  it("encodes bigints byte for byte as cborg's structBigIntEncoder does (ours in linear time: cborg's took 1.7 s for 128 KiB)", () => {
    const cborgBytes = (value: bigint) => Uint8Array.of(0xd9, 0xd9, 0xf7, ...cborgEncode(value, { typeEncoders: { bigint: structBigIntEncoder } }));
    const values = [
      0n, 1n, -1n, 0xfn, 0x123n, 255n, 256n, -256n, -257n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 64n + 1n,
      -(2n ** 64n), -(2n ** 64n) + 1n, -(2n ** 64n) - 1n, -(2n ** 64n) - 2n, -(10n ** 40n), 3n ** 300n, -(7n ** 301n),
    ];
    for (const value of values) {
      expect(encodeValue(value, cborSerializer), String(value)).toEqual(cborgBytes(value));
      expect(decodeValue(encodeValue(value, cborSerializer), cborSerializer), String(value)).toBe(value);
    }
    const large = -(1n << BigInt(4096 * 8)) + 12345n;
    expect(encodeValue({ large }, cborSerializer)).toEqual(Uint8Array.of(0xd9, 0xd9, 0xf7, ...cborgEncode({ large }, { typeEncoders: { bigint: structBigIntEncoder } })));
    expect(decodeValue(encodeValue({ large }, cborSerializer), cborSerializer)).toEqual({ large });
  });

  it("reads whatever a custom serializer throws, null and undefined included, as a corrupt entry: a miss, reported", async () => {
    const throws: Array<[string, unknown]> = [["null", null], ["undefined", undefined], ["a string", "bad bytes"], ["an object without toString", Object.create(null)]];
    for (const [name, thrown] of throws) {
      const serializer = { encode: () => Uint8Array.of(1, 2, 3), decode: () => { throw thrown; } };
      expect(() => decodeValue(Uint8Array.of(1, 2, 3), serializer), name).toThrow(CorruptEntryError);
      const errors: unknown[] = [];
      const cache = createCache({ backend: memory(), serializer, onError: (error) => errors.push(error) });
      await cache.set("x", { a: 1 });
      expect(await cache.get("x", { default: "miss" }), name).toBe("miss");
      expect(errors, name).toEqual([expect.any(CorruptEntryError)]);
    }
    // cborg passes on what a getter throws; that too is named, not a crash reading its message.
    expect(() => encodeValue({ get x(): never { throw null; } }, cborSerializer)).toThrow(/cannot store this value: null/);
  });

  it("reads a counter memcached incremented past 2^53 - 1, up to its 2^64 - 1, as a Number (precision lost), never as corrupt", async () => {
    const decode = (text: string) => decodeValue(new TextEncoder().encode(text), cborSerializer);
    expect(decode("9007199254740992")).toBe(2 ** 53);
    expect(decode("9007199254740993")).toBe(2 ** 53); // the nearest Number
    expect(decode("18446744073709551615")).toBe(2 ** 64);
    expect(decode(`9007199254740993${" ".repeat(4)}`)).toBe(2 ** 53); // padded by a decrement in place
    for (const text of ["18446744073709551616", "99999999999999999999", "100000000000000000000", "-9007199254740992", "09007199254740992"]) {
      expect(() => decode(text), text).toThrow(CorruptEntryError);
    }
    const backend = memory();
    const errors: unknown[] = [];
    const cache = createCache({ backend, onError: (error) => errors.push(error) });
    await backend.set(cache.makeKey("visits"), new TextEncoder().encode("9007199254740993"), null);
    expect(await cache.get("visits")).toBe(2 ** 53);
    expect(await cache.has("visits")).toBe(true); // not dropped as corrupt
    expect(errors).toEqual([]);
    // Incrementing it without memcached could not be exact: a clear error naming the key, not a wrong sum.
    await expect(cache.incr("visits")).rejects.toThrow(RangeError);
    await expect(cache.incr("visits")).rejects.toThrow(/counter stored under .*visits \(9007199254740993\) is beyond the safe integer range/);
    expect(new TextDecoder().decode(await backend.get(cache.makeKey("visits")))).toBe("9007199254740993");
  });

  it("accepts a custom serializer for non-integer values", async () => {
    const json = {
      encode: (v: unknown) => new TextEncoder().encode(JSON.stringify(v)),
      decode: (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as unknown,
    };
    const cache = createCache({ backend: memory(), serializer: json });
    await cache.set("o", { a: [1, "x"] });
    await cache.set("n", 5);
    expect(await cache.get("o")).toEqual({ a: [1, "x"] });
    expect(await cache.incr("n")).toBe(6);
    expect(() => createCache({ serializer: {} as never })).toThrow(/options.serializer must have encode and decode/);
  });
});

describe("timeoutJitter", () => {
  /** A memory backend that records the TTL of every write. */
  function recording() {
    const ttls: Array<number | null> = [];
    const store = memory();
    const backend: Backend = { ...store, set: (key, value, ttl) => (ttls.push(ttl), store.set(key, value, ttl)) };
    return { backend, ttls };
  }

  it("shortens each write's timeout by a random share of up to the fraction, never lengthens it", async () => {
    const { backend, ttls } = recording();
    const cache = createCache({ backend, timeout: 100, timeoutJitter: 0.2 });
    const random = vi.spyOn(Math, "random");
    for (const draw of [0, 0.5, 0.999]) {
      random.mockReturnValueOnce(draw);
      await cache.set("k", "v");
    }
    random.mockReturnValueOnce(0.5);
    await cache.set("never", "v", { timeout: null });
    random.mockRestore();
    expect(ttls).toEqual([100, 90, expect.closeTo(80.02, 5), null]);
  });

  it("spreads the expiry of entries written at the same time", async () => {
    const { backend, ttls } = recording();
    const cache = createCache({ backend, timeout: 600, timeoutJitter: 0.1 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => cache.set(`k${i}`, i)));
    expect(new Set(ttls).size).toBeGreaterThan(150);
    expect(ttls.every((ttl) => ttl !== null && ttl > 540 && ttl <= 600)).toBe(true);
  });

  it.each([-0.1, 1, "0.1", NaN])("names a bad timeoutJitter (%s)", (jitter) => {
    expect(() => createCache({ timeoutJitter: jitter as never })).toThrow(/options.timeoutJitter must be a fraction from 0 up to 1/);
  });
});

describe("onRead", () => {
  it("hears what each read found, by the key as given, for hit ratios", async () => {
    const reads: string[] = [];
    const cache = createCache({ keyPrefix: "shop", onRead: ({ operation, key, hit }) => reads.push(`${operation} ${key} ${hit ? "hit" : "miss"}`) });
    await cache.set("a", 1);
    await cache.set("nothing", null);
    await cache.get("a");
    await cache.get("b", { default: 0 });
    await cache.getMany(["a", "b", "nothing"]);
    await cache.has("b");
    await cache.getOrSet("a", 2);
    await cache.getOrSet("c", 3);
    expect(reads).toEqual([
      "get a hit", "get b miss",
      "getMany a hit", "getMany b miss", "getMany nothing hit",
      "has b miss",
      "getOrSet a hit", "getOrSet c miss",
    ]);
  });

  it("hears only the caller's reads: not the tag records a tagged value is checked against, nor page caching's vary indexes and purge records", async () => {
    const reads: string[] = [];
    const cache = createCache({ onRead: ({ operation, key, hit }) => reads.push(`${operation} ${key} ${hit ? "hit" : "miss"}`) });
    await cache.set("price", 10, { tags: ["product:1"] });
    await cache.getMany(["price"]);
    const page = cachePage(60, { cache, tags: ["product:1"] })(async (_request: Request) => new Response("page", { headers: { vary: "accept-language" } }));
    for (let i = 0; i < 2; i++) await page(new Request("https://example.com/"));
    await purgeTag("product:1", { cache, soft: true });
    expect(reads).toEqual(["getMany price hit"]);
  });

  it("marks a getOrSet hit that starts a refreshAhead, counts a failed read as a miss, and shrugs off a throwing hook", async () => {
    const outcomes: unknown[] = [];
    const cache = createCache({ onRead: (outcome) => outcomes.push(outcome) });
    await cache.set("rates", "old", { timeout: 5 });
    await cache.getOrSet("rates", () => "new", { timeout: 60, refreshAhead: 0.5 });
    expect(outcomes).toEqual([{ operation: "getOrSet", key: "rates", hit: true, refreshing: true }]);

    const broken = createCache({ backend: failing, ignoreErrors: true, onError: () => {}, onRead: (outcome) => outcomes.push(outcome) });
    await broken.get("k");
    expect(outcomes.at(-1)).toEqual({ operation: "get", key: "k", hit: false });

    const throwing = createCache({ onRead: () => { throw new Error("metrics down"); } });
    await throwing.set("k", "v");
    expect(await throwing.get("k")).toBe("v");
    expect(() => createCache({ onRead: "log" as never })).toThrow(new TypeError('options.onRead must be a function, got "log"'));
  });
});
