/**
 * fiberapp's dispatch: with nobody listening (absolute rate; `events-dispatch-raw.ts` gives the empty
 * loop for scale), and to one handler (against PubSub publish-and-take there). `metrics-off` runs an app made with
 * `metrics: false`: what the app's metrics cost.
 */
import { Deferred, Effect, Exit } from "effect"
import * as App from "../../src/App.js"
import { hooksOf } from "../../src/internal/hooks.js"
import { arg, intEnv, type Lap, main, medianRates, rates, stopwatch } from "../lib/measure.js"

const messages = intEnv("BENCH_MESSAGES", 500_000)
const loops = intEnv("BENCH_LOOPS", 1_000_000)
const laps = intEnv("BENCH_LAPS", 5)
const warmupLaps = 3
const metrics = arg(0, "metrics-on") !== "metrics-off"

const quiet = (app: App.AppService, count: number, times: number) =>
  Effect.gen(function* () {
    const measured: Array<Lap> = []
    for (let lap = 0; lap < times; lap++) {
      const stop = stopwatch()
      for (let i = 0; i < count; i++) yield* app.dispatch("bench.quiet.event")
      measured.push(stop())
    }
    return medianRates("quietPerSec", count, measured)
  })

const oneHandler = (app: App.AppService, event: string, count: number) =>
  Effect.gen(function* () {
    const done = yield* Deferred.make<void>()
    let handled = 0
    const remove = yield* app.signal(event, () =>
      Effect.sync(() => {
        if (++handled === count) Deferred.unsafeDone(done, Exit.void)
      })
    )
    const lap = stopwatch()
    for (let i = 0; i < count; i++) yield* app.dispatch(event)
    yield* Deferred.await(done)
    const rate = rates("oneHandlerPerSec", count, lap())
    yield* remove
    return rate
  })

const program = Effect.gen(function* () {
  const app = yield* App.make({ name: "bench", metrics })
  yield* app.start
  // Generator loops reach their steady tier only after a few million steps.
  yield* quiet(app, loops, warmupLaps)
  yield* oneHandler(app, "bench.warm.handler", 50_000)
  if (hooksOf(app).hasListeners("bench.quiet.event")) throw new Error("the quiet event has listeners")
  const quietRate = yield* quiet(app, loops, laps)
  const oneHandlerRate = yield* oneHandler(app, "bench.one.handler", messages)
  return { messages, loops, laps, ...quietRate, ...oneHandlerRate }
})

main(() => Effect.runPromise(Effect.scoped(program)))
