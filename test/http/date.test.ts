import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatHttpDate, parseHttpDate } from "../../src/http/date.ts";
import { anyString } from "./arbitraries.ts";

describe("formatHttpDate", () => {
  it("writes an IMF-fixdate and drops fractions of a second", () => {
    expect(formatHttpDate(1468749602999)).toBe("Sun, 17 Jul 2016 10:00:02 GMT");
    expect(formatHttpDate(new Date(1167616461000))).toBe("Mon, 01 Jan 2007 01:54:21 GMT");
  });

  it("rejects an invalid time", () => {
    expect(() => formatHttpDate(Number.NaN)).toThrow(/time must be a valid time, got NaN/);
  });
});

describe("parseHttpDate", () => {
  it.each([
    ["Sun, 06 Nov 1994 08:49:37 GMT", 784111777000],
    ["Sunday, 06-Nov-94 08:49:37 GMT", 784111777000],
    ["Sun Nov  6 08:49:37 1994", 784111777000],
    ["Sun Nov 16 08:49:37 1994", 784975777000],
    ["sun, 06 NOV 1994 08:49:37 GMT", 784111777000],
  ])("%j → %d", (value, expected) => {
    expect(parseHttpDate(value)).toBe(expected);
  });

  it("reads a two-digit year more than 50 years ahead as the previous century", () => {
    const thisYear = new Date().getUTCFullYear();
    const ahead = (thisYear + 51) % 100;
    const parsed = parseHttpDate(`Monday, 01-Jan-${String(ahead).padStart(2, "0")} 00:00:00 GMT`);
    expect(new Date(parsed ?? Number.NaN).getUTCFullYear()).toBe(thisYear + 51 - 100);
  });

  it.each([
    "", "yesterday", "Sun, 06 Nov 1994 08:49:37", "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
    "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 1994 08:49:60 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
    "Sun, 06 Nov 0050 08:49:37 GMT", " Sun, 06 Nov 1994 08:49:37 GMT x",
  ])("%j → undefined", (value) => {
    expect(parseHttpDate(value)).toBeUndefined();
  });

  it("round-trips formatHttpDate", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 253402300799 }), (seconds) => {
      expect(parseHttpDate(formatHttpDate(seconds * 1000))).toBe(seconds * 1000);
    }));
  });

  it("never throws, whatever the input", () => {
    fc.assert(fc.property(anyString, (value) => {
      parseHttpDate(value);
    }));
  });
});
