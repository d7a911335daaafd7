/** Byte helpers shared by EdgeCache's streaming reads and the adapters. Web standards only. */

/**
 * `head` followed by `tail`, in one new array.
 *
 * @example
 * concatBytes(Uint8Array.of(1), Uint8Array.of(2, 3)); // Uint8Array [1, 2, 3]
 */
export function concatBytes(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const joined = new Uint8Array(head.byteLength + tail.byteLength);
  joined.set(head);
  joined.set(tail, head.byteLength);
  return joined;
}

/**
 * `chunks` in one array: the chunk itself when there is only one, else a new array.
 *
 * @example
 * concatChunks([Uint8Array.of(1), Uint8Array.of(2, 3)]); // Uint8Array [1, 2, 3]
 */
export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const joined = new Uint8Array(chunks.reduce((size, chunk) => size + chunk.byteLength, 0));
  chunks.reduce((offset, chunk) => (joined.set(chunk, offset), offset + chunk.byteLength), 0);
  return joined;
}

/**
 * A stream that yields nothing: the body of an entry whose bytes all came at once.
 *
 * @example
 * return { head: wholeValue, body: emptyStream(), length: wholeValue.byteLength };
 */
export function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}

/**
 * Everything `stream` yields, in one array.
 *
 * @example
 * await readAll(response.body!); // the body's bytes
 */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// Uint8Array's own base64 methods (workerd, recent V8) where present: decoding a stored head is
// then one native call instead of a loop over every character.
const nativeBase64 = Uint8Array as unknown as { fromBase64?(text: string): Uint8Array; prototype: { toBase64?(): string } };

/**
 * `bytes` as base64.
 *
 * @example
 * toBase64(Uint8Array.of(1, 2, 3)); // "AQID"
 */
export function toBase64(bytes: Uint8Array): string {
  if (nativeBase64.prototype.toBase64) return (bytes as unknown as { toBase64(): string }).toBase64();
  let binary = "";
  for (let at = 0; at < bytes.byteLength; at += 0x8000) binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  return btoa(binary);
}

/**
 * The bytes `text` encodes in base64.
 *
 * @example
 * fromBase64("AQID"); // Uint8Array [1, 2, 3]
 */
export function fromBase64(text: string): Uint8Array {
  if (nativeBase64.fromBase64) return nativeBase64.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
