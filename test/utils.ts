import * as Net from "node:net"
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

/** A loopback port that was free a moment ago: listen on 0, read it, close. */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const probe = Net.createServer()
  probe.listen(0, "127.0.0.1", () => {
    const port = (probe.address() as Net.AddressInfo).port
    probe.close(() => resume(Effect.succeed(port)))
  })
})
