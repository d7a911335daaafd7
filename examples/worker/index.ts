/**
 * The example Worker: `npx wrangler dev` serves it; `npx wrangler deploy` publishes it (see
 * docs/cloudflare.md). The app is in app.ts.
 */
import { createApp } from "./app.ts";

/**
 * The Worker's fetch handler.
 *
 * @example
 * // curl -i localhost:8787/kv/home   -> Cache-Status: edgecache; fwd=uri-miss; stored
 * // curl -i localhost:8787/kv/home   -> Cache-Status: edgecache; hit; ttl=30
 */
export default createApp();
