/** An incremental parser for memcached's meta protocol responses (and the few classic replies used). */

/**
 * One response: its return code (`VA`, `HD`, `EN`, `NS`, `EX`, `NF`, `MN`, `OK`, or an error
 * code `ERROR` / `CLIENT_ERROR` / `SERVER_ERROR`), the flags that came back (`"t30"`, `"Oab"`),
 * the value of a `VA`, and the text of an error.
 *
 * @example
 * // "VA 2 t30\r\nhi\r\n" parses to
 * const response: Response = { code: "VA", flags: ["t30"], value: new TextEncoder().encode("hi"), message: "" };
 */
export interface Response {
  readonly code: string;
  readonly flags: readonly string[];
  readonly value: Uint8Array | undefined;
  /** The text after an error code (`"object too large for cache"`); empty otherwise. */
  readonly message: string;
}

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;
const EMPTY = new Uint8Array(0);

/**
 * Turns the bytes of a connection, in whatever chunks they arrive, into responses in order.
 * Values are copied out, so the caller may reuse the chunks it pushes.
 *
 * @example
 * const parser = new ResponseParser((response) => console.log(response.code));
 * parser.push(new TextEncoder().encode("HD\r\nEN\r\n")); // logs HD, then EN
 */
export class ResponseParser {
  /** Bytes of an incomplete line kept from the previous chunk. */
  private partial: Uint8Array = EMPTY;
  /** The `VA` whose value is being filled, with the value and how many of its bytes (+ CRLF) arrived. */
  private body: { code: string; flags: string[]; value: Uint8Array; received: number } | undefined;

  private readonly onResponse: (response: Response) => void;

  constructor(onResponse: (response: Response) => void) {
    this.onResponse = onResponse;
  }

  push(chunk: Uint8Array): void {
    let bytes = chunk;
    if (this.partial.length > 0) {
      bytes = new Uint8Array(this.partial.length + chunk.length);
      bytes.set(this.partial);
      bytes.set(chunk, this.partial.length);
      this.partial = EMPTY;
    }
    let position = 0;
    while (position < bytes.length) {
      if (this.body) {
        position = this.fillBody(bytes, position);
        continue;
      }
      const end = bytes.indexOf(NEWLINE, position);
      if (end < 0) break;
      const line = ascii(bytes, position, bytes[end - 1] === CARRIAGE_RETURN ? end - 1 : end);
      position = end + 1;
      this.parseLine(line);
    }
    if (position < bytes.length) this.partial = bytes.slice(position);
  }

  private fillBody(bytes: Uint8Array, position: number): number {
    const body = this.body!;
    const wanted = body.value.length + 2 - body.received; // the value, then its CRLF
    const taken = Math.min(wanted, bytes.length - position);
    const valueBytes = Math.min(taken, body.value.length - body.received);
    if (valueBytes > 0) body.value.set(bytes.subarray(position, position + valueBytes), body.received);
    body.received += taken;
    if (taken === wanted) {
      this.body = undefined;
      this.onResponse({ code: body.code, flags: body.flags, value: body.value, message: "" });
    }
    return position + taken;
  }

  private parseLine(line: string): void {
    const space = line.indexOf(" ");
    const code = space < 0 ? line : line.slice(0, space);
    if (code.endsWith("ERROR")) {
      this.onResponse({ code, flags: [], value: undefined, message: space < 0 ? "" : line.slice(space + 1) });
      return;
    }
    const tokens = space < 0 ? [] : line.slice(space + 1).split(" ");
    if (code === "VA") {
      const size = Number(tokens.shift());
      if (!Number.isSafeInteger(size) || size < 0) throw new Error(`memcached sent a malformed value header: ${JSON.stringify(line)}`);
      this.body = { code, flags: tokens, value: new Uint8Array(size), received: 0 };
      return;
    }
    this.onResponse({ code, flags: tokens, value: undefined, message: "" });
  }
}

/**
 * The token of flag `name` in a response, or undefined when the flag did not come back.
 *
 * @example
 * flag({ code: "HD", flags: ["t30", "Oab"], value: undefined, message: "" }, "t"); // "30"
 */
export function flag(response: Response, name: string): string | undefined {
  for (const token of response.flags) if (token[0] === name) return token.slice(1);
  return undefined;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
}
