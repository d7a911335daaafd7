/**
 * How what is filed under tags carries them: a tag block (the time its making began, then its
 * tags), which stored pages hold in their head, and which a low-level value is stored behind.
 *
 * A tagged value's entry is `d9 d9 f7 da 65 64 67 65` (self-described CBOR's magic, then the head
 * of a 4-byte CBOR tag of edgecache's own, 0x65646765 "edge", which the value codec never writes
 * and refuses to decode: an older reader drops such an entry as corrupt rather than mistaking it
 * for the value) | a tag block | the value's own bytes, as the codec (or a custom serializer)
 * wrote them.
 */
import { type DecodeMemo, decodeOnce } from "./decode-once.ts";
import { CorruptEntryError } from "./errors.ts";
import type { Tagged } from "./tags.ts";

const MAGIC = Uint8Array.of(0xd9, 0xd9, 0xf7, 0xda, 0x65, 0x64, 0x67, 0x65);
/** A tag block's fixed part: its time (f64) and the length of its tags in bytes (u32). */
const BLOCK_FIXED = 8 + 4;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }); // a tag opening with U+FEFF keeps it

/**
 * The tag block of `tagged`: its time f64 | the tags' length u32 | the tags as UTF-8,
 * newline-separated (a tag holds no newline: see `checkTags`).
 *
 * @example
 * const block = encodeTagBlock({ tags: ["product:42", "catalogue"], at: Date.now() }); // 12 + 20 bytes
 */
export function encodeTagBlock(tagged: Readonly<Tagged>): Uint8Array {
  const tags = encoder.encode(tagged.tags.join("\n"));
  const block = new Uint8Array(BLOCK_FIXED + tags.byteLength);
  const view = new DataView(block.buffer);
  view.setFloat64(0, tagged.at);
  view.setUint32(8, tags.byteLength);
  block.set(tags, BLOCK_FIXED);
  return block;
}

/**
 * The tag block at `offset` in `bytes` (frozen) and where it ends; `undefined` when the bytes end
 * before it does, or it holds no tags.
 *
 * @example
 * const { tagged, end } = decodeTagBlock(bytes, headersEnd)!;
 */
export function decodeTagBlock(bytes: Uint8Array, offset: number): { tagged: Readonly<Tagged>; end: number } | undefined {
  if (offset + BLOCK_FIXED > bytes.byteLength) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, BLOCK_FIXED);
  const length = view.getUint32(8);
  const end = offset + BLOCK_FIXED + length;
  if (length === 0 || end > bytes.byteLength) return undefined;
  const tags = decoder.decode(bytes.subarray(offset + BLOCK_FIXED, end)).split("\n");
  return { tagged: Object.freeze({ tags: Object.freeze(tags), at: view.getFloat64(0) }), end };
}

/**
 * Whether bytes read from a backend are a value filed under tags (see {@link wrapTagged}).
 *
 * @example
 * isTaggedEntry(wrapTagged(encodeValue("x", cborSerializer), { tags: ["a"], at: 0 })); // true
 */
export function isTaggedEntry(bytes: Uint8Array): boolean {
  if (bytes.byteLength <= MAGIC.byteLength) return false;
  for (let i = 0; i < MAGIC.byteLength; i++) if (bytes[i] !== MAGIC[i]) return false;
  return true;
}

/**
 * The entry that files a value's encoded `bytes` under `tagged.tags`, made at `tagged.at`.
 *
 * @example
 * const entry = wrapTagged(encodeValue({ price: 10 }, cborSerializer), { tags: ["product:42"], at: Date.now() });
 */
export function wrapTagged(bytes: Uint8Array, tagged: Readonly<Tagged>): Uint8Array {
  const block = encodeTagBlock(tagged);
  const entry = new Uint8Array(MAGIC.byteLength + block.byteLength + bytes.byteLength);
  entry.set(MAGIC);
  entry.set(block, MAGIC.byteLength);
  entry.set(bytes, MAGIC.byteLength + block.byteLength);
  return entry;
}

/** Tagged entries as unwrapped, once per stored bytes. */
const unwrapped: DecodeMemo<{ tagged: Readonly<Tagged>; bytes: Uint8Array } | undefined> = new WeakMap();

/**
 * The tags and the value's own bytes (a view, not a copy) of an entry {@link isTaggedEntry}
 * accepts; CorruptEntryError when its tag block is cut short or empty.
 *
 * @example
 * const { tagged, bytes } = unwrapTagged(entry); // tagged.tags ["product:42"], bytes: the value's encoding
 */
export function unwrapTagged(entry: Uint8Array): { tagged: Readonly<Tagged>; bytes: Uint8Array } {
  const found = decodeOnce(unwrapped, entry, () => {
    const block = decodeTagBlock(entry, MAGIC.byteLength);
    return block && { tagged: block.tagged, bytes: entry.subarray(block.end) };
  });
  if (found === undefined) throw new CorruptEntryError("tagged cache entry has a tag block that is cut short or empty");
  return found;
}
