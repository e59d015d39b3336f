/**
 * fiberapp against `tasks-complete-raw.ts`: add named tasks that end at once, await each, then purge
 * every record.
 */
import { Effect } from "effect"
import * as App from "../../src/App.js"
import type * as Task from "../../src/Task.js"
import { intEnv, main, names, rates, stopwatch } from "../lib/measure.js"

const count = intEnv("BENCH_TASKS", 100_000)

const round = (app: App.AppService, keys: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const tasks = new Array<Task.Task<void>>(keys.length)
    for (let i = 0; i < keys.length; i++) tasks[i] = yield* app.addTask(Effect.void, { name: keys[i]! })
    for (let i = 0; i < keys.length; i++) yield* tasks[i]!.await
    const purged = yield* app.purgeTasks
    if (purged !== keys.length) throw new Error(`purged ${purged} of ${keys.length} records`)
  })

const program = Effect.gen(function* () {
  const app = yield* App.make({ name: "bench" })
  yield* app.start
  yield* round(app, names("warm", 5_000))
  const keys = names("task", count)
  const lap = stopwatch()
  yield* round(app, keys)
  const completed = lap()
  return { count, ...rates("completePerSec", count, completed) }
})

main(() => Effect.runPromise(Effect.scoped(program)))
