/**
 * Baseline for add-then-complete-then-purge: raw `FiberMap.run` of fibers that end at once, then every
 * fiber awaited (the map drops them itself as they end).
 */
import { Effect, Fiber, FiberMap } from "effect"
import { intEnv, main, names, rates, stopwatch } from "../lib/measure.js"

const count = intEnv("BENCH_TASKS", 100_000)

const round = (map: FiberMap.FiberMap<string>, keys: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const fibers = new Array<Fiber.RuntimeFiber<void>>(keys.length)
    for (let i = 0; i < keys.length; i++) fibers[i] = yield* FiberMap.run(map, keys[i]!, Effect.void)
    for (let i = 0; i < keys.length; i++) yield* Fiber.await(fibers[i]!)
  })

const program = Effect.gen(function* () {
  const map = yield* FiberMap.make<string>()
  yield* round(map, names("warm", 5_000))
  const keys = names("task", count)
  const lap = stopwatch()
  yield* round(map, keys)
  const completed = lap()
  if ((yield* FiberMap.size(map)) !== 0) throw new Error("fibers left in the map")
  return { count, ...rates("completePerSec", count, completed) }
})

main(() => Effect.runPromise(Effect.scoped(program)))
