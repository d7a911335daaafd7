import { memory } from "../adapters/memory.ts";
import { describeBackendConformance } from "./conformance/backend-conformance.ts";
import { fakeClock } from "./conformance/fake-clock.ts";

describeBackendConformance("memory", {
  fakeClock: true,
  create() {
    const clock = fakeClock();
    return { backend: memory({ now: clock.now, maxEntries: 10_000 }), advance: clock.advance };
  },
});
