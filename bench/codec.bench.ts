/**
 * How the value codec was chosen: encode/decode speed and size of cborg (our choice), cbor-x,
 * @msgpack/msgpack and JSON on realistic cache values. cbor-x is much faster, but its decoder
 * compiles record definitions found in the bytes into functions with `new Function` (code built
 * from cache data, and forbidden on Workers) and turns tag 27 into Error/RegExp objects; cborg
 * decodes only the tags we register. @msgpack/msgpack would need extension codecs for Map, Set,
 * bigint and ArrayBuffer and a separate walk to refuse class instances. JSON cannot carry Dates,
 * Maps, Sets, bigints or bytes, so it is a speed reference only.
 */
import { decode as msgpackDecode, encode as msgpackEncode } from "@msgpack/msgpack";
import { Decoder as CborXDecoder, Encoder as CborXEncoder } from "cbor-x";
import { cborSerializer } from "../src/codec.ts";
import { report, time } from "./lib.ts";

const session = { id: "8f14e45fceea167a5a36dedd4bea2543", userId: 1042, roles: ["editor", "viewer"], csrf: "b1946ac92492d2347c6235b4d2611184", createdAt: 1_700_000_000_123, flags: { beta: true, theme: "dark" } };
const page = { status: 200, headers: [["content-type", "text/html; charset=utf-8"], ["cache-control", "max-age=600"], ["etag", "\"33a64df5\""]], body: new Uint8Array(8 * 1024).fill(60), storedAt: 1_700_000_000_123 };
const rows = Array.from({ length: 50 }, (_, i) => ({ id: i, name: `product ${i}`, price: 19.99 + i, tags: ["a", "b"], stock: i * 3 }));
const values = { "session object": session, "8 KiB page envelope": page, "50-row query result": rows };

const cborX = { encoder: new CborXEncoder({ useRecords: false, structuredClone: false }), decoder: new CborXDecoder({ useRecords: false }) };
const text = new TextEncoder();
const untext = new TextDecoder();
const codecs = {
  "cborg (edgecache)": { encode: (v: unknown) => cborSerializer.encode(v), decode: (b: Uint8Array) => cborSerializer.decode(b) },
  "cbor-x": { encode: (v: unknown) => cborX.encoder.encode(v) as Uint8Array, decode: (b: Uint8Array) => cborX.decoder.decode(b) as unknown },
  "@msgpack/msgpack": { encode: (v: unknown) => msgpackEncode(v), decode: (b: Uint8Array) => msgpackDecode(b) },
  "JSON (reference)": { encode: (v: unknown) => text.encode(JSON.stringify(v)), decode: (b: Uint8Array) => JSON.parse(untext.decode(b)) as unknown },
};

for (const [label, value] of Object.entries(values)) {
  const encodes = [];
  const decodes = [];
  const sizes: string[] = [];
  for (const [name, codec] of Object.entries(codecs)) {
    const bytes = codec.encode(value);
    sizes.push(`${name} ${bytes.length} B`);
    encodes.push(await time(`${name} encode`, () => codec.encode(value)));
    decodes.push(await time(`${name} decode`, () => codec.decode(bytes)));
  }
  report(`encode: ${label}`, encodes);
  report(`decode: ${label}`, decodes);
  console.log(`  size: ${sizes.join(", ")}`);
}
