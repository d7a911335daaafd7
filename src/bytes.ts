/** Byte helpers shared by the codec's streaming reads and the adapters. Web standards only. */

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
 * Everything `stream` yields, in one array.
 *
 * @example
 * await readAll(response.body!); // the body's bytes
 */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
