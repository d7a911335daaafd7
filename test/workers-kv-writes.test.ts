/**
 * The Workers KV adapter's writes, on a fake clock: its one-write-per-second throttle, and clear()
 * over writes it holds back. A request that ends on Workers drops its timers;
 * `vi.clearAllTimers()` plays that here.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { workersKv } from "../adapters/workers-kv.ts";
import { type PendingWrite, WriteThrottle } from "../adapters/workers-kv/throttle.ts";

/** A KV key as the throttle writes it: what was sent and when, with puts that take `uploadMs` to land. */
function kvKey() {
  const sent: Array<{ value: string | undefined; at: number }> = [];
  let stored: string | undefined;
  const write = (value: string | undefined, uploadMs = 0): PendingWrite<string> => ({
    entry: value,
    send: async () => {
      sent.push({ value, at: Date.now() });
      if (uploadMs > 0) await new Promise((resolve) => setTimeout(resolve, uploadMs));
      stored = value;
    },
  });
  return { sent, write, stored: () => stored };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"], now: 1_800_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("the Workers KV write throttle", () => {
  it("sends a second write of a key when its window opens, coalescing the writes that pile up into the latest", async () => {
    const throttle = new WriteThrottle<string>(1000);
    const key = kvKey();
    await throttle.write("k", key.write("one"));
    const waiting = [throttle.write("k", key.write("two")), throttle.write("k", key.write(undefined)), throttle.write("k", key.write("four"))];
    expect(throttle.waiting("k")?.entry).toBe("four");
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(waiting);
    expect(key.sent).toEqual([{ value: "one", at: 1_800_000_000_000 }, { value: "four", at: 1_800_000_001_000 }]);
    expect(throttle.waiting("k")).toBeUndefined();
  });

  it("is never wedged by a request that ended before its held-back write went out", async () => {
    const throttle = new WriteThrottle<string>(1000);
    const key = kvKey();
    await throttle.write("k", key.write("one"));
    void throttle.write("k", key.write("two")); // its request ends: its timers are dropped
    vi.clearAllTimers();
    await vi.advanceTimersByTimeAsync(1000);
    expect(key.sent.map(({ value }) => value)).toEqual(["one"]); // lost, as a write outside waitUntil may be

    // The next request's write goes out on its own timers, and then the key is free again.
    const next = throttle.write("k", key.write("three"));
    await vi.advanceTimersByTimeAsync(1000);
    await next;
    expect(key.stored()).toBe("three");
    await vi.advanceTimersByTimeAsync(1000);
    await throttle.write("k", key.write("five"));
    expect(key.stored()).toBe("five");
  });

  it("stops showing reads a held-back write nobody is waiting for any more, and close does not wait for it", async () => {
    const throttle = new WriteThrottle<string>(1000);
    const key = kvKey();
    await throttle.write("k", key.write("one"));
    void throttle.write("k", key.write("never sent"));
    vi.clearAllTimers();
    expect(throttle.waiting("k")?.entry).toBe("never sent");
    const closed = vi.fn();
    void throttle.idle().then(closed);
    await vi.advanceTimersByTimeAsync(12_001); // the window, the longest wait for an upload, and a window more
    expect(throttle.waiting("k")).toBeUndefined();
    expect(throttle.waitingKeys()).toEqual([]);
    expect(closed).toHaveBeenCalled();
  });

  it("sends the latest write when any of its callers is still waiting, even if the latest caller's request ended", async () => {
    const throttle = new WriteThrottle<string>(1000);
    const key = kvKey();
    await throttle.write("k", key.write("one"));
    const older = throttle.write("k", key.write("two"));
    await vi.advanceTimersByTimeAsync(500);
    // A request that ends before the window opens: its timer never fires.
    vi.spyOn(globalThis, "setTimeout").mockImplementationOnce((() => 0) as unknown as typeof setTimeout);
    void throttle.write("k", key.write("three"));
    await vi.advanceTimersByTimeAsync(500);
    await older;
    expect(key.sent.map(({ value }) => value)).toEqual(["one", "three"]);
  });

  it("never lets a write overtake the upload before it: a newer value or a delete lands last", async () => {
    const throttle = new WriteThrottle<string>(1000);
    const key = kvKey();
    const large = throttle.write("k", key.write("large", 1500)); // a big value, slow to upload
    await vi.advanceTimersByTimeAsync(10);
    const removal = throttle.write("k", key.write(undefined));
    await vi.advanceTimersByTimeAsync(1000); // the window is open, the upload is not done
    expect(key.sent.map(({ value }) => value)).toEqual(["large"]);
    await vi.advanceTimersByTimeAsync(500);
    await Promise.all([large, removal]);
    expect(key.sent.map(({ value }) => value)).toEqual(["large", undefined]);
    expect(key.stored()).toBeUndefined();
  });

  it("settles every caller of the writes it coalesced as the send of the latest does: once it has landed, or failed", async () => {
    const throttle = new WriteThrottle<string>(1000);
    const key = kvKey();
    await throttle.write("k", key.write("one"));
    const replaced = vi.fn();
    void throttle.write("k", key.write("two")).then(replaced);
    const latest = throttle.write("k", key.write("three", 500)); // uploads for half a second
    await vi.advanceTimersByTimeAsync(1000);
    expect(key.sent.map(({ value }) => value)).toEqual(["one", "three"]);
    expect(replaced).not.toHaveBeenCalled(); // "three" is not stored yet
    await vi.advanceTimersByTimeAsync(500);
    await latest;
    expect([replaced.mock.calls.length, key.stored()]).toEqual([1, "three"]);

    await vi.advanceTimersByTimeAsync(1000);
    const failing = (value: string): PendingWrite<string> => ({ entry: value, send: () => Promise.reject(new Error(`KV refused ${value}`)) });
    await throttle.write("k", key.write("four"));
    const outcomes = Promise.allSettled([throttle.write("k", failing("five")), throttle.write("k", failing("six"))]);
    await vi.advanceTimersByTimeAsync(1000);
    expect((await outcomes).map((outcome) => outcome.status === "rejected" && String(outcome.reason))).toEqual(["Error: KV refused six", "Error: KV refused six"]);
    expect(throttle.waiting("k")).toBeUndefined();
  });
});

describe("the Workers KV backend's clear", () => {
  it("rejects with a failed delete of a write it held back, and leaves no rejection unhandled while it lists the keys", async () => {
    const unhandled = vi.fn();
    process.on("unhandledRejection", unhandled);
    try {
      const namespace = {
        getWithMetadata: () => Promise.resolve({ value: null, metadata: null }),
        put: () => Promise.resolve(),
        delete: (key: string) => Promise.reject(new Error(`KV answered 500 to the delete of ${key}`)),
        list: () => new Promise<{ keys: Array<{ name: string }>; list_complete: true }>((resolve) => setTimeout(() => resolve({ keys: [], list_complete: true }), 1500)),
      };
      const backend = workersKv(namespace, { prefix: "clear-test:" });
      await backend.set("k", new Uint8Array([1]), 60);
      void backend.set("k", new Uint8Array([2]), 60).catch(() => {}); // held for the key's second
      await vi.advanceTimersByTimeAsync(0);
      const cleared = expect(backend.clear!()).rejects.toThrow("KV answered 500 to the delete of clear-test:k:k");
      await vi.advanceTimersByTimeAsync(1500);
      await cleared;
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off("unhandledRejection", unhandled);
    }
  });
});

describe("the Workers KV backend's writes against other isolates'", () => {
  /** One KV namespace as two isolates see it (two bindings, so two throttles), refusing a second write of a key within a second with KV's 429. */
  function sharedNamespace() {
    const stored = new Map<string, Uint8Array>();
    const lastWrite = new Map<string, number>();
    const refused: string[] = [];
    const write = (key: string, verb: string, change: () => void): Promise<void> => {
      if (Date.now() - (lastWrite.get(key) ?? -Infinity) < 1000) {
        refused.push(key);
        return Promise.reject(new Error(`KV ${verb} failed: 429 Too Many Requests`));
      }
      lastWrite.set(key, Date.now());
      change();
      return Promise.resolve();
    };
    const binding = () => ({
      getWithMetadata: (key: string) => Promise.resolve({ value: stored.get(key)?.slice().buffer ?? null, metadata: stored.has(key) ? {} : null }),
      put: (key: string, value: ArrayBufferView) => write(key, "PUT", () => stored.set(key, new Uint8Array(value.buffer.slice(0)))),
      delete: (key: string) => write(key, "DELETE", () => stored.delete(key)),
      list: () => Promise.resolve({ keys: [], list_complete: true }),
    });
    return { binding, stored, refused };
  }

  /** Two isolates' backends over one namespace, the first having just written `rates`. */
  async function twoIsolatesAfterAWrite() {
    const kv = sharedNamespace();
    const [one, two] = [workersKv(kv.binding() as never, { prefix: "p:" }), workersKv(kv.binding() as never, { prefix: "p:" })];
    await one.set("rates", new Uint8Array([1]), 60);
    return { kv, one, two };
  }

  it("sends a write KV refused for another isolate's a second later: it lands last, a delete included", async () => {
    const { kv, one, two } = await twoIsolatesAfterAWrite();
    const later = two.set("rates", new Uint8Array([2]), 60);
    await vi.advanceTimersByTimeAsync(1000);
    await later;
    expect([kv.refused, [...kv.stored.get("p:k:rates")!]]).toEqual([["p:k:rates"], [2]]);
    await vi.advanceTimersByTimeAsync(1000);
    await one.set("rates", new Uint8Array([3]), 60);
    const deleted = two.delete("rates");
    await vi.advanceTimersByTimeAsync(1000);
    await deleted;
    expect(kv.stored.has("p:k:rates")).toBe(false);
  });

  it("counts a write sent again as the key's last: this isolate's next write of it waits a second from then", async () => {
    const { kv, two } = await twoIsolatesAfterAWrite();
    const refusedOnce = two.set("rates", new Uint8Array([2]), 60);
    await vi.advanceTimersByTimeAsync(0);
    const next = two.set("rates", new Uint8Array([3]), 60); // held behind the write being sent again
    await vi.advanceTimersByTimeAsync(2000);
    await Promise.all([refusedOnce, next]);
    expect([kv.refused, [...kv.stored.get("p:k:rates")!]]).toEqual([["p:k:rates"], [3]]);
  });

  it("fails a write refused twice, and sends nothing more", async () => {
    let puts = 0;
    const busy = { ...sharedNamespace().binding(), put: () => (puts++, Promise.reject(new Error("KV PUT failed: 429 Too Many Requests"))) };
    const refused = expect(workersKv(busy as never).set("rates", new Uint8Array([2]), 60)).rejects.toThrow("KV PUT failed: 429 Too Many Requests");
    await vi.advanceTimersByTimeAsync(1000);
    await refused;
    expect(puts).toBe(2);
  });
});
