/**
 * How a low-level value filed under tags is stored: its own bytes, exactly as the codec (or a
 * custom serializer) wrote them, behind a header that holds the tags and the time its making
 * began. The header opens with self-described CBOR's magic and a CBOR tag of edgecache's own
 * (0x65646765, "edge"), which the value codec never writes and refuses to decode: an older
 * reader drops such an entry as corrupt rather than mistaking it for the value. The header is
 * decoded as data only, like every value.
 */
import { decodeFirst, encode } from "cborg";
import { CorruptEntryError } from "./errors.ts";
import type { Tagged } from "./tags.ts";

/** Self-described CBOR (d9 d9 f7), then the 4-byte CBOR tag head of 0x65646765. */
const MAGIC = Uint8Array.of(0xd9, 0xd9, 0xf7, 0xda, 0x65, 0x64, 0x67, 0x65);

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
  const header = encode([tagged.at, [...tagged.tags]]);
  const entry = new Uint8Array(MAGIC.byteLength + header.byteLength + bytes.byteLength);
  entry.set(MAGIC);
  entry.set(header, MAGIC.byteLength);
  entry.set(bytes, MAGIC.byteLength + header.byteLength);
  return entry;
}

/**
 * The tags and the value's own bytes (a view, not a copy) of an entry {@link isTaggedEntry}
 * accepts; CorruptEntryError when its header is not one {@link wrapTagged} writes.
 *
 * @example
 * const { tagged, bytes } = unwrapTagged(entry); // tagged.tags ["product:42"], bytes: the value's encoding
 */
export function unwrapTagged(entry: Uint8Array): { tagged: Tagged; bytes: Uint8Array } {
  let header: unknown;
  let bytes: Uint8Array;
  try {
    [header, bytes] = decodeFirst(entry.subarray(MAGIC.byteLength), { allowUndefined: false, strict: true });
  } catch (error) {
    throw new CorruptEntryError(`tagged cache entry has a header that cannot be decoded: ${(error as Error).message}`);
  }
  if (!Array.isArray(header) || header.length !== 2) throw new CorruptEntryError("tagged cache entry has a malformed header");
  const [at, tags] = header as [unknown, unknown];
  if (typeof at !== "number" || !Number.isFinite(at) || !Array.isArray(tags) || tags.length === 0 || !tags.every((tag) => typeof tag === "string" && tag !== "")) {
    throw new CorruptEntryError("tagged cache entry has a malformed header");
  }
  return { tagged: { tags: tags as string[], at }, bytes };
}
