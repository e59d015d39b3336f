import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref, TestClock } from "effect"
import { bounded } from "../src/internal/app/bounded.js"

describe("bounded waits (the app's stop phases)", () => {
  it.effect("an effect that ignores interruption is abandoned at the bound, even from an uninterruptible region", () =>
    Effect.gen(function* () {
      const waiting = yield* Effect.fork(
        Effect.uninterruptible(bounded(Effect.uninterruptible(Effect.never), "1 second"))
      )
      yield* TestClock.adjust("1 second")
      assert.isFalse(yield* Fiber.join(waiting))
    })
  )

  it.effect("an effect that ends in time gives true; one that does not is interrupted in the background", () =>
    Effect.gen(function* () {
      const quick = yield* Effect.fork(Effect.uninterruptible(bounded(Effect.sleep("10 millis"), "1 second")))
      yield* TestClock.adjust("10 millis")
      assert.isTrue(yield* Fiber.join(quick))
      const interrupted = yield* Deferred.make<void>()
      const slow = yield* Effect.fork(
        bounded(
          Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, undefined)),
          "1 second"
        )
      )
      yield* TestClock.adjust("1 second")
      assert.isFalse(yield* Fiber.join(slow))
      yield* Deferred.await(interrupted)
    })
  )

  it.live("an interruption of an uninterruptible caller does not cut the wait short", () =>
    Effect.gen(function* () {
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const result = yield* Ref.make<boolean | undefined>(undefined)
      const caller = yield* Effect.fork(
        Effect.uninterruptible(
          Effect.flatMap(
            bounded(Effect.zipRight(Deferred.succeed(entered, undefined), Deferred.await(release)), "10 seconds"),
            (ended) => Ref.set(result, ended)
          )
        )
      )
      yield* Deferred.await(entered)
      yield* Fiber.interruptFork(caller)
      yield* Deferred.succeed(release, undefined)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(caller)))
      assert.strictEqual(yield* Ref.get(result), true)
    })
  )
})
