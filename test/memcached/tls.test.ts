/** memcached over TLS: a real memcached started with -Z and a fresh self-signed certificate. */
import { describe, expect, it } from "vitest";
import { memcached, type MemcachedOptions } from "../../adapters/memcached.ts";
import { cachePage, createCache } from "../../src/index.ts";
import { BackendUnavailableError } from "../../src/errors.ts";
import { type Certificate, selfSignedCertificate } from "../fixtures/tls.ts";
import { useMemcachedServer } from "./helpers.ts";

let certificate!: Certificate;
const memcache = useMemcachedServer(() => ({ tls: (certificate = selfSignedCertificate()) }));
const client = (options: Omit<MemcachedOptions, "servers">) => memcache.client({ timeoutMs: 500, ...options });

describe("memcached over TLS", () => {
  it("stores and reads over a verified connection, pages included", async () => {
    const backend = client({ tls: { ca: certificate.pem } });
    await backend.set("greeting", new TextEncoder().encode("hello"), 60);
    expect(new TextDecoder().decode(await backend.get("greeting"))).toBe("hello");
    const writes: Promise<unknown>[] = [];
    const handler = cachePage(60, { cache: createCache({ backend }), waitUntil: (write) => void writes.push(write) })(async (_request: Request) => new Response("over TLS"));
    await (await handler(new Request("https://example.com/"))).text();
    await Promise.all(writes);
    const hit = await handler(new Request("https://example.com/"));
    expect([await hit.text(), hit.headers.get("cache-status")]).toEqual(["over TLS", "edgecache; hit; ttl=60"]);
  });

  it("refuses a server whose certificate it cannot verify, and a plain client gets no answer: both are unavailable, never wrong", async () => {
    await expect(client({ tls: true }).get("greeting")).rejects.toThrow(BackendUnavailableError);
    await expect(client({}).get("greeting")).rejects.toThrow(BackendUnavailableError);
  });

  it("refuses tls options that are not, or that come with a connector of one's own", () => {
    expect(() => memcached({ servers: "127.0.0.1:1", tls: "yes" as never })).toThrow('options.tls must be true or tls.connect options, got "yes"');
    expect(() => memcached({ servers: "127.0.0.1:1", tls: true, connect: async () => { throw new Error("unused"); } })).toThrow("options.tls and options.connect cannot be combined");
  });
});
