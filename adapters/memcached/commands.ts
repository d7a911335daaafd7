/**
 * The meta protocol requests this adapter sends, each paired with the reader that turns its
 * responses into a result. Keys are assumed valid (see `keys.ts`); nothing here does I/O.
 */
import type { BackendTtl } from "../../src/backend.ts";
import { BackendUnavailableError } from "../../src/errors.ts";
import { flag, type Response } from "./parser.ts";

/**
 * Returned by a reader that needs more responses before its command is complete (a batch ends
 * with `MN`).
 *
 * @example
 * const read = (response: Response) => (response.code === "MN" ? "done" : MORE);
 */
export const MORE: unique symbol = Symbol("more responses");

/**
 * A request ready to write, and the reader for its responses: it is handed each response in
 * turn, returns `MORE` until it has them all, and returns the result or throws.
 *
 * @example
 * const stored: Command<void> = set("k", new TextEncoder().encode("v"), expiry(60));
 */
export interface Command<T> {
  readonly bytes: Uint8Array;
  read(response: Response): T | typeof MORE;
}

const THIRTY_DAYS = 2_592_000;
/** The last absolute exptime memcached keeps (2038-01-19): one past it is stored already expired. */
const LAST_EXPTIME = 2_147_483_647;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * memcached's exptime for a TTL: whole seconds rounded up (so a positive TTL never becomes 0,
 * "never"), `0` for `null`, and an absolute Unix time past 30 days, as memcached requires, at the
 * latest 2038-01-19 (memcached answers a later one with HD and keeps nothing).
 *
 * @example
 * expiry(0.5); // 1
 * expiry(null); // 0
 * expiry(31 * 86_400, Date.UTC(2030, 0, 1)); // 1893456000 + 2678400
 */
export function expiry(ttl: BackendTtl, nowMs = Date.now()): number {
  if (ttl === null) return 0;
  const seconds = Math.ceil(ttl);
  return seconds > THIRTY_DAYS ? Math.min(LAST_EXPTIME, Math.floor(nowMs / 1000) + seconds) : seconds;
}

/**
 * `mg <key> v`: the value, or undefined on a miss.
 *
 * @example
 * const value = await connection.send(get("page:1"));
 */
export function get(key: string): Command<Uint8Array | undefined> {
  return single(`mg ${key} v`, (response) => (response.code === "VA" ? response.value : response.code === "EN" ? undefined : unexpected("mg", response)));
}

/**
 * `mg <key> s`: whether the key exists, without transferring its value (the size flag is there
 * because memcached before 1.6.18 refuses `mg` without a flag).
 *
 * @example
 * const present = await connection.send(has("page:1"));
 */
export function has(key: string): Command<boolean> {
  return single(`mg ${key} s`, found("mg"));
}

/**
 * `mg <key> T<exptime>`: give an existing item a new expiry; false when missing.
 *
 * @example
 * const touched = await connection.send(touch("page:1", expiry(300)));
 */
export function touch(key: string, exptime: number): Command<boolean> {
  return single(`mg ${key} T${exptime}`, found("mg"));
}

/**
 * `mg <key> t`: the remaining TTL in seconds, `null` for never, undefined when missing.
 *
 * @example
 * const left = await connection.send(ttl("page:1")); // e.g. 297
 */
export function ttl(key: string): Command<number | null | undefined> {
  return single(`mg ${key} t`, (response) => (response.code === "EN" ? undefined : remainingSeconds(response, "HD")));
}

/**
 * `mg <key> v t`: the value and its remaining seconds (null: never expires) in one request;
 * undefined when missing.
 *
 * @example
 * const entry = await connection.send(getWithTtl("page:1")); // { value, ttl: 42 }
 */
export function getWithTtl(key: string): Command<{ value: Uint8Array; ttl: number | null } | undefined> {
  return single(`mg ${key} v t`, (response) => {
    if (response.code === "EN") return undefined;
    const ttl = remainingSeconds(response, "VA");
    return response.value === undefined ? unexpected("mg", response) : { value: response.value, ttl };
  });
}

/** The `t` flag of a `code` reply as seconds left (null for -1: never expires). */
function remainingSeconds(response: Response, code: string): number | null {
  const seconds = response.code === code ? Number(flag(response, "t")) : NaN;
  if (Number.isNaN(seconds)) return unexpected("mg", response);
  return seconds < 0 ? null : seconds;
}

/**
 * `ms <key> <size> T<exptime>`: store unconditionally. A refusal (value over the server's item
 * size limit) throws `BackendUnavailableError` with the server's reason.
 *
 * @example
 * await connection.send(set("page:1", bytes, expiry(300)));
 */
export function set(key: string, value: Uint8Array, exptime: number): Command<void> {
  return store(`ms ${key} ${value.length} T${exptime}`, value, (response) => {
    if (response.code !== "HD") unexpected("ms", response);
  });
}

/**
 * `ms <key> <size> T<exptime> ME`: store only if missing; true when stored.
 *
 * @example
 * const won = await connection.send(add("lock:1", bytes, expiry(30)));
 */
export function add(key: string, value: Uint8Array, exptime: number): Command<boolean> {
  return store(`ms ${key} ${value.length} T${exptime} ME`, value, (response) =>
    response.code === "HD" ? true : response.code === "NS" ? false : unexpected("ms", response),
  );
}

/**
 * `md <key>`: true when the key existed.
 *
 * @example
 * const existed = await connection.send(del("page:1"));
 */
export function del(key: string): Command<boolean> {
  return single(`md ${key}`, (response) => (response.code === "HD" ? true : response.code === "NF" ? false : unexpected("md", response)));
}

/**
 * `ma <key> v D<|delta|>` (mode `MD` for a negative delta): the new value, undefined when the key
 * is missing, `TypeError` when the stored value is not an unsigned decimal integer. memcached
 * clamps a decrement at 0 and wraps an increment past 2^64 - 1.
 *
 * @example
 * const hits = await connection.send(increment("hits", 1));
 */
export function increment(key: string, delta: number): Command<number | undefined> {
  return single(`ma ${key} v D${Math.abs(delta)}${delta < 0 ? " MD" : ""}`, (response) => {
    if (response.code === "VA") return Number(decoder.decode(response.value));
    if (response.code === "NF") return undefined;
    if (response.code === "CLIENT_ERROR" && response.message.includes("non-numeric")) {
      throw new TypeError(`memcached cannot ${delta < 0 ? "decrement" : "increment"} ${key}: its value is not an unsigned decimal integer`);
    }
    return unexpected("ma", response);
  });
}

/**
 * One quiet `mg <key> v q O<index>` per key closed by `mn`: the values in the order of `keys`
 * (misses are silent, hits are matched by their opaque index).
 *
 * @example
 * const [a, b] = await connection.send(getMany(["a", "b"]));
 */
export function getMany(keys: readonly string[]): Command<Array<Uint8Array | undefined>> {
  const values = new Array<Uint8Array | undefined>(keys.length).fill(undefined);
  let request = "";
  keys.forEach((key, index) => (request += `mg ${key} v q O${index}\r\n`));
  return batch(request, "mg", (response) => {
    if (response.code !== "VA") return false;
    values[Number(flag(response, "O"))] = response.value;
    return true;
  }, () => values);
}

/**
 * One `ms` per entry, pipelined and not quiet (an error line carries no opaque token, so only
 * the order of replies can tell which key the server refused): the indexes that failed.
 *
 * @example
 * const failed = await connection.send(setMany([["a", bytes], ["b", bytes]], expiry(60)));
 */
export function setMany(entries: ReadonlyArray<readonly [string, Uint8Array]>, exptime: number): Command<number[]> {
  const parts = entries.map(([key, value]) => requestBytes(`ms ${key} ${value.length} T${exptime}`, value));
  const bytes = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  const failed: number[] = [];
  let answered = 0;
  return {
    bytes,
    read(response) {
      if (response.code !== "HD") failed.push(answered);
      return ++answered < entries.length ? MORE : failed;
    },
  };
}

/**
 * One quiet `md <key> q` per key closed by `mn` (a missing key is not an error).
 *
 * @example
 * await connection.send(deleteMany(["a", "b"]));
 */
export function deleteMany(keys: readonly string[]): Command<void> {
  return batch(keys.map((key) => `md ${key} q\r\n`).join(""), "md", (response) => response.code === "NF", () => undefined);
}

/**
 * `flush_all`: invalidate every item on the server, whoever stored it.
 *
 * @example
 * await Promise.all(connections.map((connection) => connection.send(flushAll())));
 */
export function flushAll(): Command<void> {
  return single("flush_all", (response) => {
    if (response.code !== "OK") unexpected("flush_all", response);
  });
}

/**
 * `stats settings`: the server's item size limit (`-I`), in bytes; `undefined` if it names none
 * or will not answer (an error reply).
 *
 * @example
 * const limit = await connection.send(itemSizeLimit()); // 1048576
 */
export function itemSizeLimit(): Command<number | undefined> {
  let limit: number | undefined;
  return {
    bytes: encoder.encode("stats settings\r\n"),
    read(response) {
      if (response.code === "END" || response.code.endsWith("ERROR")) return limit; // a server (or proxy) that will not say
      if (response.code !== "STAT") return unexpected("stats settings", response);
      if (response.flags[0] === "item_size_max") limit = Number(response.flags[1]);
      return MORE;
    },
  };
}

function single<T>(line: string, read: (response: Response) => T): Command<T> {
  return { bytes: encoder.encode(`${line}\r\n`), read };
}

function store<T>(header: string, value: Uint8Array, read: (response: Response) => T): Command<T> {
  return { bytes: requestBytes(header, value), read };
}

function requestBytes(header: string, value: Uint8Array): Uint8Array {
  const head = encoder.encode(`${header}\r\n`);
  const bytes = new Uint8Array(head.length + value.length + 2);
  bytes.set(head);
  bytes.set(value, head.length);
  bytes[bytes.length - 2] = 13;
  bytes[bytes.length - 1] = 10;
  return bytes;
}

/** A quiet batch closed by `mn`: `accept` takes each reply it expects; any other is an error reported at `MN`. */
function batch<T>(requests: string, verb: string, accept: (response: Response) => boolean, result: () => T): Command<T> {
  let error: Error | undefined;
  return {
    bytes: encoder.encode(`${requests}mn\r\n`),
    read(response) {
      if (response.code !== "MN") {
        if (!accept(response)) error ??= unexpectedError(verb, response);
        return MORE;
      }
      if (error) throw error;
      return result();
    },
  };
}

function found(verb: string): (response: Response) => boolean {
  return (response) => (response.code === "HD" ? true : response.code === "EN" ? false : unexpected(verb, response));
}

function unexpected(verb: string, response: Response): never {
  throw unexpectedError(verb, response);
}

function unexpectedError(verb: string, response: Response): Error {
  const detail = response.message ? `${response.code} ${response.message}` : [response.code, ...response.flags].join(" ");
  return new BackendUnavailableError(`memcached answered ${verb} with ${detail}`);
}
