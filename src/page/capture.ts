/**
 * Streaming a miss to the client while keeping a copy for the cache. The client gets each chunk
 * as the handler produces it (pull-based: nothing is read ahead of the client); the copy is kept
 * only while it stays within the size cap, and is given up if the stream fails or the client
 * goes away.
 */
import { concatChunks } from "../bytes.ts";

/** A response to send on, and the body bytes once the stream has ended (`undefined`: not storable). */
export interface CapturedResponse {
  response: Response;
  body: Promise<Uint8Array | undefined>;
}

/**
 * Pass `response` through while collecting up to `maxBytes` of its body.
 *
 * @example
 * const { response: out, body } = captureBody(response, 5 * 2 ** 20);
 * body.then((bytes) => bytes && store(bytes));
 * return out;
 */
export function captureBody(response: Response, maxBytes: number): CapturedResponse {
  const source = response.body;
  if (source === null) return { response, body: Promise.resolve(new Uint8Array(0)) };
  let settle!: (bytes: Uint8Array | undefined) => void;
  const body = new Promise<Uint8Array | undefined>((resolve) => (settle = resolve));
  let chunks: Uint8Array[] | undefined = [];
  let length = 0;
  const reader = source.getReader();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        settle(undefined);
        controller.error(error);
        return;
      }
      if (result.done) {
        controller.close();
        settle(chunks && concatChunks(chunks));
        return;
      }
      const chunk = result.value;
      if (chunks) {
        length += chunk.byteLength;
        if (length > maxBytes) chunks = undefined;
        else chunks.push(chunk.slice());
      }
      controller.enqueue(chunk);
    },
    cancel(reason) {
      settle(undefined);
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return { response: new Response(stream, response), body };
}
