import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { acceptedCodings } from "../../src/http/accept-encoding.ts";
import { anyString } from "./arbitraries.ts";

describe("acceptedCodings", () => {
  it("gives the same key to the same codings, whatever their order, case, spacing and weights above 0", () => {
    const chrome = acceptedCodings("gzip, deflate, br, zstd");
    for (const spelling of ["zstd,br,deflate,gzip", "GZIP;q=1.0, deflate;q=0.9 , br;q=0.8,zstd;q=0.001", "gzip, gzip, deflate, br, zstd"]) {
      expect(acceptedCodings(spelling)).toBe(chrome);
    }
    expect(chrome).toBe("br,deflate,gzip,zstd");
  });

  it("keeps apart what a server must answer differently: other codings, refusals, no header, an empty one", () => {
    const keys = ["gzip, deflate, br", "gzip, deflate", "gzip, deflate, br, identity;q=0", "gzip;q=0, deflate, br", "*", "*;q=0", ""].map(acceptedCodings);
    expect(new Set([...keys, acceptedCodings(null)]).size).toBe(keys.length + 1);
    expect(acceptedCodings("Identity;Q=0 , gzip")).toBe("gzip,identity;q=0");
    expect(acceptedCodings(null)).toBeNull();
  });

  it("keeps an unreadable weight as sent, so it shares a key with neither the coding nor its refusal", () => {
    const odd = acceptedCodings("gzip;q=abc");
    expect(odd).toBe("gzip;q=abc");
    expect([acceptedCodings("gzip"), acceptedCodings("gzip;q=0")]).not.toContain(odd);
    expect(acceptedCodings("gzip;q=0.0001")).not.toBe(acceptedCodings("gzip;q=0"));
  });

  it("does not depend on the order of the members, and never throws", () => {
    const member = fc.constantFrom("gzip", "br", "deflate", "zstd", "identity", "*", "gzip;q=0", "br;q=0.5", "identity;q=0", "x;q=nope");
    fc.assert(fc.property(fc.array(member, { maxLength: 8 }), (members) => {
      expect(acceptedCodings([...members].reverse().join(", "))).toBe(acceptedCodings(members.join(",")));
    }));
    fc.assert(fc.property(anyString, (value) => {
      acceptedCodings(value);
    }));
  });
});
