/** Tags on low-level values: purgeTag ends every value filed under a tag, as it ends pages, and a soft purge lets getOrSet refresh. */
import { describe, expect, it } from "vitest";
import { memory } from "../adapters/memory.ts";
import type { Backend } from "../src/backend.ts";
import { createCache, type EdgeCache } from "../src/cache.ts";
import { KeyNotFoundError } from "../src/errors.ts";
import { purgeTag } from "../src/tags.ts";
import { fakeClock } from "./conformance/fake-clock.ts";

let places = 0;

/** Caches over one store on a fake clock; each one made by `isolate()` has an identity of its own, so it keeps its own memo of tag records, as another isolate would. */
function bench() {
  const clock = fakeClock();
  const location = `value-tags-${++places}`;
  const errors: string[] = [];
  const isolate = () => createCache({ backend: { ...memory({ location, now: clock.now }), identity: {} }, now: clock.now, onError: (error, operation) => errors.push(`${operation}: ${(error as Error).message}`) });
  const cache = isolate();
  const purge = async (tags: string | string[], soft = false, on: EdgeCache = cache) => {
    await purgeTag(tags, { cache: on, now: clock.now, soft });
  };
  return { clock, cache, isolate, purge, errors };
}

describe("tags on low-level values", () => {
  it("keeps a value written right after a purge of its tag, in the same millisecond, on the real clock", async () => {
    const cache = createCache({ backend: memory({ location: `value-tags-${++places}` }) });
    let lost = 0;
    for (let i = 0; i < 200; i++) {
      await purgeTag("product:42", { cache });
      await cache.set("price:42", i, { tags: ["product:42"] });
      if ((await cache.get("price:42")) !== i) lost++;
    }
    expect(lost).toBe(0);
  });

  it("incrVersion finds no value that a purge of its tags ended, as get finds none", async () => {
    const { cache, purge } = bench();
    await cache.set("price", 10, { tags: ["product:1"] });
    await purge("product:1");
    await expect(cache.incrVersion("price")).rejects.toThrow(KeyNotFoundError);
    await cache.set("price", 11, { tags: ["product:1"] });
    expect(await cache.incrVersion("price")).toBe(2);
    expect(await cache.get("price", { version: 2 })).toBe(11);
  });

  it("purgeTag ends every value filed under the tag for get, getMany and has, and leaves the others", async () => {
    const { cache, purge, errors } = bench();
    await cache.set("p1", { price: 10 }, { tags: ["product:1", "catalogue"] });
    await cache.setMany({ p2: 20, p3: 30 }, { tags: ["product:2", "catalogue"] });
    await cache.set("plain", "untouched");
    expect(await cache.getMany(["p1", "p2", "p3", "plain"])).toEqual(new Map<string, unknown>([["p1", { price: 10 }], ["p2", 20], ["p3", 30], ["plain", "untouched"]]));
    await purge("product:1");
    expect(await cache.get("p1", { default: "gone" })).toBe("gone");
    expect(await cache.has("p1")).toBe(false);
    expect(await cache.get("p2")).toBe(20);
    await purge("catalogue");
    expect(await cache.getMany(["p1", "p2", "p3", "plain"])).toEqual(new Map([["plain", "untouched"]]));
    expect(await cache.has("plain")).toBe(true);
    // Written again after the purge, a value is good.
    await cache.set("p1", { price: 11 }, { tags: ["product:1", "catalogue"] });
    expect(await cache.get("p1")).toEqual({ price: 11 });
    expect(errors).toEqual([]);
  });

  it("add counts a purged value as missing and replaces it; a live one still wins", async () => {
    const { cache, purge } = bench();
    expect(await cache.add("k", "first", { tags: ["t"] })).toBe(true);
    expect(await cache.add("k", "second", { tags: ["t"] })).toBe(false);
    await purge("t");
    expect(await cache.add("k", "third")).toBe(true);
    expect(await cache.get("k")).toBe("third");
  });

  it("getOrSet recomputes a purged value, and a purge while it computes ends what it computed", async () => {
    const { cache, purge } = bench();
    let calls = 0;
    const load = async () => `v${++calls}`;
    expect(await cache.getOrSet("k", load, { tags: ["t"] })).toBe("v1");
    expect(await cache.getOrSet("k", load, { tags: ["t"] })).toBe("v1");
    await purge("t");
    expect(await cache.getOrSet("k", load, { tags: ["t"] })).toBe("v2");
    expect(await cache.getOrSet("k", load, { tags: ["t"] })).toBe("v2");
    // The data it computes from changes, and is purged, while it runs: what it stored is not kept.
    await purge("t");
    const racing = async () => {
      const value = `v${++calls}`;
      await purge("t");
      return value;
    };
    expect(await cache.getOrSet("k", racing, { tags: ["t"] })).toBe("v3");
    expect(await cache.getOrSet("k", load, { tags: ["t"] })).toBe("v4");
    expect(await cache.getOrSet("k", load, { tags: ["t"] })).toBe("v4");
  });

  it("getOrSet takes tags from the computed value (adaptive tags); a tags function that fails stores nothing and is reported", async () => {
    const { cache, purge, errors } = bench();
    let builds = 0;
    const listing = async () => ({ build: ++builds, ids: [1, 2] });
    const byProducts = { tags: (value: { ids: number[] }) => value.ids.map((id) => `product:${id}`) };
    expect(await cache.getOrSet("listing", listing, { tags: (value) => value.ids.map((id) => `product:${id}`) })).toEqual({ build: 1, ids: [1, 2] });
    expect(await cache.getOrSet("listing", listing, byProducts)).toEqual({ build: 1, ids: [1, 2] });
    await purge("product:3");
    expect((await cache.getOrSet("listing", listing, byProducts)).build).toBe(1);
    await purge("product:2");
    expect((await cache.getOrSet("listing", listing, byProducts)).build).toBe(2);
    // A tags function that throws, or returns bad tags: the value is answered, not stored.
    const broken = { tags: (): string[] => { throw new Error("no ids"); } };
    expect((await cache.getOrSet("other", listing, broken)).build).toBe(3);
    expect((await cache.getOrSet("other", listing, { tags: () => [""] })).build).toBe(4);
    expect(await cache.has("other")).toBe(false);
    expect(errors).toEqual(["getOrSet: no ids", expect.stringMatching(/^getOrSet: options\.tags\(value\)\[0\] must be a non-empty string/)]);
  });

  it("a soft purge: getOrSet answers the value at once while one background computation replaces it; other reads miss", async () => {
    const { cache, purge } = bench();
    const background: Promise<unknown>[] = [];
    const options = { tags: ["t"], waitUntil: (work: Promise<unknown>) => void background.push(work) };
    let calls = 0;
    const load = async () => `v${++calls}`;
    await cache.getOrSet("k", load, options);
    await purge("t", true);
    expect(await cache.get("k")).toBeUndefined();
    const answers = await Promise.all([cache.getOrSet("k", load, options), cache.getOrSet("k", load, options)]);
    expect(answers).toEqual(["v1", "v1"]);
    expect(background).toHaveLength(1);
    await Promise.all(background);
    expect(await cache.getOrSet("k", load, options)).toBe("v2");
    expect(await cache.get("k")).toBe("v2");
  });

  it("a soft and a hard purge of one tag at once: the hard one is never undone, as a soft purge has a record of its own and reads nothing", async () => {
    const { clock, cache } = bench();
    await cache.set("k", "v", { tags: ["t"] });
    clock.advance(0.001);
    await Promise.all([purgeTag("t", { cache, now: clock.now, soft: true }), purgeTag("t", { cache, now: clock.now })]);
    clock.advance(0.001);
    expect(await cache.getOrSet("k", "new", { tags: ["t"] })).toBe("new"); // purged, not merely stale
    expect(await cache.get("soft-tag:t")).toBe(clock.now() - 1);
  });

  it("reads a record written before soft purges had records of their own: [purge time, soft purge time]", async () => {
    const { clock, cache } = bench();
    await cache.set("k", "v", { tags: ["t"] });
    await cache.set("tag:t", [clock.now() - 10_000, clock.now()], { timeout: null });
    clock.advance(1);
    expect(await cache.getOrSet("k", "new", { tags: ["t"], waitUntil: () => {} })).toBe("v"); // stale: answered, and refreshed behind
  });

  it("a hard purge ends getOrSet's stale copy too: a failing computation then throws rather than answer purged data", async () => {
    const { cache, purge, errors } = bench();
    const fail = () => Promise.reject(new Error("origin down"));
    await cache.getOrSet("k", "v1", { tags: ["t"], timeout: 10, staleIfError: 600 });
    await cache.set("k", "v1", { timeout: 0 }); // expired: the stale copy is all there is
    expect(await cache.getOrSet("k", fail, { tags: ["t"], staleIfError: 600 })).toBe("v1");
    await purge("t");
    await expect(cache.getOrSet("k", fail, { tags: ["t"], staleIfError: 600 })).rejects.toThrow("origin down");
    expect(errors).toEqual(["getOrSet: origin down"]);
  });

  it("another isolate trusts the records it read for tagCheckMs (a second), then sees the purge", async () => {
    const { clock, cache, isolate, purge } = bench();
    const other = isolate();
    await cache.set("k", "v", { tags: ["t"] });
    expect(await other.get("k")).toBe("v");
    clock.advance(0.5);
    await purge("t");
    expect(await cache.get("k")).toBeUndefined(); // the purging isolate sees it at once
    expect(await other.get("k")).toBe("v"); // read its record 0.5 s ago
    clock.advance(0.5);
    expect(await other.get("k")).toBeUndefined();
  });

  it("a tag record read in flight when this isolate purges the tag is not remembered: the purge is seen here at once", async () => {
    const clock = fakeClock();
    const store = memory({ now: clock.now });
    let held: { reading: () => void; reply: Promise<void> } | undefined;
    const backend: Backend = {
      ...store,
      async getMany(keys) {
        const values = await store.getMany!(keys); // the store answers now; the reply comes later
        if (held && keys.some((key) => key.includes("tag:"))) {
          held.reading();
          await held.reply;
        }
        return values;
      },
    };
    const cache = createCache({ backend, now: clock.now });
    await cache.set("price", 19.5, { tags: ["product"] });
    clock.advance(2); // the record it wrote is no longer trusted
    let reading!: () => void;
    let reply!: () => void;
    const read = new Promise<void>((resolve) => (reading = resolve));
    held = { reading, reply: new Promise<void>((resolve) => (reply = resolve)) };
    const inFlight = cache.get("price");
    await read;
    held = undefined;
    await purgeTag("product", { cache, now: clock.now });
    reply(); // the reply, with the record from before the purge, arrives after it
    expect(await inFlight).toBe(19.5); // it began before the purge
    expect(await cache.get("price")).toBeUndefined();
  });

  it("getOrSet begun after a purge of its tags in this isolate does not share a computation begun before it", async () => {
    const { cache, purge } = bench();
    let row = "price 19.5";
    let began!: () => void;
    let release!: () => void;
    const computing = new Promise<void>((resolve) => (began = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    const load = async () => {
      const read = row;
      began();
      await gate;
      return read;
    };
    const first = cache.getOrSet("price", load, { tags: ["product"] });
    await computing;
    row = "price 25";
    await purge("product");
    const second = cache.getOrSet("price", load, { tags: ["product"] });
    release();
    expect([await first, await second]).toEqual(["price 19.5", "price 25"]);
  });

  it("another isolate whose clock stepped back does not go on trusting a record it read 'later'", async () => {
    const { clock, cache, isolate, purge } = bench();
    const other = isolate();
    await cache.set("k", "v", { tags: ["t"] });
    expect(await other.get("k")).toBe("v"); // its record, read now
    clock.advance(-60); // an NTP step back
    await purge("t");
    expect(await other.get("k")).toBeUndefined();
  });

  it("a tag opening with U+FEFF is the tag it was filed under, not the same name without it", async () => {
    const { cache, purge } = bench();
    await cache.set("banner", "50% off", { tags: ["\uFEFFpromo", "site"] });
    await purge("promo");
    expect(await cache.get("banner")).toBe("50% off");
    await purge("\uFEFFpromo");
    expect(await cache.get("banner")).toBeUndefined();
  });

  it("purgeTag takes several caches: pages in one and values in another end together", async () => {
    const { clock, cache } = bench();
    const pages = createCache({ now: clock.now });
    await cache.set("price", 10, { tags: ["product:1"] });
    await pages.set("summary", "<p>10</p>", { tags: ["product:1"] });
    await purgeTag("product:1", { cache: [pages, cache], now: clock.now });
    clock.advance(0.001);
    expect([await cache.get("price"), await pages.get("summary")]).toEqual([undefined, undefined]);
    await expect(purgeTag("t", { cache: [cache, 7 as never] })).rejects.toThrow("options.cache[1] must be an EdgeCache or an alias");
  });

  it("a write reads each tag's record once per tagCheckMs (twice when it writes one), and a tagged read of a known record reads only the value", async () => {
    const { clock } = bench();
    const store = memory({ now: clock.now });
    const calls: string[] = [];
    const cache = createCache({ now: clock.now, backend: { ...store, getMany: (keys) => (calls.push(`getMany ${keys.join(" ")}`), store.getMany!(keys)), get: (key) => (calls.push(`get ${key}`), store.get(key)) } });
    await cache.set("a", 1, { tags: ["t"] });
    await cache.set("b", 2, { tags: ["t"] });
    expect(await cache.get("a")).toBe(1);
    clock.advance(1);
    await cache.set("c", 3, { tags: ["t"] });
    // The first write reads the record, writes it, and reads every record of the value again.
    expect(calls).toEqual(["getMany :1:tag:t :1:soft-tag:t", "getMany :1:tag:t :1:soft-tag:t", "get :1:a", "getMany :1:tag:t :1:soft-tag:t"]);
    // A getMany checks the tags of all its values with one read of the records it does not know.
    await cache.setMany({ p1: 1, p2: 2 }, { tags: ["product"] });
    await cache.set("p3", 3, { tags: ["product", "sale"] });
    clock.advance(1);
    calls.length = 0;
    expect(await cache.getMany(["p1", "p2", "p3", "c"])).toEqual(new Map([["p1", 1], ["p2", 2], ["p3", 3], ["c", 3]]));
    expect(calls).toEqual(["getMany :1:p1 :1:p2 :1:p3 :1:c", "getMany :1:tag:product :1:tag:sale :1:tag:t :1:soft-tag:product :1:soft-tag:sale :1:soft-tag:t"]);
  });

  it("a store that fails the tag check: a miss under ignoreErrors, reported and forgotten once it is back; an error otherwise", async () => {
    const { clock } = bench();
    const store = memory({ now: clock.now });
    let down = false;
    const backend = { ...store, getMany: (keys: string[]) => (down ? Promise.reject(new Error("store down")) : store.getMany!(keys)) };
    const errors: string[] = [];
    const quiet = createCache({ backend, now: clock.now, ignoreErrors: true, onError: (error, operation) => errors.push(`${operation}: ${(error as Error).message}`) });
    const loud = createCache({ backend, now: clock.now });
    await quiet.set("k", "v", { tags: ["t"] });
    clock.advance(1);
    down = true;
    expect(await quiet.get("k")).toBeUndefined();
    expect(errors).toEqual(["getMany: store down"]);
    down = false;
    expect(await quiet.get("k")).toBe("v"); // the failed check left nothing behind: good again at once
    down = true;
    clock.advance(1);
    await expect(loud.get("k")).rejects.toThrow("store down");
    down = false;
    expect(await loud.get("k")).toBe("v");
  });

  it("a value whose tag record the store lost is a miss, never served unchecked", async () => {
    const { clock, cache } = bench();
    await cache.set("k", "v", { tags: ["t"] });
    await cache.delete("tag:t");
    clock.advance(1); // past tagCheckMs: the record the write made is read again
    expect(await cache.get("k")).toBeUndefined();
  });

  it("a record the store lost after a purge is written again as of now: a computation begun before the purge brings nothing purged back", async () => {
    const { clock, cache, purge } = bench();
    let finish!: (value: string) => void;
    const slow = cache.getOrSet("listing", () => new Promise<string>((resolve) => (finish = resolve)), { tags: ["product:1"] });
    await Promise.resolve();
    clock.advance(0.01);
    await cache.set("price:1", "old price", { tags: ["product:1"] });
    clock.advance(0.01);
    await purge("product:1");
    await cache.backend.delete(cache.makeKey("tag:product:1")); // evicted
    clock.advance(2); // past tagCheckMs
    finish("listing at the old price");
    expect(await slow).toBe("listing at the old price"); // its caller's, as computed
    expect(await cache.get("price:1")).toBeUndefined(); // the purge stands
    // A value filed now, under the record written again, is good at once.
    await cache.set("price:1", "new price", { tags: ["product:1"] });
    expect(await cache.get("price:1")).toBe("new price");
  });

  it("files a value whose tag got a new record as made when it began, if a purge of another of its tags came meanwhile that this isolate had not yet read", async () => {
    const { clock, cache, isolate, purge } = bench();
    await cache.set("warm", 1, { tags: ["product:42"] }); // this isolate trusts product:42's record for a second
    let finish!: (value: string) => void;
    const listing = cache.getOrSet("listing", () => new Promise<string>((resolve) => (finish = resolve)), { tags: ["product:42", "listing-page-2"] });
    await Promise.resolve();
    clock.advance(0.01);
    await purge("product:42", false, isolate()); // from another isolate, while the listing is computed
    finish("price=10");
    expect(await listing).toBe("price=10");
    expect(await isolate().get("listing")).toBeUndefined();
  });

  it("a soft purge whose record the store lost is not undone: what it made stale stays stale, and a value written after is good", async () => {
    const { clock, cache, purge } = bench();
    await cache.set("price", "old price", { tags: ["catalogue"] });
    clock.advance(0.01);
    await purge("catalogue", true);
    expect(await cache.get("price")).toBeUndefined(); // stale: a miss for get
    await cache.backend.delete(cache.makeKey("soft-tag:catalogue")); // evicted, its tag's record left
    clock.advance(2); // past tagCheckMs
    expect(await cache.get("price")).toBeUndefined();
    await cache.set("price", "new price", { tags: ["catalogue"] });
    expect(await cache.get("price")).toBe("new price");
    clock.advance(2);
    expect(await cache.get("price")).toBe("new price");
  });

  it("keeps the values two isolates write at once under a tag whose soft purge record they both find lost", async () => {
    const { clock, cache, isolate } = bench();
    await cache.set("seed", 1, { tags: ["t"] });
    await cache.backend.delete(cache.makeKey("soft-tag:t")); // evicted
    clock.advance(2); // past tagCheckMs
    const [a, b] = [isolate(), isolate()];
    await Promise.all([a.set("a", "A's value", { tags: ["t"] }), b.set("b", "B's value", { tags: ["t"] })]);
    clock.advance(2);
    const c = isolate();
    expect([await c.get("a"), await c.get("b")]).toEqual(["A's value", "B's value"]);
  });

  it("keeps the value of the isolate that wins a new tag's record when another uses the tag at the same time", async () => {
    const { clock, cache } = bench();
    const late = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const slowed = (pattern: string, ms: number) => createCache({ now: clock.now, backend: { ...cache.backend, identity: {}, add: async (key, value, ttl) => {
      if (key.includes(pattern)) await late(ms);
      return cache.backend.add!(key, value, ttl);
    } } });
    const [a, b] = [slowed("soft-tag:t", 20), slowed(":tag:t", 40)]; // a adds its soft purge record last, b its record
    await Promise.all([a.set("a", "A's value", { tags: ["t"] }), b.set("b", "B's value", { tags: ["t"] })]);
    clock.advance(2);
    expect(await cache.get("a")).toBe("A's value"); // the winner's; the loser's is filed before the winner's record: a miss once
  });

  it("on an eventually consistent store (Workers KV), takes a tag record seen before its soft purge record for what it is: nothing was lost", async () => {
    const { clock } = bench();
    const store = memory({ now: clock.now });
    const writes: string[] = [];
    const kvLike: Backend = { ...store, capabilities: { ...store.capabilities, consistent: false, local: false, shared: true }, add: (key, value, ttl) => (writes.push(key), store.add!(key, value, ttl)) };
    const cache = createCache({ backend: kvLike, now: clock.now });
    await cache.set("price", 10, { tags: ["product"] });
    await store.delete(cache.makeKey("soft-tag:product")); // not yet carried to this location
    clock.advance(2);
    writes.length = 0;
    expect(await cache.get("price")).toBe(10);
    expect(writes).toEqual([]);
  });

  it("files a value as stale when a soft purge lands while its tag's lost soft purge record is written again", async () => {
    const { clock, cache, isolate } = bench();
    await cache.set("other", 1, { tags: ["t"] });
    clock.advance(5);
    await cache.backend.delete(cache.makeKey("soft-tag:t")); // an earlier soft purge record evicted
    let purged = false;
    const filer = createCache({ now: clock.now, backend: { ...cache.backend, identity: {}, add: async (key, value, ttl) => {
      const added = await cache.backend.add!(key, value, ttl);
      if (key.endsWith("soft-tag:t") && !purged) {
        purged = true; // the filer has just written it again; a soft purge lands now
        clock.advance(0.005);
        await purgeTag("t", { cache: isolate(), soft: true, now: clock.now });
      }
      return added;
    } } });
    const value = await filer.getOrSet("k", async () => {
      clock.advance(0.01);
      return "computed before the soft purge";
    }, { tags: ["t"] });
    expect(value).toBe("computed before the soft purge");
    clock.advance(2);
    expect(await isolate().get("k")).toBeUndefined(); // stale: a miss
  });

  it("dates a hard purge once its soft purge records are written, so a value of its new tag filed meanwhile is not filed as made after it", async () => {
    const { clock, cache, isolate } = bench();
    let letPurgeLand!: () => void;
    const landing = new Promise<void>((resolve) => (letPurgeLand = resolve));
    const purger = createCache({ now: clock.now, backend: { ...cache.backend, identity: {}, add: async (key, value, ttl) => {
      await landing; // its soft purge record's add, slow
      return cache.backend.add!(key, value, ttl);
    } } });
    let purge: Promise<void> | undefined;
    const value = cache.getOrSet("k", async () => {
      clock.advance(0.01);
      purge = purgeTag("t", { cache: purger, now: clock.now }); // dated now; its write held back
      await new Promise((resolve) => setTimeout(resolve, 5));
      clock.advance(0.01);
      return "computed before the purge";
    }, { tags: ["t"] });
    await value;
    letPurgeLand();
    await purge;
    clock.advance(2);
    expect(await isolate().get("k")).toBeUndefined();
  });

  it("reads a tag record written before records were paired (the purge time alone) as never softly purged when it has no soft purge record", async () => {
    const { clock, cache } = bench();
    await cache.set("price", "kept", { tags: ["legacy"] });
    await cache.set("tag:legacy", clock.now() - 60_000, { timeout: null }); // as an earlier release wrote it
    await cache.delete("soft-tag:legacy");
    clock.advance(2);
    expect(await cache.get("price")).toBe("kept");
  });

  it("a tagged value is stored as the codec wrote it behind a header; a corrupt header is reported and dropped", async () => {
    const { cache, errors } = bench();
    await cache.set("n", 7, { tags: ["t"] });
    expect(await cache.get("n")).toBe(7);
    const entry = (await cache.backend.get(cache.makeKey("n")))!;
    expect(new TextDecoder().decode(entry.subarray(-1))).toBe("7"); // the codec's own bytes, last
    await expect(cache.incr("n")).rejects.toThrow(TypeError); // so a tagged integer is no counter
    await cache.backend.set(cache.makeKey("n"), entry.subarray(0, 10), null);
    expect(await cache.get("n")).toBeUndefined();
    expect(errors).toEqual([expect.stringMatching(/^decode: tagged cache entry has a tag block that is cut short or empty/)]);
    expect(await cache.backend.get(cache.makeKey("n"))).toBeUndefined();
    // add counts the corrupt entry as taken and drops it, as for corrupt bytes without tags.
    await cache.backend.set(cache.makeKey("n"), entry.subarray(0, 10), null);
    expect(await Promise.all([cache.add("n", 1), cache.add("n", 2)])).toEqual([false, false]);
    expect(await cache.backend.get(cache.makeKey("n"))).toBeUndefined();
    expect(await cache.add("n", 3)).toBe(true);
  });

  it("rejects tags that are not a list of non-empty strings without control characters, naming options.tags", async () => {
    const { cache } = bench();
    await expect(cache.set("k", 1, { tags: "t" as never })).rejects.toThrow("options.tags must be an array of tags, got");
    await expect(cache.getOrSet("k", 1, { tags: [""] })).rejects.toThrow("options.tags[0] must be a non-empty string");
    await expect(cache.setMany({ k: 1 }, { tags: ["ok", "bad\nline"] })).rejects.toThrow("options.tags[1]");
    expect(await cache.has("k")).toBe(false);
    expect(() => createCache({ tagCheckMs: -1 })).toThrow("options.tagCheckMs");
  });
});
