import { describe, expect, it } from "vitest";
import { expiry } from "../../adapters/memcached/commands.ts";
import { HashRing } from "../../adapters/memcached/ring.ts";
import { parseServers } from "../../adapters/memcached/servers.ts";

describe("memcached servers option", () => {
  it("reads Django's LOCATION string forms", () => {
    expect(parseServers("10.0.0.1:11211; 10.0.0.2:11212,cache.local,unix:/run/mc.sock,[::1]:11213")).toEqual([
      { address: { kind: "tcp", host: "10.0.0.1", port: 11211 }, label: "10.0.0.1:11211", weight: 1 },
      { address: { kind: "tcp", host: "10.0.0.2", port: 11212 }, label: "10.0.0.2:11212", weight: 1 },
      { address: { kind: "tcp", host: "cache.local", port: 11211 }, label: "cache.local:11211", weight: 1 },
      { address: { kind: "unix", path: "/run/mc.sock" }, label: "unix:/run/mc.sock", weight: 1 },
      { address: { kind: "tcp", host: "::1", port: 11213 }, label: "[::1]:11213", weight: 1 },
    ]);
  });

  it("reads a list with weights", () => {
    expect(parseServers(["a:1", { server: "b:2", weight: 2.5 }]).map(({ label, weight }) => [label, weight])).toEqual([["a:1", 1], ["b:2", 2.5]]);
  });

  it.each([
    ["an empty string", " ; ", /options.servers must name at least one server/],
    ["an empty list", [], /options.servers must name at least one server/],
    ["a number", 11211, /options.servers must name at least one server/],
    ["a bad port", "host:99999", /is not "host:port"/],
    ["a port that is not a number", "host:abc", /is not "host:port"/],
    ["an empty socket path", "unix:", /has no socket path/],
    ["a non-string entry", [42], /entries must be "host:port" strings/],
    ["a zero weight", [{ server: "a:1", weight: 0 }], /weight of a:1 must be a positive number/],
    ["a duplicate", "a:1,a:1", /lists a:1 twice/],
  ])("rejects %s with a TypeError", (_label, servers, message) => {
    expect(() => parseServers(servers)).toThrow(TypeError);
    expect(() => parseServers(servers)).toThrow(message);
  });
});

describe("memcached consistent hashing", () => {
  const keys = Array.from({ length: 20_000 }, (_, i) => `:1:key-${i}`);
  const shares = (ring: HashRing, servers: number) => {
    const counts = new Array<number>(servers).fill(0);
    for (const key of keys) counts[ring.lookup(key)]!++;
    return counts.map((count) => count / keys.length);
  };

  it("does not depend on the order servers are listed in", () => {
    const forward = new HashRing([{ id: "a:1", weight: 1 }, { id: "b:1", weight: 1 }]);
    const backward = new HashRing([{ id: "b:1", weight: 1 }, { id: "a:1", weight: 1 }]);
    expect(keys.every((key) => forward.lookup(key) === 1 - backward.lookup(key))).toBe(true);
  });

  it("gives a server of weight 3 about three times the keys of one of weight 1", () => {
    const [light, heavy] = shares(new HashRing([{ id: "10.0.0.1:11211", weight: 1 }, { id: "10.0.0.2:11211", weight: 3 }]), 2);
    expect(heavy! / light!).toBeGreaterThan(2.2);
    expect(heavy! / light!).toBeLessThan(4);
  });
});

describe("memcached expiry times", () => {
  const now = Date.UTC(2030, 0, 1);

  it("sends whole seconds rounded up, so a short TTL never becomes memcached's 0 (never)", () => {
    expect(expiry(0.2, now)).toBe(1);
    expect(expiry(1.5, now)).toBe(2);
    expect(expiry(300, now)).toBe(300);
    expect(expiry(null, now)).toBe(0);
  });

  it("turns TTLs over 30 days into absolute Unix times", () => {
    expect(expiry(30 * 86_400, now)).toBe(30 * 86_400);
    expect(expiry(30 * 86_400 + 1, now)).toBe(now / 1000 + 30 * 86_400 + 1);
  });

  it("sends 2038-01-19 at the latest: memcached keeps nothing with a later time", () => {
    expect(expiry(50 * 365 * 86_400, now)).toBe(2_147_483_647);
  });
});
