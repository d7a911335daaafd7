/** The RESP2 subset of the Redis bus: commands out, replies in, however the stream splits them. */
import { describe, expect, it } from "vitest";
import { encodeCommand, ReplyReader, RespError } from "../../adapters/redis-bus/resp.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("RESP2", () => {
  it("encodes a command as an array of bulk strings, counting UTF-8 bytes", () => {
    expect(new TextDecoder().decode(encodeCommand(["PUBLISH", "ch", "é"]))).toBe("*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$2\r\né\r\n");
  });

  it("reads every kind of reply, split anywhere across chunks", () => {
    const stream = "+OK\r\n-ERR wrong\r\n:3\r\n$-1\r\n*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhé\r\n\r\n*-1\r\n";
    for (let cut = 1; cut < stream.length; cut++) {
      const reader = new ReplyReader();
      const encoded = bytes(stream);
      const split = Math.min(cut, encoded.byteLength - 1);
      const replies = [...reader.push(encoded.subarray(0, split)), ...reader.push(encoded.subarray(split))];
      expect(replies).toEqual(["OK", new RespError("ERR wrong"), 3, null, ["message", "ch", "hé\r\n"], null]);
    }
  });

  it("refuses bytes that are not RESP2", () => {
    expect(() => new ReplyReader().push(bytes("HTTP/1.1 400\r\n"))).toThrow('not a RESP2 reply: "H"');
    expect(() => new ReplyReader().push(bytes("$x\r\n"))).toThrow('not a RESP2 length: "x"');
  });
});
