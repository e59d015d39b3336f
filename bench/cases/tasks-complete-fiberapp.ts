/**
 * fiberapp against `tasks-complete-raw.ts`: add named tasks that end at once from a fiber that has the app in its
 * context (as handlers, listeners and tasks do), wait for the last one (tasks start in the order they are added,
 * as FiberMap's fibers do), then purge every record; the purge count checks that they all ended. Laps as in the
 * baseline. `metrics-off` runs an app made with `metrics: false`: what the app's metrics cost.
 */
import { Effect } from "effect"
import * as App from "../../src/App.js"
import type * as Task from "../../src/Task.js"
import { arg, intEnv, type Lap, main, medianRates, names, stopwatch } from "../lib/measure.js"

const count = intEnv("BENCH_TASKS", 100_000)
const laps = intEnv("BENCH_LAPS", 5)
const metrics = arg(0, "metrics-on") !== "metrics-off"

const round = (app: App.AppService, keys: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    let last: Task.Task<void> | undefined
    for (let i = 0; i < keys.length; i++) last = yield* app.addTask(Effect.void, { name: keys[i]! })
    yield* last!.await
    const purged = yield* app.purgeTasks
    if (purged !== keys.length) throw new Error(`purged ${purged} of ${keys.length} records`)
  })

const program = Effect.gen(function* () {
  const app = yield* App.App
  yield* app.start
  yield* round(app, names("warm", count))
  const measured: Array<Lap> = []
  for (let lap = 0; lap < laps; lap++) {
    const keys = names(`task${lap}`, count)
    const timing = stopwatch()
    yield* round(app, keys)
    measured.push(timing())
  }
  return { count, laps, metrics, ...medianRates("completePerSec", count, measured) }
})

main(() => Effect.runPromise(Effect.scoped(Effect.provide(program, App.layer({ name: "bench", metrics })))))
