import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compileCacheControl, formatCacheControl, getMaxAge, parseCacheControl, parseDeltaSeconds, patchCacheControl, scanCacheControl,
} from "../../src/http/cache-control.ts";
import type { CacheControlDirectives } from "../../src/http/cache-control.ts";
import { anyString, headerValue } from "./arbitraries.ts";

function withCacheControl(value?: string): Response {
  return new Response("body", value === undefined ? {} : { headers: { "Cache-Control": value } });
}

function patched(existing: string | undefined, directives: CacheControlDirectives): string | null {
  return patchCacheControl(withCacheControl(existing), directives).headers.get("cache-control");
}

describe("parseCacheControl", () => {
  it("lowercases names, unquotes values and keeps the order", () => {
    expect([...parseCacheControl('Max-Age=60, PUBLIC, private="Set-Cookie"')]).toEqual([
      ["max-age", "60"], ["public", true], ["private", "Set-Cookie"],
    ]);
  });

  it("accumulates no-cache field names, and a bare no-cache wins", () => {
    expect(parseCacheControl("no-cache=Set-Cookie, no-cache=\"Link, set-cookie\"").get("no-cache")).toBe("Set-Cookie, Link");
    expect(parseCacheControl("no-cache=Set-Cookie, no-cache").get("no-cache")).toBe(true);
    expect(parseCacheControl("no-cache, no-cache=Set-Cookie").get("no-cache")).toBe(true);
  });

  it("treats private as no-cache: field names accumulate and a bare private wins, so a rewrite never narrows it", () => {
    expect(parseCacheControl('private, private="Set-Cookie"').get("private")).toBe(true);
    expect(parseCacheControl('private="Set-Cookie", private=Link').get("private")).toBe("Set-Cookie, Link");
    expect(patched('private, private="Set-Cookie"', { maxAge: 60 })).toBe("private, max-age=60");
  });

  it("lets the last of a repeated directive win, at the first one's position", () => {
    expect([...parseCacheControl("max-age=60, public, max-age=30")]).toEqual([["max-age", "30"], ["public", true]]);
  });

  it("tolerates whitespace and skips empty members and members without a valid name", () => {
    expect([...parseCacheControl('  max-age = 60 ,, =5, public, ", a b')]).toEqual([["max-age", "60"], ["public", true]]);
    expect(parseCacheControl(null).size).toBe(0);
  });

  it("splits a value that leaves a quote open at every comma, so no directive after it is lost", () => {
    const headers = new Headers({ "cache-control": 'ext="x' });
    headers.append("cache-control", "no-store"); // another layer's, in a field of its own
    expect([...parseCacheControl(headers.get("cache-control"))]).toEqual([["ext", "x"], ["no-store", true]]);
    const patched = patchCacheControl(new Response(null, { headers }), { maxAge: 5 });
    expect(patched.headers.get("cache-control")).toBe("ext=x, no-store, max-age=5"); // written back closed: nothing appended later is swallowed
    // Only the member holding the open quote: well-quoted lists before it stay whole.
    expect([...parseCacheControl('private="Set-Cookie, X-User-Token", max-age=0, ext="x, public')])
      .toEqual([["private", "Set-Cookie, X-User-Token"], ["max-age", "0"], ["ext", "x"], ["public", true]]);
    expect(scanCacheControl('max-age=60, ext="x').malformed).toBe(true);
    expect(scanCacheControl('max-age=60, ext="x" private').unread).toEqual(['ext="x" private']);
  });

  it("reads no directive from a member that is none (semicolons, a missing comma), reports it, and writes it back as it came", () => {
    for (const [value, unread] of [
      ["no-store; no-cache", ["no-store; no-cache"]],
      ["private; max-age=0", ["private; max-age=0"]],
      ["max-age=60;private", ["max-age=60;private"]],
      ["public private", ["public private"]],
      ["max-age=60, ext=a b", ["ext=a b"]],
    ] as const) {
      const scanned = scanCacheControl(value);
      expect([scanned.unread, scanned.malformed]).toEqual([unread, true]);
      const patched = patchCacheControl(new Response(null, { headers: { "cache-control": value } }), { public: true });
      expect(patched.headers.get("cache-control")).toContain(unread[0]); // a no-store hidden in it still reaches downstream caches
    }
    expect(scanCacheControl('max-age=60, no-cache="Set-Cookie", community=UCI')).toEqual({
      directives: new Map([["max-age", "60"], ["no-cache", "Set-Cookie"], ["community", "UCI"]]), unread: [], malformed: false,
    });
    expect(patchCacheControl(new Response(null, { headers: { "cache-control": "no-store; no-cache" } }), { maxAge: 60 }).headers.get("cache-control")).toBe("max-age=60, no-store; no-cache");
    // One that leaves a quote open is written back with it closed: a field appended downstream is not swallowed.
    for (const [value, written] of [['ext=a"b', 'ext=a"b"'], ['"x', '"x"'], ['foo=1"2\\', 'foo=1"2\\\\"'], ['a="b"c"d', 'a="b"c"d"']]) {
      const patched = patchCacheControl(new Response(null, { headers: { "cache-control": `max-age=60, ${value}` } }), { maxAge: 5 });
      expect(patched.headers.get("cache-control")).toBe(`max-age=5, ${written}`);
      expect(scanCacheControl(`${patched.headers.get("cache-control")}, no-store`).directives.has("no-store")).toBe(true);
    }
  });

  it("never throws, whatever the input", () => {
    fc.assert(fc.property(anyString, (value) => {
      parseCacheControl(value);
    }));
  });
});

describe("formatCacheControl", () => {
  it("quotes values that are not tokens, and no-cache/private field names always", () => {
    const directives = new Map<string, string | true>([
      ["max-age", "60"], ["no-cache", "Set-Cookie"], ["private", "Authorization"], ["ext", "a b"], ["public", true],
    ]);
    expect(formatCacheControl(directives)).toBe('max-age=60, no-cache="Set-Cookie", private="Authorization", ext="a b", public');
  });

  it("round-trips through the parser", () => {
    fc.assert(fc.property(anyString, (value) => {
      const once = parseCacheControl(value);
      expect(parseCacheControl(formatCacheControl(once))).toEqual(once);
    }));
  });
});

describe("getMaxAge (Django's get_max_age cases)", () => {
  it.each([
    ["MAX-AGE=10", 10],
    ["max-age=60, max-age=30", 30],
    ["max-age=-5", -5],
    ['public, max-age="120"', 120],
    ["max-age=abc", undefined],
    ["max-age=1.5", undefined],
    ["", undefined],
    ["s-maxage=5", undefined],
    ["max-age", undefined],
  ])("%j → %j", (header, expected) => {
    expect(getMaxAge(withCacheControl(header))).toBe(expected);
  });

  it("is undefined without a Cache-Control header", () => {
    expect(getMaxAge(new Response())).toBeUndefined();
  });

  it("never throws on a malformed header", () => {
    fc.assert(fc.property(headerValue, (value) => {
      getMaxAge(withCacheControl(value));
    }));
  });
});

describe("parseDeltaSeconds", () => {
  it("caps huge values at 2^31 (RFC 9111)", () => {
    expect(parseDeltaSeconds("9".repeat(400))).toBe(2147483648);
    expect(parseDeltaSeconds(true)).toBeUndefined();
  });
});

describe("patchCacheControl (Django's patch_cache_control cases)", () => {
  it("writes seconds over 2^31 as 2^31 (RFC 9111), never in exponent notation", () => {
    const patched = patchCacheControl(new Response(null), { maxAge: 1e21, sMaxage: 2 ** 31 + 1, staleWhileRevalidate: 60 });
    expect(patched.headers.get("cache-control")).toBe("max-age=2147483648, s-maxage=2147483648, stale-while-revalidate=60");
  });

  it.each<[string | undefined, CacheControlDirectives, string]>([
    ["max-age=60", { maxAge: 30 }, "max-age=30"],
    ["Max-Age=60, PUBLIC", { maxAge: 100 }, "max-age=60, public"],
    ["public, max-age=60, must-revalidate", { private: true, maxAge: 120 }, "max-age=60, must-revalidate, private"],
    ["no-cache", { noCache: "Set-Cookie" }, "no-cache"],
    ["max-age=10", { maxAge: 30 }, "max-age=10"],
    ["max-age=-5", { maxAge: 0 }, "max-age=-5"],
    [undefined, { public: true, maxAge: 60 }, "public, max-age=60"],
    ["private", { public: true }, "public"],
    ["public, s-maxage=10", { private: true }, "s-maxage=10, private"],
  ])("%j + %j → %j", (existing, directives, expected) => {
    expect(patched(existing, directives)).toBe(expected);
  });

  it("converts camelCase, snake_case and other names to kebab-case", () => {
    expect(patched(undefined, {
      noStore: true, noTransform: true, mustRevalidate: true, proxyRevalidate: true, mustUnderstand: true,
      immutable: true, sMaxage: 1, staleWhileRevalidate: 2, staleIfError: 3, max_stale: 4, "community": "UCI",
    })).toBe("no-store, no-transform, must-revalidate, proxy-revalidate, must-understand, immutable, s-maxage=1, "
      + "stale-while-revalidate=2, stale-if-error=3, max-stale=4, community=UCI");
  });

  it("accumulates no-cache field names case-insensitively; a bare no-cache wins", () => {
    expect(patched('no-cache="Set-Cookie"', { noCache: ["Link", "set-cookie"] })).toBe('no-cache="Set-Cookie, Link"');
    expect(patched('no-cache="Set-Cookie"', { noCache: true })).toBe("no-cache");
    expect(patched("max-age=5", { noCache: "Set-Cookie" })).toBe('max-age=5, no-cache="Set-Cookie"');
  });

  it("removes a directive given false, and the header when nothing is left", () => {
    expect(patched("public, max-age=60, immutable", { immutable: false, maxAge: false })).toBe("public");
    expect(patchCacheControl(withCacheControl("public"), { public: false }).headers.has("cache-control")).toBe(false);
    expect(patchCacheControl(withCacheControl(), {}).headers.has("cache-control")).toBe(false);
  });

  it("rounds max-age down to whole seconds", () => {
    expect(patched(undefined, { maxAge: 1.9 })).toBe("max-age=1");
  });

  it("replaces an unparseable max-age instead of throwing (Django raises ValueError)", () => {
    expect(patched("max-age=soon", { maxAge: 30 })).toBe("max-age=30");
  });

  it("keeps unknown directives and their values", () => {
    expect(patched('foo="a, b", bar', { maxAge: 5 })).toBe('foo="a, b", bar, max-age=5');
  });

  it("returns a copy when the headers are immutable", () => {
    const redirect = Response.redirect("https://example.com/", 302);
    const result = patchCacheControl(redirect, { noStore: true });
    expect(result).not.toBe(redirect);
    expect(result.headers.get("cache-control")).toBe("no-store");
  });

  it("never throws on a malformed existing header", () => {
    fc.assert(fc.property(headerValue, (value) => {
      const cc = patchCacheControl(withCacheControl(value), { maxAge: 10, private: true, noCache: "X" })
        .headers.get("cache-control") ?? "";
      expect(parseCacheControl(cc).get("private")).toBe(true);
      expect(Number(parseCacheControl(cc).get("max-age"))).toBeLessThanOrEqual(10);
    }));
  });
});

describe("patchCacheControl argument checks", () => {
  it("throws a TypeError when public and private are both asked for", () => {
    expect(() => patchCacheControl(withCacheControl(), { public: true, private: true })).toThrow(TypeError);
    expect(() => patchCacheControl(withCacheControl(), { public: true, private: true })).toThrow(/public and private/);
  });

  it.each<[Record<string, unknown>, RegExp]>([
    [{ maxAge: Number.NaN }, /maxAge must be a non-negative finite number of seconds, got NaN/],
    [{ maxAge: Infinity }, /maxAge/],
    [{ sMaxage: -1 }, /sMaxage/],
    [{ maxAge: true }, /maxAge must be a number of seconds or false/],
    [{ maxAge: "60" }, /maxAge/],
    [{ noStore: 1 }, /noStore must be a boolean/],
    [{ noCache: "Set Cookie" }, /noCache must be true or header field names/],
    [{ noCache: 3 }, /noCache/],
    [{ "bad name": true }, /"bad name" is not a valid Cache-Control directive name/],
    [{ ext: "a\nb" }, /ext must be header text/],
    [{ ext: [] }, /ext must be/],
  ])("%j → TypeError %s", (directives, message) => {
    expect(() => compileCacheControl(directives as CacheControlDirectives)).toThrow(TypeError);
    expect(() => compileCacheControl(directives as CacheControlDirectives)).toThrow(message);
  });

  it("rejects directives that are not an object", () => {
    expect(() => compileCacheControl(null as unknown as CacheControlDirectives)).toThrow(/directives must be an object/);
  });

  it("ignores undefined values", () => {
    expect(patched("max-age=5", { maxAge: undefined, public: true })).toBe("max-age=5, public");
  });
});
