/**
 * fiberapp's named tasks against `tasks-raw.ts`: `addTask` of never-ending named tasks on a started app,
 * heap per idle task, `getTask`, `cancelTask` one by one. Same counts, same loop shape as the baseline. Tasks are
 * added from a fiber that has the app in its context, as handlers, listeners and tasks do. `metrics-off` runs an app
 * made with `metrics: false`: what the app's metrics cost.
 */
import { Effect } from "effect"
import * as App from "../../src/App.js"
import { hooksOf } from "../../src/internal/hooks.js"
import { arg, heapUsed, intEnv, main, names, rates, stopwatch } from "../lib/measure.js"

const count = intEnv("BENCH_TASKS", 100_000)
const getPasses = 3
const metrics = arg(0, "metrics-on") !== "metrics-off"

const program = Effect.gen(function* () {
  const app = yield* App.App
  yield* app.start
  const warm = names("warm", 5_000)
  for (const name of warm) yield* app.addTask(Effect.never, { name })
  yield* Effect.yieldNow()
  for (const name of warm) yield* app.getTask(name)
  for (const name of warm) yield* app.cancelTask(name)
  if ((yield* app.purgeTasks) !== warm.length) throw new Error("warm-up tasks not purged")

  const keys = names("task", count)
  const heapBefore = heapUsed()
  const spawn = stopwatch()
  for (let i = 0; i < count; i++) yield* app.addTask(Effect.never, { name: keys[i]! })
  yield* Effect.yieldNow()
  const spawned = spawn()
  const heapAfter = heapUsed()
  const running = hooksOf(app)
    .unsafeTasks()
    .filter((task) => task.unsafeStatus() === "running").length
  if (running !== count) throw new Error(`${running} of ${count} tasks running`)

  const get = stopwatch()
  for (let pass = 0; pass < getPasses; pass++) {
    for (let i = 0; i < count; i++) yield* app.getTask(keys[i]!)
  }
  const got = get()

  const cancel = stopwatch()
  for (let i = 0; i < count; i++) yield* app.cancelTask(keys[i]!)
  const cancelled = cancel()
  const cancelledCount = hooksOf(app)
    .unsafeTasks()
    .filter((task) => task.unsafeStatus() === "cancelled").length
  if (cancelledCount !== count) throw new Error(`${cancelledCount} of ${count} tasks cancelled`)

  return {
    count,
    ...rates("spawnPerSec", count, spawned),
    heapPerTask: (heapAfter - heapBefore) / count,
    ...rates("getPerSec", count * getPasses, got),
    ...rates("cancelPerSec", count, cancelled)
  }
})

main(() => Effect.runPromise(Effect.scoped(Effect.provide(program, App.layer({ name: "bench", metrics })))))
