import { Chunk, Effect, TestClock } from "effect"

/**
 * Yields until at least `count` fibers sleep on the TestClock, so that a following `TestClock.adjust`
 * reaches them. Fails rather than spinning forever.
 */
export const untilSleeping = (count: number): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (let attempt = 0; attempt < 10_000; attempt++) {
      if (Chunk.size(yield* TestClock.sleeps()) >= count) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`expected ${count} fibers sleeping on the TestClock`)
  })
