/**
 * Whether `purgeTasks` is linear in the number of records: the time per record to purge 10k finished
 * tasks against 100k (median of several rounds each).
 */
import { Effect } from "effect"
import * as App from "../../src/App.js"
import type * as Task from "../../src/Task.js"
import { type Lap, main, median, names, stopwatch } from "../lib/measure.js"

const small = 10_000
const large = 100_000

const purgeMs = (app: App.AppService, keys: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const tasks = new Array<Task.Task<void>>(keys.length)
    for (let i = 0; i < keys.length; i++) tasks[i] = yield* app.addTask(Effect.void, { name: keys[i]! })
    for (let i = 0; i < keys.length; i++) yield* tasks[i]!.await
    const lap = stopwatch()
    const purged = yield* app.purgeTasks
    const purging = lap()
    if (purged !== keys.length) throw new Error(`purged ${purged} of ${keys.length} records`)
    return purging
  })

const rounds = (app: App.AppService, keys: ReadonlyArray<string>, times: number) =>
  Effect.gen(function* () {
    const laps: Array<Lap> = []
    for (let i = 0; i < times; i++) laps.push(yield* purgeMs(app, keys))
    return { cpuMs: median(laps.map((l) => l.cpuMs)), wallMs: median(laps.map((l) => l.wallMs)) }
  })

const program = Effect.gen(function* () {
  const app = yield* App.make({ name: "bench" })
  yield* app.start
  const smallKeys = names("small", small)
  const largeKeys = names("large", large)
  yield* rounds(app, smallKeys, 3)
  const smallMs = yield* rounds(app, smallKeys, 7)
  const largeMs = yield* rounds(app, largeKeys, 3)
  const nsPerRecord = (ms: number, records: number) => (ms * 1e6) / records
  return {
    smallMs: smallMs.cpuMs,
    largeMs: largeMs.cpuMs,
    smallNsPerRecord: nsPerRecord(smallMs.cpuMs, small),
    largeNsPerRecord: nsPerRecord(largeMs.cpuMs, large),
    smallNsPerRecordWall: nsPerRecord(smallMs.wallMs, small),
    largeNsPerRecordWall: nsPerRecord(largeMs.wallMs, large)
  }
})

main(() => Effect.runPromise(Effect.scoped(program)))
