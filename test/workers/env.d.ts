/** The bindings the tests get from wrangler.toml, and the main module behind `exports`. */
declare namespace Cloudflare {
  interface Env {
    CACHE_KV: KVNamespace;
  }
  interface GlobalProps {
    mainModule: typeof import("../../examples/worker/index.ts");
  }
}
