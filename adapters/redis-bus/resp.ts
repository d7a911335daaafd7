/**
 * The part of RESP2, Redis's wire protocol, that a pub/sub bus needs: commands as arrays of bulk
 * strings, and replies read incrementally from a byte stream (simple strings, errors, integers,
 * bulk strings as UTF-8 text, arrays). Replies are data: nothing in them is ever evaluated.
 */
import { concatBytes } from "../../src/bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CR = 13;

/**
 * An error reply (`-ERR ...`), kept as a value: a subscriber hears it in line with the rest.
 *
 * @example
 * if (reply instanceof RespError) onError(new Error(reply.message));
 */
export class RespError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

/**
 * One reply: a status or bulk string as text, an integer, nil, an error, or an array of them.
 *
 * @example
 * const reply: Reply = ["message", "edgecache:invalidations", "{\"keys\":[\"k\"]}"];
 */
export type Reply = string | number | null | RespError | Reply[];

/**
 * `args` as one RESP command.
 *
 * @example
 * stream.write(encodeCommand(["SUBSCRIBE", "edgecache:invalidations"]));
 */
export function encodeCommand(args: readonly string[]): Uint8Array {
  let text = `*${args.length}\r\n`;
  for (const arg of args) text += `$${encoder.encode(arg).byteLength}\r\n${arg}\r\n`;
  return encoder.encode(text);
}

/**
 * Replies read from a byte stream as they complete; a reply split across chunks waits for the
 * rest.
 *
 * @example
 * const reader = new ReplyReader();
 * for (const reply of reader.push(chunk)) handle(reply);
 */
export class ReplyReader {
  private buffer: Uint8Array = new Uint8Array(0);

  /** The replies `bytes` completes, in order. Throws on bytes that are not RESP2. */
  push(bytes: Uint8Array): Reply[] {
    this.buffer = this.buffer.byteLength === 0 ? bytes : concatBytes(this.buffer, bytes);
    const replies: Reply[] = [];
    let at = 0;
    for (let read = parse(this.buffer, at); read !== undefined; read = parse(this.buffer, at)) {
      replies.push(read.reply);
      at = read.next;
    }
    this.buffer = this.buffer.subarray(at);
    return replies;
  }
}

/** One reply starting at `at`, and where the next starts; `undefined` until all of it is there. */
function parse(buffer: Uint8Array, at: number): { reply: Reply; next: number } | undefined {
  if (at >= buffer.byteLength) return undefined;
  let lineEnd = buffer.indexOf(CR, at);
  if (lineEnd === -1 || lineEnd + 1 >= buffer.byteLength) return undefined;
  const line = decoder.decode(buffer.subarray(at + 1, lineEnd));
  const next = lineEnd + 2;
  switch (buffer[at]) {
    case 0x2b: // +
      return { reply: line, next };
    case 0x2d: // -
      return { reply: new RespError(line), next };
    case 0x3a: // :
      return { reply: Number(line), next };
    case 0x24: { // $
      const length = count(line);
      if (length < 0) return { reply: null, next };
      if (buffer.byteLength < next + length + 2) return undefined;
      return { reply: decoder.decode(buffer.subarray(next, next + length)), next: next + length + 2 };
    }
    case 0x2a: { // *
      const items = count(line);
      if (items < 0) return { reply: null, next };
      const array: Reply[] = [];
      lineEnd = next;
      for (let i = 0; i < items; i++) {
        const item = parse(buffer, lineEnd);
        if (item === undefined) return undefined;
        array.push(item.reply);
        lineEnd = item.next;
      }
      return { reply: array, next: lineEnd };
    }
    default:
      throw new Error(`not a RESP2 reply: ${JSON.stringify(String.fromCharCode(buffer[at]!))}`);
  }
}

/** A length or count line: an integer of -1 or more. */
function count(line: string): number {
  const value = Number(line);
  if (!Number.isSafeInteger(value) || value < -1) throw new Error(`not a RESP2 length: ${JSON.stringify(line)}`);
  return value;
}
