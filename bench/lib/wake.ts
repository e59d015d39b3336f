/**
 * Shared harness for "wake N waiters on one event": fork N waiters, wait until each has registered,
 * dispatch once, and time until every waiter has resumed.
 */
import { Deferred, Duration, Effect } from "effect"
import { durations, median, type Result, stopwatch } from "./measure.js"

export const waiterCount = 10_000

/**
 * `waiter(registered)` must call `registered()` once it can no longer miss the dispatch, then wait for it.
 */
export const wake = <E, R>(
  waiter: (registered: () => void) => Effect.Effect<unknown, unknown, R>,
  dispatch: Effect.Effect<void, E, R>,
  count = waiterCount
): Effect.Effect<Result, E | Error, R> =>
  Effect.gen(function* () {
    const allWoken = yield* Deferred.make<void>()
    let registered = 0
    let woken = 0
    const onRegistered = () => {
      registered++
    }
    const onWoken = Effect.sync(() => {
      if (++woken === count) Deferred.unsafeDone(allWoken, Effect.void)
    })
    const total = stopwatch()
    for (let i = 0; i < count; i++) yield* Effect.forkDaemon(Effect.zipRight(waiter(onRegistered), onWoken))
    while (registered < count) yield* Effect.yieldNow()
    // lets a waiter that counted itself just before its last steps finish registering
    for (let i = 0; i < 3; i++) yield* Effect.yieldNow()
    const registering = total()
    const waking = stopwatch()
    yield* dispatch
    const dispatching = waking()
    const done = yield* Deferred.await(allWoken).pipe(Effect.timeoutOption(Duration.seconds(30)))
    if (done._tag === "None") return yield* Effect.fail(new Error(`${count - woken} of ${count} waiters never woke`))
    return {
      waiters: count,
      ...durations("registerMs", registering),
      ...durations("dispatchMs", dispatching),
      ...durations("wakeMs", waking()),
      ...durations("totalMs", total())
    }
  })

const measuredRounds = 5

/**
 * Two small rounds to warm the JIT, then `measuredRounds` rounds of `waiterCount` waiters; each figure is the
 * median of the rounds (one round is ~100 ms, short enough for a neighbour's burst to swing it).
 */
export const warmThenMeasure = <E, R>(
  round: (count: number) => Effect.Effect<Result, E, R>,
  rounds = measuredRounds
): Effect.Effect<Result, E, R> =>
  Effect.gen(function* () {
    yield* round(1_000)
    yield* round(1_000)
    const results: Array<Result> = []
    for (let i = 0; i < rounds; i++) results.push(yield* round(waiterCount))
    const out: Result = { rounds }
    for (const key of Object.keys(results[0]!)) {
      const values = results.map((r) => r[key]).filter((v): v is number => typeof v === "number")
      if (values.length === results.length) out[key] = median(values)
    }
    return out
  })
