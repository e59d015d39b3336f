/**
 * Baseline for add-then-complete-then-purge: raw `FiberMap.run` of fibers that end at once, then
 * `FiberMap.awaitEmpty` (the map drops them itself as they end). The median of `BENCH_LAPS` laps after a warm-up:
 * one lap of a few microseconds a task mostly measures where the JIT and the collector happened to be.
 */
import { Effect, FiberMap } from "effect"
import { intEnv, type Lap, main, medianRates, names, stopwatch } from "../lib/measure.js"

const count = intEnv("BENCH_TASKS", 100_000)
const laps = intEnv("BENCH_LAPS", 5)

const round = (map: FiberMap.FiberMap<string>, keys: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    for (let i = 0; i < keys.length; i++) yield* FiberMap.run(map, keys[i]!, Effect.void)
    yield* FiberMap.awaitEmpty(map)
  })

const program = Effect.gen(function* () {
  const map = yield* FiberMap.make<string>()
  yield* round(map, names("warm", count))
  const measured: Array<Lap> = []
  for (let lap = 0; lap < laps; lap++) {
    const keys = names(`task${lap}`, count)
    const timing = stopwatch()
    yield* round(map, keys)
    measured.push(timing())
    if ((yield* FiberMap.size(map)) !== 0) throw new Error("fibers left in the map")
  }
  return { count, laps, ...medianRates("completePerSec", count, measured) }
})

main(() => Effect.runPromise(Effect.scoped(program)))
