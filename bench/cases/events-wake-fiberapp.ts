/**
 * fiberapp against the `deferred` variant of `events-wake-raw.ts`: 10k fibers wait with `app.event`,
 * one `app.dispatch` wakes them all.
 */
import { Effect } from "effect"
import * as App from "../../src/App.js"
import { main } from "../lib/measure.js"
import { wake, warmThenMeasure } from "../lib/wake.js"

const event = "bench.wake.now"
const context = { amount: 1 }

const program = Effect.gen(function* () {
  const app = yield* App.make({ name: "bench" })
  yield* app.start
  return yield* warmThenMeasure((count) =>
    wake(
      (registered) =>
        Effect.suspend(() => {
          registered()
          return app.event(event)
        }),
      app.dispatch(event, { context }),
      count
    )
  )
})

main(() => Effect.runPromise(Effect.scoped(program)))
