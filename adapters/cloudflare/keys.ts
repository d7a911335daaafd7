/**
 * Bounded storage names for the Cloudflare adapters: a key short enough for the store is kept
 * as it is (`k:` + key); a longer one becomes its SHA-256 (`h:` + 64 hex digits). The two forms
 * can never meet, so the mapping stays injective, and SHA-256 collisions do not happen in practice.
 */

import { sha256Hex } from "../../src/hash.ts";

const encoder = new TextEncoder();

/** The UTF-8 length of `text` in bytes. */
export function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

/**
 * `key` as a storage name of at most `maxBytes` UTF-8 bytes (`maxBytes` must leave room for a hash:
 * 66 bytes). A name that needs hashing comes as a promise; one that fits comes at once.
 *
 * @example
 * boundedName(":1:home", 512);                // "k::1:home"
 * await boundedName("x".repeat(600), 512);   // "h:" + sha256 hex of the key
 */
export function boundedName(key: string, maxBytes: number): string | Promise<string> {
  const literal = `k:${key}`;
  // A UTF-16 code unit takes at most 3 UTF-8 bytes, so short keys skip the encoding.
  if (literal.length * 3 <= maxBytes || utf8Length(literal) <= maxBytes) return literal;
  return sha256Hex(key).then((hash) => `h:${hash}`);
}
