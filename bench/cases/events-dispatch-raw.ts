/**
 * Baselines for dispatch: `PubSub` publish-and-take to one subscriber fiber, and the cost of the
 * benchmark loop itself (an `Effect.void`, then an `Effect.sync`, per iteration): the ceilings for "nobody
 * listening".
 */
import { Effect, Fiber, PubSub, Queue } from "effect"
import { intEnv, type Lap, main, medianRates, rates, stopwatch } from "../lib/measure.js"

const messages = intEnv("BENCH_MESSAGES", 500_000)
const loops = intEnv("BENCH_LOOPS", 1_000_000)
const laps = intEnv("BENCH_LAPS", 5)
const warmupLaps = 3
const context = { amount: 1 }

const publishAndTake = (count: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const hub = yield* PubSub.unbounded<typeof context>()
      const subscription = yield* PubSub.subscribe(hub)
      const consumer = yield* Effect.fork(
        Effect.gen(function* () {
          for (let i = 0; i < count; i++) yield* Queue.take(subscription)
        })
      )
      const lap = stopwatch()
      for (let i = 0; i < count; i++) yield* PubSub.publish(hub, context)
      yield* Fiber.join(consumer)
      return rates("pubsubPerSec", count, lap())
    })
  )

const emptyLoop = (count: number, times: number) =>
  Effect.gen(function* () {
    const measured: Array<Lap> = []
    for (let lap = 0; lap < times; lap++) {
      const stop = stopwatch()
      for (let i = 0; i < count; i++) yield* Effect.void
      measured.push(stop())
    }
    return medianRates("loopPerSec", count, measured)
  })

// the cheapest effect that still looks at something when it runs: what a lazily checked quiet dispatch costs
const syncLoop = (count: number, times: number) =>
  Effect.gen(function* () {
    let seen = 0
    const check = Effect.sync(() => {
      seen++
    })
    const measured: Array<Lap> = []
    for (let lap = 0; lap < times; lap++) {
      const stop = stopwatch()
      for (let i = 0; i < count; i++) yield* check
      measured.push(stop())
    }
    if (seen !== count * times) throw new Error("the check did not run")
    return medianRates("syncLoopPerSec", count, measured)
  })

const program = Effect.gen(function* () {
  yield* publishAndTake(50_000)
  // Generator loops reach their steady tier only after a few million steps.
  yield* emptyLoop(loops, warmupLaps)
  yield* syncLoop(loops, warmupLaps)
  const pubsub = yield* publishAndTake(messages)
  const loop = yield* emptyLoop(loops, laps)
  const sync = yield* syncLoop(loops, laps)
  return { messages, loops, laps, ...pubsub, ...loop, ...sync }
})

main(() => Effect.runPromise(program))
