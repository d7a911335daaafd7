import { upstash } from "../../adapters/upstash.ts";
import { describeBackendConformance } from "../conformance/backend-conformance.ts";
import { freshPrefix, useUpstashStack } from "./stack.ts";

const stack = useUpstashStack();

/** Redis expires keys with millisecond precision; a little slack covers the HTTP round trips. */
const realWait = (seconds: number) => new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000 + 30));

describeBackendConformance("upstash (a client left with JSON deserialization on)", {
  getWithTtl: true,
  create: () => {
    const backend = upstash({ client: stack().client({ automaticDeserialization: true }), prefix: freshPrefix("conformance") });
    return { backend, advance: realWait, dispose: () => backend.clear!() };
  },
});

describeBackendConformance("upstash (url and token, as a user would configure it)", {
  getWithTtl: true,
  create: () => {
    const backend = upstash({ url: stack().server.url, token: stack().server.token, prefix: freshPrefix("conformance") });
    return { backend, advance: realWait, dispose: () => backend.clear!() };
  },
});
