import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileVary, hasVaryHeader, parseVary, patchVaryHeaders } from "../../src/http/vary.ts";
import { anyString, headerValue } from "./arbitraries.ts";

function withVary(value?: string): Response {
  return new Response("body", value === undefined ? {} : { headers: { Vary: value } });
}

function patched(existing: string | undefined, names: string[]): string | null {
  return patchVaryHeaders(withVary(existing), names).headers.get("vary");
}

describe("parseVary", () => {
  it("lists the names in order with their spelling, * included", () => {
    expect(parseVary("Accept-Encoding,  cookie ,,*")).toEqual(["Accept-Encoding", "cookie", "*"]);
    expect(parseVary('Cookie, "quoted", a b, Accept')).toEqual(["Cookie", "*", "*", "Accept"]);
    expect(parseVary(null)).toEqual([]);
  });

  it("never throws, whatever the input", () => {
    fc.assert(fc.property(anyString, (value) => {
      parseVary(value);
    }));
  });
});

describe("patchVaryHeaders (Django's patch_vary_headers cases)", () => {
  it.each<[string | undefined, string[], string | null]>([
    [undefined, ["Accept-Encoding"], "Accept-Encoding"],
    ["Accept-Encoding", ["accept-encoding"], "Accept-Encoding"],
    ["Accept-Encoding", ["ACCEPT-ENCODING", "Cookie"], "Accept-Encoding, Cookie"],
    ["Cookie,     Accept-Encoding", ["Accept-Encoding", "cookie"], "Cookie, Accept-Encoding"],
    ["Cookie    ,     Accept-Encoding", ["Accept-Encoding", "cookie"], "Cookie, Accept-Encoding"],
    [undefined, ["Accept-Encoding", "COOKIE"], "Accept-Encoding, COOKIE"],
    ["Cookie", ["*"], "*"],
    ["*", ["Accept-Language"], "*"],
    ["Accept-Encoding, *", [], "*"],
    ["", [], null], // nothing listed: no header rather than an empty one, as for Cache-Control
    [" , ", [], null],
  ])("%j + %j → %j", (existing, names, expected) => {
    expect(patched(existing, names)).toBe(expected);
  });

  it("dedupes new names among themselves too (Django would write 'Cookie, cookie')", () => {
    expect(patched(undefined, ["Cookie", "cookie"])).toBe("Cookie");
  });

  it("writes no empty Vary header (Django writes '' or ', Cookie')", () => {
    expect(withVary().headers.has("vary")).toBe(false);
    expect(patchVaryHeaders(withVary(), []).headers.has("vary")).toBe(false);
    expect(patched("", ["Cookie"])).toBe("Cookie");
  });

  it("returns a copy when the headers are immutable", () => {
    const redirect = Response.redirect("https://example.com/", 302);
    expect(patchVaryHeaders(redirect, ["Cookie"]).headers.get("vary")).toBe("Cookie");
  });

  it("throws a TypeError naming the argument for a bad header name", () => {
    expect(() => patchVaryHeaders(withVary(), ["Accept Language"])).toThrow(/headers: "Accept Language" is not a header name/);
    expect(() => compileVary([42 as unknown as string])).toThrow(TypeError);
    expect(() => compileVary("Cookie" as unknown as string[])).toThrow(/headers must be an array/);
  });

  it("never throws on a malformed existing header and always ends up varying on the name", () => {
    fc.assert(fc.property(headerValue, (value) => {
      const response = patchVaryHeaders(withVary(value), ["X-Name"]);
      expect(hasVaryHeader(response, "x-name") || response.headers.get("vary") === "*").toBe(true);
    }));
  });
});

describe("hasVaryHeader (Django's has_vary_header)", () => {
  it.each<[string | undefined, string, boolean]>([
    [undefined, "Cookie", false],
    ["Accept-Encoding, Cookie", "cookie", true],
    ["Accept-Encoding,Cookie", "COOKIE", true],
    ["Accept-Encoding", "Accept", false],
    ["X-Cookies", "Cookie", false],
    ["*", "Cookie", false],
  ])("Vary %j has %j → %j", (vary, name, expected) => {
    expect(hasVaryHeader(withVary(vary), name)).toBe(expected);
  });

  it("rejects a non-string name", () => {
    expect(() => hasVaryHeader(withVary("Cookie"), undefined as unknown as string)).toThrow(/name must be a header name/);
  });
});
