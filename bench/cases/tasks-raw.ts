/**
 * Baseline for the named-task registry: raw `FiberMap.run` of never-ending fibers, heap per idle fiber,
 * `FiberMap.get` and `FiberMap.remove` one by one.
 */
import { Effect, FiberMap } from "effect"
import { heapUsed, intEnv, main, names, rates, stopwatch } from "../lib/measure.js"

const count = intEnv("BENCH_TASKS", 100_000)
const getPasses = 3

const program = Effect.gen(function* () {
  const map = yield* FiberMap.make<string>()
  const warm = names("warm", 5_000)
  for (const name of warm) yield* FiberMap.run(map, name, Effect.never)
  yield* Effect.yieldNow()
  for (const name of warm) yield* FiberMap.get(map, name)
  for (const name of warm) yield* FiberMap.remove(map, name)

  const keys = names("task", count)
  const heapBefore = heapUsed()
  const spawn = stopwatch()
  for (let i = 0; i < count; i++) yield* FiberMap.run(map, keys[i]!, Effect.never)
  // the forked fibers start in scheduling order, before this fiber resumes
  yield* Effect.yieldNow()
  const spawned = spawn()
  const heapAfter = heapUsed()
  if ((yield* FiberMap.size(map)) !== count) throw new Error("not every fiber is running")

  const get = stopwatch()
  for (let pass = 0; pass < getPasses; pass++) {
    for (let i = 0; i < count; i++) yield* FiberMap.get(map, keys[i]!)
  }
  const got = get()

  const remove = stopwatch()
  for (let i = 0; i < count; i++) yield* FiberMap.remove(map, keys[i]!)
  const removed = remove()
  if ((yield* FiberMap.size(map)) !== 0) throw new Error("fibers left after remove")

  return {
    count,
    ...rates("spawnPerSec", count, spawned),
    heapPerTask: (heapAfter - heapBefore) / count,
    ...rates("getPerSec", count * getPasses, got),
    ...rates("cancelPerSec", count, removed)
  }
})

main(() => Effect.runPromise(Effect.scoped(program)))
