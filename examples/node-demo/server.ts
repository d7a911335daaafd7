/**
 * `npm start`: the demo app of `app.ts` on @hono/node-server. `PORT` picks the port (default
 * 3000; 0 takes a free one); `PURGE_TOKEN` the token its purge route asks for. It prints its URL and a curl line that shows Cache-Status going
 * from a miss to a hit.
 */
import { serve } from "@hono/node-server";
import { createApp } from "./app.ts";

const purgeToken = process.env.PURGE_TOKEN ?? "dev-only-purge-token";
const server = serve({ fetch: createApp({ purgeToken }).fetch, port: Number(process.env.PORT ?? 3000) }, ({ port }) => {
  const url = `http://localhost:${port}`;
  console.log(`edgecache demo listening on ${url}`);
  console.log(`  ${url}/slow   2 s to build, then cached for 60 s (and stale for 5 min while rebuilt)`);
  console.log(`  curl -X POST -H "Authorization: Bearer ${purgeToken}" ${url}/cheeses/purge   purges the tag "cheeses": /slow is built again`);
  console.log(`  ${url}/me     cached per visitor (Vary: Cookie)`);
  console.log(`  ${url}/now    never cached`);
  console.log(`  ${url}/hello  no caching at all`);
  console.log("Watch Cache-Status go from a miss to a hit (the first request takes 2 s):");
  console.log(`  curl -s -D - -o /dev/null -o /dev/null ${url}/slow ${url}/slow | grep -i cache-status`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => server.close());
}
