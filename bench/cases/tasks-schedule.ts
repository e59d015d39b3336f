/**
 * A scheduled task against the same effect under raw `Effect.repeat` (argument `raw` or `fiberapp`):
 * - cost per run: one task repeating a counter on `Schedule.spaced(0)` for `BENCH_RUNS` runs (median of 5 laps);
 * - heap per idle scheduled task: `BENCH_IDLE` named tasks on `Schedule.spaced("1 hour")`, each asleep after its
 *   first run. The raw side keeps them, by name, in a `FiberMap`, as a hand-rolled registry would.
 */
import { Deferred, Effect, FiberMap, Schedule } from "effect"
import * as App from "../../src/App.js"
import { arg, heapUsed, intEnv, type Lap, main, medianRates, names, stopwatch } from "../lib/measure.js"

const mode = arg(0, "fiberapp")
const runsPerLap = intEnv("BENCH_RUNS", 200_000)
const idle = intEnv("BENCH_IDLE", 20_000)
const laps = 5

/** Forks the repeating counter and waits for its `runsPerLap`-th run. */
type Start = (work: Effect.Effect<void>, name: string) => Effect.Effect<Effect.Effect<void>>

const lap = (start: Start, name: string) =>
  Effect.gen(function* () {
    const done = yield* Deferred.make<void>()
    let count = 0
    const work = Effect.suspend(() => (++count === runsPerLap ? Deferred.succeed(done, undefined) : Effect.void))
    const time = stopwatch()
    const stop = yield* start(work, name)
    yield* Deferred.await(done)
    const took = time()
    yield* stop
    return took
  })

const measure = (start: Start, sleepers: (keys: ReadonlyArray<string>) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    yield* lap(start, "warm")
    const timed: Array<Lap> = []
    for (let i = 0; i < laps; i++) timed.push(yield* lap(start, `lap-${i}`))
    const keys = names("idle", idle)
    const before = heapUsed()
    yield* sleepers(keys)
    const after = heapUsed()
    return {
      runsPerLap,
      idle,
      ...medianRates("runPerSec", runsPerLap, timed),
      heapPerIdleTask: (after - before) / idle
    }
  })

const raw = Effect.gen(function* () {
  const map = yield* FiberMap.make<string>()
  const start: Start = (work, name) =>
    Effect.map(FiberMap.run(map, name, Effect.repeat(work, Schedule.spaced(0))), () => FiberMap.remove(map, name))
  return yield* measure(start, (keys) =>
    Effect.gen(function* () {
      for (const key of keys) yield* FiberMap.run(map, key, Effect.repeat(Effect.void, Schedule.spaced("1 hour")))
      yield* Effect.yieldNow()
      if ((yield* FiberMap.size(map)) !== keys.length) throw new Error("not every raw fiber is running")
    })
  )
})

const fiberapp = Effect.gen(function* () {
  const app = yield* App.App
  yield* app.start
  const start: Start = (work, name) =>
    Effect.map(Effect.orDie(app.addTask(work, { name, schedule: Schedule.spaced(0) })), () =>
      Effect.orDie(app.cancelTask(name))
    )
  return yield* measure(start, (keys) =>
    Effect.gen(function* () {
      for (const key of keys) {
        yield* Effect.orDie(app.addTask(Effect.void, { name: key, schedule: Schedule.spaced("1 hour") }))
      }
      yield* Effect.yieldNow()
      const asleep = (yield* app.tasks).filter((task) => task.runs === 1 && task.nextRunAt._tag === "Some").length
      if (asleep !== keys.length) throw new Error(`${asleep} of ${keys.length} scheduled tasks asleep`)
    })
  )
})

main(() =>
  Effect.runPromise(Effect.scoped(mode === "raw" ? raw : Effect.provide(fiberapp, App.layer({ name: "bench" }))))
)
