/**
 * Decoding once per stored bytes. Decoding an entry is a pure function of immutable bytes
 * (backends never modify what they return), and the memory backend hands back the same bytes on
 * every hit (the Cloudflare adapters the same head bytes), so what they decode to is kept, keyed
 * weakly by the bytes' buffer: it goes when the bytes do.
 */

/**
 * What a decoder made of bytes, by their buffer, offset and length.
 *
 * @example
 * const decodedPages: DecodeMemo<DecodedPage | undefined> = new WeakMap();
 */
export type DecodeMemo<T> = WeakMap<ArrayBufferLike, { offset: number; length: number; value: T }>;

/**
 * What `decode` makes of `bytes`, decoded once for the same bytes.
 *
 * @example
 * const page = decodeOnce(decodedPages, bytes, () => decodePage(bytes));
 */
export function decodeOnce<T>(memo: DecodeMemo<T>, bytes: Uint8Array, decode: () => T): T {
  const known = memo.get(bytes.buffer);
  if (known !== undefined && known.offset === bytes.byteOffset && known.length === bytes.byteLength) return known.value;
  const value = decode();
  memo.set(bytes.buffer, { offset: bytes.byteOffset, length: bytes.byteLength, value });
  return value;
}
