/** SHA-256 through Web Crypto, the one hash edgecache uses, for keys and ETags (runtime-agnostic). */

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/**
 * The SHA-256 of `data` (bytes, or text as UTF-8) as 64 lowercase hex digits.
 *
 * @example
 * await sha256Hex("abc"); // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 */
export async function sha256Hex(data: string | Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", typeof data === "string" ? encoder.encode(data) : data));
  let hex = "";
  for (const byte of digest) hex += HEX[byte];
  return hex;
}
