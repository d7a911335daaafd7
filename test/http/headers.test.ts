import { describe, expect, it } from "vitest";
import { editHeaders, quote, scanHeaderList, splitHeaderList, uniqueIgnoringCase, unquote } from "../../src/http/headers.ts";

describe("splitHeaderList", () => {
  it("trims members, drops empty ones and keeps commas inside quotes", () => {
    expect(splitHeaderList(' a ,, b="x, y" ,c=\\,')).toEqual(["a", 'b="x, y"', "c=\\"]);
    expect(splitHeaderList('no-cache="a\\", b", x')).toEqual(['no-cache="a\\", b"', "x"]);
  });

  it("treats an unterminated quote as running to the end, and says it was left open", () => {
    expect(splitHeaderList('a="b, c')).toEqual(['a="b, c']);
    expect(['a="b, c', 'a="b\\", c', 'a="b", c'].map((value) => scanHeaderList(value).unterminated)).toEqual([true, true, false]);
  });

  it("returns nothing for a missing or blank header", () => {
    expect(splitHeaderList(null)).toEqual([]);
    expect(splitHeaderList(" , ")).toEqual([]);
  });
});

describe("quote / unquote", () => {
  it("round-trips quotes and backslashes", () => {
    expect(quote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(unquote(quote('a"b\\c'))).toBe('a"b\\c');
    expect(unquote("60")).toBe("60");
    expect(unquote('"unterminated')).toBe("unterminated");
  });
});

describe("uniqueIgnoringCase", () => {
  it("keeps the first spelling and the order", () => {
    expect(uniqueIgnoringCase(["Cookie", "Accept", "cookie", "ACCEPT", "Origin"])).toEqual(["Cookie", "Accept", "Origin"]);
  });
});

describe("editHeaders", () => {
  it("edits a response with mutable headers in place", () => {
    const response = new Response("body");
    expect(editHeaders(response, (h) => h.set("x-a", "1"))).toBe(response);
    expect(response.headers.get("x-a")).toBe("1");
  });

  it("edits a copy of a response with immutable headers, keeping status and body", async () => {
    const redirect = Response.redirect("https://example.com/next", 302);
    const edited = editHeaders(redirect, (h) => h.set("x-a", "1"));
    expect(edited).not.toBe(redirect);
    expect(edited.status).toBe(302);
    expect(edited.headers.get("location")).toBe("https://example.com/next");
    expect(edited.headers.get("x-a")).toBe("1");
    expect(redirect.headers.get("x-a")).toBeNull();
  });

  it("edits a copy of a fetch() response, which carries the body over", async () => {
    const fetched = await fetch("data:text/plain,hello");
    const edited = editHeaders(fetched, (h) => h.set("cache-control", "no-store"));
    expect(edited.headers.get("cache-control")).toBe("no-store");
    expect(edited.headers.get("content-type")).toBe("text/plain");
    expect(await edited.text()).toBe("hello");
  });
});
