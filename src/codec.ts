/**
 * The value codec: how EdgeCache turns values into bytes for a backend and back.
 *
 * - Safe integers are stored as ASCII decimal text (`"42"`), so memcached's `ma` and Redis'
 *   `INCRBY` can increment them natively.
 * - Everything else is self-described CBOR (RFC 8949 §3.4.6, magic prefix `d9 d9 f7`), encoded
 *   by cborg: strict, data-only decoding that accepts only the tags registered here. No code is
 *   ever evaluated or constructor looked up from cache bytes, so a poisoned cache can only ever
 *   yield plain data.
 */
import { decode as cborDecode, encode as cborEncode, Token, Tokenizer, Type } from "cborg";
import type { Reference, StrictTypeEncoder, TagDecodeControl } from "cborg/interface";
import {
  mapDecoder,
  mapEncoder,
  negativeZeroEncoder,
  setDecoder,
  setEncoder,
  TAG_BIGINT_NEG,
  TAG_BIGINT_POS,
  TAG_DATE_EPOCH,
  TAG_MAP,
  TAG_SET,
  TAG_UINT8_ARRAY,
} from "cborg/taglib";
import { CorruptEntryError } from "./errors.ts";

/**
 * Turns values into bytes and back. A custom serializer must never produce bare decimal
 * integers (`"12"`, or `"12  "`, as memcached pads a counter it decremented; unsigned ones up to
 * 20 digits, as memcached's 64-bit counters run): those bytes are read as integers; nor bytes that
 * open with
 * `d9 d9 f7 da 65 64 67 65`: those are read as a value filed under tags (`tagged-value.ts`).
 *
 * @example
 * const json: Serializer = {
 *   encode: (v) => new TextEncoder().encode(JSON.stringify(v)),
 *   decode: (b) => JSON.parse(new TextDecoder().decode(b)),
 * };
 * createCache({ serializer: json });
 */
export interface Serializer {
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

const SELF_DESCRIBED = Uint8Array.of(0xd9, 0xd9, 0xf7);
/** RFC 9581's extended time. */
const TAG_EXTENDED_TIME = 1001;

/**
 * What a thrown value says: an Error's message, anything else as text. A serializer (or a client)
 * may throw anything, `null` and `undefined` included, and reading `.message` of those would
 * throw in turn, as `String` does of an object without a usable `toString`.
 *
 * @example
 * thrownText(null); // "null"
 */
export function thrownText(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return "a value that cannot be shown"; // an object without a usable toString
  }
}

function reject(what: string): never {
  throw new TypeError(`edgecache cannot store ${what}: values must be null, booleans, numbers, bigints, strings, Dates, Uint8Arrays, ArrayBuffers, arrays, plain objects, Maps or Sets`);
}

function rejectType(_value: unknown, type: string): never {
  return reject(type === "undefined" ? "undefined" : `a ${type}`);
}

/** The TypeError for an instance of a class (a subclass of a type we store included): it would come back as another type. */
function rejectInstance(proto: unknown): never {
  const name = (proto as { constructor?: { name?: string } } | null)?.constructor?.name || "anonymous class";
  return reject(`an instance of ${name}`);
}

/**
 * `value` itself unless it is an instance of a subclass of the type whose prototype is `proto`: a
 * `class Cart extends Map` would be stored as a Map and come back without its methods and fields,
 * so it is refused as other class instances are. The same type made in another realm (`node:vm`,
 * an iframe, Jest's module registry) is that type: its prototype is that realm's, straight above
 * its `Object.prototype`, under the same name.
 */
function exactly<T extends object>(value: T, proto: object): T {
  const actual = Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null;
  if (actual === proto) return value;
  const ownName = (proto as { constructor: { name: string } }).constructor.name;
  const above = actual === null ? null : Object.getPrototypeOf(actual);
  // Object.prototype itself has nothing above it; another type's sits right under it.
  const otherRealms = actual !== null && (ownName === "Object" ? above === null : above !== null && Object.getPrototypeOf(above) === null) && actual.constructor?.name === ownName;
  if (!otherRealms) rejectInstance(actual);
  return value;
}

/**
 * The deepest nesting of arrays, objects, Maps and Sets stored. Decoding takes more stack per level
 * than encoding (Maps and Sets most: from about 1,700 levels, less inside a deep call), so a value
 * nested deeper could be stored and never read back: it is refused. JSON-like data nests a few
 * levels; pickle's default recursion limit, Django's, is 1,000.
 */
const MAX_DEPTH = 500;

/** Refuse a container nested deeper than `MAX_DEPTH` (`refStack`: cborg's list of the containers it is in). */
function shallowEnough(refStack: Reference | undefined): void {
  let depth = 0;
  for (let level = refStack; level !== undefined; level = level.parent) {
    if (++depth >= MAX_DEPTH) reject(`a value nested more than ${MAX_DEPTH} levels deep (it could not be read back)`);
  }
}

function plainObjectOnly(value: object, _type: string, _options: unknown, refStack?: Reference): null {
  shallowEnough(refStack);
  if (Object.getPrototypeOf(value) !== null) exactly(value, Object.prototype); // another realm's plain object is one too
  // cborg encodes string keys only: a symbol-keyed property would be left out without a word.
  if (Object.getOwnPropertySymbols(value).some((symbol) => Object.prototype.propertyIsEnumerable.call(value, symbol))) {
    reject("an object with symbol-keyed properties");
  }
  return null; // cborg's own encoding of plain objects
}

/** A string as cborg encodes it, unless UTF-8 cannot hold it (a lone surrogate would come back as U+FFFD). */
function wellFormedOnly(value: string): null {
  if (!value.isWellFormed()) reject("a string with a lone UTF-16 surrogate (UTF-8 cannot hold it)");
  return null;
}

/**
 * RFC 8949's epoch time (tag 1) in seconds, a float holding the milliseconds; for the few
 * times a float cannot hold to the millisecond (beyond about ±140,000 years), RFC 9581's
 * extended time (tag 1001): whole seconds (key 1) and milliseconds (key -3).
 */
function dateEncoder(date: Date): Token[] {
  const ms = exactly(date, Date.prototype).getTime();
  if (Math.round((ms / 1000) * 1000) === ms || Number.isNaN(ms)) return [new Token(Type.tag, TAG_DATE_EPOCH), new Token(Type.float, ms / 1000)];
  const seconds = Math.floor(ms / 1000);
  return [
    new Token(Type.tag, TAG_EXTENDED_TIME), new Token(Type.map, 2),
    new Token(Type.uint, 1), new Token(seconds < 0 ? Type.negint : Type.uint, seconds),
    new Token(Type.negint, -3), new Token(Type.uint, ms - seconds * 1000),
  ];
}

function dateDecoder(decode: TagDecodeControl): Date {
  return new Date(Math.round((decode() as number) * 1000));
}

/** Each byte's two hex digits. */
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/**
 * A bignum's bytes (RFC 8949 §3.4.3, big-endian) as a bigint, in time linear in their length:
 * cborg's own decoders shift byte by byte, which is quadratic (a stored entry of 200 KiB held
 * the isolate for over a minute).
 */
function bignum(decode: TagDecodeControl): bigint {
  const bytes = decode();
  if (!(bytes instanceof Uint8Array)) throw new Error("a bignum holds other than a byte string");
  return bytes.byteLength === 0 ? 0n : BigInt(`0x${Array.from(bytes, (byte) => HEX[byte]).join("")}`);
}

const bigIntDecoder = (decode: TagDecodeControl): bigint => bignum(decode);
const bigNegIntDecoder = (decode: TagDecodeControl): bigint => -1n - bignum(decode);

/** A hex digit's value, by its character code. */
const NIBBLE = new Uint8Array(128);
for (let digit = 0; digit < 16; digit++) NIBBLE[digit.toString(16).charCodeAt(0)] = digit;

/**
 * A bignum (RFC 8949 §3.4.3): tag 2 and the big-endian bytes of `value`, or tag 3 and those of
 * `-1n - value` for a negative one; byte for byte what cborg's `structBigIntEncoder` writes (0n is
 * one zero byte), but in time linear in the length: cborg's shifts the bigint a byte at a time and
 * `unshift`s each byte, which is quadratic (setting a 128 KiB bigint took 1.7 s).
 */
function bigintEncoder(value: bigint): Token[] {
  const negative = value < 0n;
  const hex = (negative ? -1n - value : value).toString(16);
  const odd = hex.length % 2;
  const bytes = new Uint8Array((hex.length + odd) >> 1);
  if (odd) bytes[0] = NIBBLE[hex.charCodeAt(0)]!;
  for (let i = odd, at = odd; i < bytes.length; i++, at += 2) bytes[i] = (NIBBLE[hex.charCodeAt(at)]! << 4) | NIBBLE[hex.charCodeAt(at + 1)]!;
  return [new Token(Type.tag, negative ? TAG_BIGINT_NEG : TAG_BIGINT_POS), new Token(Type.bytes, bytes)];
}

function extendedTimeDecoder(decode: TagDecodeControl): Date {
  const fields = new Map(decode.entries());
  const seconds = fields.get(1);
  const ms = fields.get(-3);
  if (fields.size !== 2 || !Number.isSafeInteger(seconds) || !Number.isSafeInteger(ms)) throw new Error("extended time holds other than seconds and milliseconds");
  return new Date((seconds as number) * 1000 + (ms as number));
}

// Uint8Array travels as a plain CBOR byte string and ArrayBuffer as RFC 8746's uint8 array (tag 64),
// so each comes back as the type it went in as. cborg copies byte strings nested in other values
// out of the input; a top-level one is a view (see `decodeByteString`) that EdgeCache copies, so a
// caller mutating what `get` returned never touches the stored entry.
function arrayBufferEncoder(buffer: ArrayBuffer): Token[] {
  return [new Token(Type.tag, TAG_UINT8_ARRAY), new Token(Type.bytes, new Uint8Array(exactly(buffer, ArrayBuffer.prototype)))];
}

/**
 * Whether `value` is a Uint8Array, or a `Buffer`: a Uint8Array
 * subclass that code stores all the time (file contents, hashes, socket data), so it is accepted
 * as the bytes it holds, unlike other Uint8Array subclasses, and comes back as a plain Uint8Array
 * with the same bytes. A Buffer is told by the global `Buffer.isBuffer` (Node, Bun), by the
 * `_isBuffer` mark of the `buffer` package that bundlers ship as its polyfill (whose class they
 * may rename), or by its class's name (Deno's `node:buffer`).
 */
function isPlainBytes(value: Uint8Array): boolean {
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null;
  if (proto === Uint8Array.prototype) return true;
  const globalBuffer = (globalThis as { Buffer?: { isBuffer?: (value: unknown) => boolean } }).Buffer;
  return globalBuffer?.isBuffer?.(value) === true || (value as { _isBuffer?: unknown })._isBuffer === true || proto?.constructor?.name === "Buffer";
}

/** cborg's own encoding of a byte string, for a Uint8Array or a Buffer; other subclasses are refused. */
function bytesOnly(value: Uint8Array): null {
  if (!isPlainBytes(value)) rejectInstance(Object.getPrototypeOf(value));
  return null;
}

/**
 * cborg's own encoding of an array, unless it is an instance of an Array subclass. Named (non-index)
 * properties on an array are left out, as JSON and cborg leave them out: finding them takes a walk
 * over every key (`Object.keys`), which costs about half again the encoding of a large array of
 * numbers, and arrays carrying them are rare (a RegExp match's `index` and `groups`).
 */
function arrayOnly(value: unknown[], _type: string, _options: unknown, refStack?: Reference): null {
  shallowEnough(refStack);
  exactly(value, Array.prototype);
  return null;
}

function arrayBufferDecoder(decode: TagDecodeControl): ArrayBuffer {
  const bytes = decode() as Uint8Array;
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

const rejected = [
  "undefined", "symbol", "Function", "RegExp", "Error", "WeakMap", "WeakSet", "SharedArrayBuffer", "DataView",
  "Promise", "URL", "Int8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
  "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array", "Tagged",
];

const encodeOptions = {
  // cborg sorts map keys by default (deterministic CBOR); a cache must give back the order it got.
  mapSorter: undefined,
  typeEncoders: {
    ...Object.fromEntries(rejected.map((type) => [type, rejectType])),
    Object: plainObjectOnly,
    Array: arrayOnly,
    Uint8Array: bytesOnly,
    string: wellFormedOnly,
    number: negativeZeroEncoder,
    bigint: bigintEncoder,
    Date: dateEncoder,
    Map: ((map, typ, options, refStack) => (shallowEnough(refStack), mapEncoder(exactly(map as Map<unknown, unknown>, Map.prototype), typ, options, refStack))) satisfies StrictTypeEncoder,
    Set: ((set, typ, options, refStack) => (shallowEnough(refStack), setEncoder(exactly(set as Set<unknown>, Set.prototype), typ, options, refStack))) satisfies StrictTypeEncoder,
    ArrayBuffer: arrayBufferEncoder,
  },
};

/** What cborg's `decode` lays under the options it is given; its tokenizer takes the options as they are. */
const CBORG_DEFAULTS = { strict: false, allowIndefinite: true, allowUndefined: true, allowBigInt: true };

/** Whether `bytes` hold U+FEFF's UTF-8 anywhere: only then can cborg's decoding of text drop one. */
function holdsByteOrderMark(bytes: Uint8Array): boolean {
  for (let at = bytes.indexOf(0xef); at >= 0; at = bytes.indexOf(0xef, at + 1)) {
    if (bytes[at + 1] === 0xbb && bytes[at + 2] === 0xbf) return true;
  }
  return false;
}

/** A UTF-8 decoder that keeps a leading U+FEFF, which is text like any other here. */
const textKeepingMarks = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * cborg's tokenizer, but for text that opens with U+FEFF: cborg decodes it with a default
 * TextDecoder, which takes a leading U+FEFF for a byte-order mark and drops it, so "\uFEFFhi"
 * came back as "hi". Those strings are decoded again here; it is used only for bytes that hold
 * U+FEFF's UTF-8 somewhere (`holdsByteOrderMark`), so other values decode as cborg decodes them.
 */
class MarkKeepingTokenizer extends Tokenizer {
  override next(): Token {
    const at = this.pos();
    const initial = this.data[at]!;
    const token = super.next();
    if (initial >> 5 === 3) {
      const minor = initial & 31;
      const start = at + 1 + (minor < 24 ? 0 : minor === 24 ? 1 : minor === 25 ? 2 : minor === 26 ? 4 : 8);
      if (this.data[start] === 0xef && this.data[start + 1] === 0xbb && this.data[start + 2] === 0xbf) {
        token.value = textKeepingMarks.decode(this.data.subarray(start, at + token.encodedLength!));
      }
    }
    return token;
  }
}

const decodeOptions = {
  allowUndefined: false,
  rejectDuplicateMapKeys: true,
  tags: Object.assign([], {
    [TAG_DATE_EPOCH]: dateDecoder,
    [TAG_EXTENDED_TIME]: extendedTimeDecoder,
    [TAG_BIGINT_POS]: bigIntDecoder,
    [TAG_BIGINT_NEG]: bigNegIntDecoder,
    [TAG_SET]: setDecoder,
    [TAG_MAP]: mapDecoder,
    [TAG_UINT8_ARRAY]: arrayBufferDecoder,
  }),
};

/**
 * The default serializer: self-described CBOR through cborg, data only. A value that is a
 * Uint8Array decodes as a view of the bytes given, not a copy.
 *
 * @example
 * const bytes = cborSerializer.encode(new Map([[1, new Date(0)]]));
 * cborSerializer.decode(bytes); // Map { 1 => 1970-01-01T00:00:00.000Z }
 */
export const cborSerializer: Serializer = {
  encode(value) {
    if (value instanceof Uint8Array && value.byteLength <= 0xffffffff && isPlainBytes(value)) return encodeByteString(value);
    let body: Uint8Array;
    try {
      body = cborEncode(value, encodeOptions);
    } catch (error) {
      if (error instanceof TypeError) throw error; // ours: what cannot be stored, named
      // cborg's own (a circular reference) and the engine's (nesting too deep for the stack).
      throw new TypeError(`edgecache cannot store this value: ${thrownText(error)}`, { cause: error });
    }
    const out = new Uint8Array(SELF_DESCRIBED.length + body.length);
    out.set(SELF_DESCRIBED);
    out.set(body, SELF_DESCRIBED.length);
    return out;
  },
  decode(bytes) {
    if (bytes[0] !== 0xd9 || bytes[1] !== 0xd9 || bytes[2] !== 0xf7) {
      throw new CorruptEntryError("cache entry is not self-described CBOR");
    }
    const byteString = decodeByteString(bytes);
    if (byteString) return byteString;
    try {
      const body = bytes.subarray(SELF_DESCRIBED.length);
      if (!holdsByteOrderMark(body)) return cborDecode(body, decodeOptions);
      return cborDecode(body, { ...decodeOptions, tokenizer: new MarkKeepingTokenizer(body, { ...CBORG_DEFAULTS, ...decodeOptions }) });
    } catch (error) {
      throw new CorruptEntryError(`cache entry cannot be decoded: ${thrownText(error)}`);
    }
  },
};

// A top-level byte string (a stored page is one) skips cborg's tokenizer both ways: the same
// bytes cborg writes, read back as a view of the input rather than a copy. Allocating the copy's
// ArrayBuffer was most of a page-cache hit's decode (about 1 µs of 1.1 µs); EdgeCache copies it for
// its public reads, and only edgecache's own modules, which never modify bytes, get the view.
const BYTE_STRING = 0x40; // major type 2; the low five bits give the length or its width (24..27)

/** The width of a CBOR length argument: 0 (in the initial byte), 1, 2 or 4 bytes. */
function lengthWidth(length: number): 0 | 1 | 2 | 4 {
  return length < 24 ? 0 : length < 0x100 ? 1 : length < 0x10000 ? 2 : 4;
}

/**
 * The bytes that open the encoding of a byte string of `length` bytes (under 4 GiB): the magic
 * prefix and the CBOR head, byte for byte what cborg writes. The string's bytes follow them.
 *
 * @example
 * byteStringHeader(3); // d9 d9 f7 43
 */
export function byteStringHeader(length: number): Uint8Array {
  const width = lengthWidth(length);
  const at = SELF_DESCRIBED.length;
  const header = new Uint8Array(at + 1 + width);
  header.set(SELF_DESCRIBED);
  header[at] = BYTE_STRING | (width === 0 ? length : 24 + Math.log2(width));
  for (let i = header.length - 1, rest = length; i > at; i--, rest = Math.floor(rest / 256)) header[i] = rest % 256; // big-endian
  return header;
}

/**
 * Where the byte string starts in bytes that open with its encoding, and how long it is; `undefined`
 * when they open with anything else (other values, 64-bit or indefinite lengths) or stop too soon.
 *
 * @example
 * byteStringBounds(Uint8Array.of(0xd9, 0xd9, 0xf7, 0x43, 1, 2, 3)); // { start: 4, length: 3 }
 */
export function byteStringBounds(bytes: Uint8Array): { start: number; length: number } | undefined {
  const at = SELF_DESCRIBED.length;
  const initial = bytes[at];
  if (bytes[0] !== 0xd9 || bytes[1] !== 0xd9 || bytes[2] !== 0xf7 || initial === undefined || initial >> 5 !== BYTE_STRING >> 5) return undefined;
  const info = initial & 0x1f;
  const width = info < 24 ? 0 : info <= 26 ? 2 ** (info - 24) : -1;
  const start = at + 1 + width;
  if (width < 0 || bytes.byteLength < start) return undefined;
  let length = width === 0 ? info : 0;
  for (let i = at + 1; i < start; i++) length = length * 256 + bytes[i]!; // big-endian
  return { start, length };
}

/** Self-described CBOR for one byte string, as cborg encodes it. */
function encodeByteString(value: Uint8Array): Uint8Array {
  const header = byteStringHeader(value.byteLength);
  const out = new Uint8Array(header.byteLength + value.byteLength);
  out.set(header);
  out.set(value, header.byteLength);
  return out;
}

/** A view of the byte string that fills `bytes`, or `undefined` for anything else, which cborg then decides. */
function decodeByteString(bytes: Uint8Array): Uint8Array | undefined {
  const bounds = byteStringBounds(bytes);
  return bounds && bounds.start + bounds.length === bytes.byteLength ? bytes.subarray(bounds.start) : undefined;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const SPACE = 0x20;

/** Whether a value is stored as decimal text (and so can be incremented natively). */
function isCounter(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && !Object.is(value, -0);
}

/** The largest counter memcached keeps: 2^64 - 1, unsigned 64-bit (20 digits). */
const MAX_MEMCACHED_COUNTER = "18446744073709551615";

/**
 * The canonical decimal integer text in `bytes` (digits, maybe a minus before them, no leading
 * zero but in "0" itself), less any spaces after it: memcached decrements in place and pads a
 * shorter result ("100" less 95 is `"5  "`). `undefined` for anything else, and for text longer
 * than memcached's largest counter.
 */
function decimalText(bytes: Uint8Array): string | undefined {
  let length = bytes.length;
  while (length > 0 && bytes[length - 1] === SPACE) length--;
  if (length === 0 || length > MAX_MEMCACHED_COUNTER.length) return undefined;
  let i = bytes[0] === MINUS ? 1 : 0;
  if (i === length || (bytes[i] === ZERO && length > i + 1)) return undefined;
  for (; i < length; i++) {
    const byte = bytes[i]!;
    if (byte < ZERO || byte > NINE) return undefined;
  }
  return textDecoder.decode(bytes.subarray(0, length));
}

/** Whether canonical decimal text is a counter memcached can hold beyond the safe integers: up to 2^64 - 1. */
function isWideCounter(text: string): boolean {
  return text[0] !== "-" && (text.length < MAX_MEMCACHED_COUNTER.length || text <= MAX_MEMCACHED_COUNTER);
}

/**
 * The safe integer in `bytes` as decimal text, exactly, or `undefined` when the bytes are anything
 * else. Spaces after it are allowed: memcached decrements in place and pads a shorter result
 * ("100" less 95 is `"5  "`). Backends without a native increment use this too. A counter
 * memcached incremented past 2^53 - 1 is not one here (`decodeValue` reads it, as a Number).
 *
 * @example
 * parseCounter(new TextEncoder().encode("-12")); // -12
 * parseCounter(new TextEncoder().encode("5  ")); // 5
 */
export function parseCounter(bytes: Uint8Array): number | undefined {
  const text = decimalText(bytes);
  if (text === undefined) return undefined;
  // Canonical text of a safe integer has at most 16 digits, which a float holds exactly.
  const value = Number(text);
  return isCounter(value) ? value : undefined;
}

/**
 * Encode a counter as the decimal text backends store and increment.
 *
 * @example
 * encodeCounter(42); // bytes of "42"
 */
export function encodeCounter(value: number): Uint8Array {
  return textEncoder.encode(String(value));
}

/**
 * The counter stored in `bytes` plus `delta`, and its bytes: what a backend without a native
 * increment stores back. TypeError when `bytes` is not a counter, RangeError when the counter
 * (one memcached incremented past 2^53 - 1, copied here) or the result is beyond the safe integer
 * range, as the sum could not be exact; `key` names the entry in each message.
 *
 * @example
 * const { value, bytes } = addToCounter(entry.value, 1, key); // entry.value "41" → 42, "42"
 */
export function addToCounter(stored: Uint8Array, delta: number, key: string): { value: number; bytes: Uint8Array } {
  const current = parseCounter(stored);
  if (current === undefined) {
    const text = decimalText(stored);
    if (text !== undefined && isWideCounter(text)) throw new RangeError(`the counter stored under ${key} (${text}) is beyond the safe integer range: it cannot be incremented exactly`);
    throw new TypeError(`the value stored under ${key} is not an integer`);
  }
  const value = current + delta;
  if (!Number.isSafeInteger(value)) throw new RangeError(`incrementing ${key} would leave the safe integer range`);
  return { value, bytes: encodeCounter(value) };
}

/**
 * Encode a value for a backend: safe integers as decimal text, the rest through `serializer`.
 * Throws a TypeError for values that cannot be stored (undefined, functions, class instances...).
 *
 * @example
 * encodeValue(7, cborSerializer);          // "7"
 * encodeValue({ a: [1, 2] }, cborSerializer); // d9 d9 f7 a1 61 61 82 01 02
 */
export function encodeValue(value: unknown, serializer: Serializer): Uint8Array {
  if (isCounter(value)) return encodeCounter(value);
  if (value === undefined) reject("undefined");
  return serializer.encode(value);
}

/**
 * Decode bytes read from a backend. Throws CorruptEntryError when they are not a value this codec
 * wrote. Decimal text is a counter: a safe integer exactly, and one memcached incremented past
 * 2^53 - 1 (its counters are unsigned 64-bit) as the nearest Number, precision lost as documented.
 * A top-level byte string may come back as a view of `bytes`: copy it before handing it to code
 * that might modify it.
 *
 * @example
 * decodeValue(encodeValue(new Set([1]), cborSerializer), cborSerializer); // Set { 1 }
 */
export function decodeValue(bytes: Uint8Array, serializer: Serializer): unknown {
  const text = decimalText(bytes);
  if (text !== undefined) {
    const counter = Number(text);
    if (isCounter(counter) || isWideCounter(text)) return counter;
  }
  try {
    return serializer.decode(bytes);
  } catch (error) {
    if (error instanceof CorruptEntryError) throw error;
    throw new CorruptEntryError(`cache entry cannot be decoded: ${thrownText(error)}`);
  }
}
