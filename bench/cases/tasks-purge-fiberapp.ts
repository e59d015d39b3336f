/**
 * Whether `purgeTasks` is linear in the number of records: the time per record to purge 10k finished
 * tasks against 100k (median of several rounds each).
 */
import { Effect } from "effect"
import * as App from "../../src/App.js"
import type * as Task from "../../src/Task.js"
import { main, median, names, now } from "../lib/measure.js"

const small = 10_000
const large = 100_000

const purgeMs = (app: App.AppService, keys: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const tasks = new Array<Task.Task<void>>(keys.length)
    for (let i = 0; i < keys.length; i++) tasks[i] = yield* app.addTask(Effect.void, { name: keys[i]! })
    for (let i = 0; i < keys.length; i++) yield* tasks[i]!.await
    const start = now()
    const purged = yield* app.purgeTasks
    const ms = now() - start
    if (purged !== keys.length) throw new Error(`purged ${purged} of ${keys.length} records`)
    return ms
  })

const rounds = (app: App.AppService, keys: ReadonlyArray<string>, times: number) =>
  Effect.gen(function* () {
    const out: Array<number> = []
    for (let i = 0; i < times; i++) out.push(yield* purgeMs(app, keys))
    return median(out)
  })

const program = Effect.gen(function* () {
  const app = yield* App.make({ name: "bench" })
  yield* app.start
  const smallKeys = names("small", small)
  const largeKeys = names("large", large)
  yield* rounds(app, smallKeys, 3)
  const smallMs = yield* rounds(app, smallKeys, 7)
  const largeMs = yield* rounds(app, largeKeys, 3)
  const smallNsPerRecord = (smallMs * 1e6) / small
  const largeNsPerRecord = (largeMs * 1e6) / large
  return { smallMs, largeMs, smallNsPerRecord, largeNsPerRecord, perRecordRatio: largeNsPerRecord / smallNsPerRecord }
})

main(() => Effect.runPromise(Effect.scoped(program)))
