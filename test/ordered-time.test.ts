/** orderedNow: later than every time it gave before for the same clock, so a purge and what follows it never share a moment. */
import { describe, expect, it } from "vitest";
import { orderedNow } from "../src/ordered-time.ts";

describe("orderedNow", () => {
  it("follows the clock while it moves, and steps a microsecond past the last time while it stands still or goes back", () => {
    let time = 1_000;
    const clock = () => time;
    const first = orderedNow(clock);
    const second = orderedNow(clock);
    time = 999;
    const third = orderedNow(clock);
    time = 2_000;
    expect([first, second, third, orderedNow(clock)]).toEqual([1_000, 1_000.001, 1_000.002, 2_000]);
    // Another clock keeps its own order.
    expect(orderedNow(() => 5)).toBe(5);
  });
});
