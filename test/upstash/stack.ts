/**
 * The Upstash test stack: a private redis-server, the local Upstash REST server in front of it,
 * and real @upstash/redis clients pointed at that server.
 */
import { Redis, type RedisConfigNodejs } from "@upstash/redis";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { startRedis, type RedisServer } from "../fixtures/redis.ts";
import { startUpstashServer, type UpstashServer } from "../fixtures/upstash-server.ts";

/** A running stack; `client()` makes real clients, `stop()` tears everything down. */
export interface UpstashStack {
  readonly redis: RedisServer;
  readonly server: UpstashServer;
  /** A real client for the local server; options override ours (deserialization off, no telemetry, no retries). */
  client(options?: Partial<RedisConfigNodejs>): Redis;
  stop(): Promise<void>;
}

/**
 * Starts Redis and the Upstash server with the token `"test-token"`.
 *
 * @example
 * const stack = await startUpstashStack();
 * const backend = upstash({ client: stack.client(), prefix: "t1" });
 */
export async function startUpstashStack(): Promise<UpstashStack> {
  const redis = await startRedis();
  const server = await startUpstashServer({ redisPort: redis.port, token: "test-token" });
  return {
    redis,
    server,
    client: (options = {}) => new Redis({
      url: server.url,
      token: server.token,
      automaticDeserialization: false,
      enableTelemetry: false,
      retry: false,
      ...options,
    }),
    async stop() {
      await server.close();
      await redis.stop();
    },
  };
}

/**
 * Starts a stack for this test file (`"file"`, the default) or a fresh one for each test
 * (`"test"`, for tests that stop Redis), and stops it afterwards. Returns the current stack.
 *
 * @example
 * const stack = useUpstashStack();
 * it("works", async () => { await stack().client().ping() });
 */
export function useUpstashStack(scope: "file" | "test" = "file"): () => UpstashStack {
  let current: UpstashStack | undefined;
  const [before, after] = scope === "file" ? [beforeAll, afterAll] : [beforeEach, afterEach];
  before(async () => {
    current = await startUpstashStack();
  });
  after(() => current?.stop());
  return () => current!;
}

let unique = 0;

/**
 * A prefix no other test in this process uses, so each test gets an empty namespace.
 *
 * @example
 * upstash({ client, prefix: freshPrefix("conformance") }) // "conformance-1"
 */
export function freshPrefix(label: string): string {
  unique += 1;
  return `${label}-${unique}`;
}
