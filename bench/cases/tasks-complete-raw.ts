/**
 * Baseline for add-then-complete-then-purge: raw `FiberMap.run` of fibers that end at once, then
 * `FiberMap.awaitEmpty` (the map drops them itself as they end).
 */
import { Effect, FiberMap } from "effect"
import { intEnv, main, names, rates, stopwatch } from "../lib/measure.js"

const count = intEnv("BENCH_TASKS", 100_000)

const round = (map: FiberMap.FiberMap<string>, keys: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    for (let i = 0; i < keys.length; i++) yield* FiberMap.run(map, keys[i]!, Effect.void)
    yield* FiberMap.awaitEmpty(map)
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
