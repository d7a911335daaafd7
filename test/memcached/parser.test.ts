import { describe, expect, it } from "vitest";
import { flag, ResponseParser, type Response } from "../../adapters/memcached/parser.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function parseInChunks(wire: Uint8Array, sizes: (index: number) => number): Response[] {
  const responses: Response[] = [];
  const parser = new ResponseParser((response) => responses.push(response));
  for (let at = 0, index = 0; at < wire.length; index++) {
    const size = Math.max(1, sizes(index));
    parser.push(wire.subarray(at, at + size));
    at += size;
  }
  return responses;
}

describe("memcached response parser", () => {
  // A value holding CRLF and "EN\r\n" must be read by its length, never scanned for line ends.
  const wire = bytes("HD t30 Oab\r\nVA 8 f0\r\nx\r\nEN\r\ny\r\nEN\r\nVA 0\r\n\r\nSERVER_ERROR object too large for cache\r\nMN\r\n");
  const expected = [
    { code: "HD", flags: ["t30", "Oab"], value: undefined, message: "" },
    { code: "VA", flags: ["f0"], value: bytes("x\r\nEN\r\ny"), message: "" },
    { code: "EN", flags: [], value: undefined, message: "" },
    { code: "VA", flags: [], value: new Uint8Array(0), message: "" },
    { code: "SERVER_ERROR", flags: [], value: undefined, message: "object too large for cache" },
    { code: "MN", flags: [], value: undefined, message: "" },
  ];

  it("parses a stream delivered in one chunk", () => {
    expect(parseInChunks(wire, () => wire.length)).toEqual(expected);
  });

  it("parses the same stream split at every possible place", () => {
    for (let split = 1; split < wire.length; split++) {
      expect(parseInChunks(wire, (index) => (index === 0 ? split : wire.length)), `split at ${split}`).toEqual(expected);
    }
    expect(parseInChunks(wire, () => 1)).toEqual(expected);
  });

  it("copies values out, so reusing the chunk does not change them", () => {
    const chunk = bytes("VA 2\r\nab\r\n");
    const [response] = parseInChunks(chunk, () => chunk.length);
    chunk.fill(0);
    expect(response!.value).toEqual(bytes("ab"));
  });

  it("rejects a malformed value header", () => {
    const parser = new ResponseParser(() => {});
    expect(() => parser.push(bytes("VA nope\r\n"))).toThrow(/malformed value header/);
  });

  it("finds a returned flag's token", () => {
    const [response] = parseInChunks(bytes("HD t-1 O7 W\r\n"), () => 100);
    expect(flag(response!, "t")).toBe("-1");
    expect(flag(response!, "O")).toBe("7");
    expect(flag(response!, "W")).toBe("");
    expect(flag(response!, "c")).toBeUndefined();
  });
});
