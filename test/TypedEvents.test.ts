import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Schema, Stream } from "effect"
import * as App from "../src/App.js"
import * as Events from "../src/Events.js"
import { hooksOf } from "../src/internal/hooks.js"

const JobDone = Events.define(
  "jobs.job.done",
  Schema.Struct({ id: Schema.String, at: Schema.Date, bytes: Schema.BigInt })
)

const at = new Date(Date.UTC(2026, 11, 5, 12))

/** Yields until a waiter, handler or subscription is registered on `event`. */
const untilListening = (app: App.AppService, event: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 10_000; i++) {
      if (hooksOf(app).hasListeners(event)) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`nobody listens on ${event}`)
  })

const started = Effect.tap(App.make({ name: "typed" }), (app) => app.start)

describe("typed events", () => {
  it.scoped("a receiver gets the context decoded: a Date stays a Date, a bigint a bigint", () =>
    Effect.gen(function* () {
      const app = yield* started
      const waiter = yield* Effect.fork(JobDone.event().pipe(Effect.provideService(App.App, app)))
      yield* untilListening(app, JobDone.name)
      yield* JobDone.dispatch({ id: "k2", at, bytes: 10n ** 20n }).pipe(Effect.provideService(App.App, app))
      const context = yield* Fiber.join(waiter)
      assert.instanceOf(context.at, Date)
      assert.strictEqual(context.at.getTime(), at.getTime())
      assert.strictEqual(context.bytes, 10n ** 20n)
    })
  )

  it.scoped("a stream of a typed event decodes every dispatch", () =>
    Effect.gen(function* () {
      const app = yield* started
      const stream = yield* Effect.fork(
        Stream.runCollect(Stream.take(JobDone.events(), 2)).pipe(Effect.provideService(App.App, app))
      )
      yield* untilListening(app, JobDone.name)
      for (const id of ["a", "b"]) {
        yield* JobDone.dispatch({ id, at, bytes: 1n }).pipe(Effect.provideService(App.App, app))
      }
      const streamed = Chunk.toReadonlyArray(yield* Fiber.join(stream))
      assert.deepStrictEqual(
        streamed.map((context) => [context.id, context.at.getTime(), context.bytes]),
        [
          ["a", at.getTime(), 1n],
          ["b", at.getTime(), 1n]
        ]
      )
    })
  )

  it.scoped("a dispatch that does not decode is skipped by a typed stream, which goes on", () =>
    Effect.gen(function* () {
      const app = yield* started
      const stream = yield* Effect.fork(
        Stream.runCollect(Stream.take(JobDone.events(), 1)).pipe(Effect.provideService(App.App, app))
      )
      yield* untilListening(app, JobDone.name)
      yield* app.dispatch(JobDone.name, { context: { id: 5 } })
      yield* JobDone.dispatch({ id: "good", at, bytes: 2n }).pipe(Effect.provideService(App.App, app))
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(stream))
      assert.deepStrictEqual(
        seen.map((context) => context.id),
        ["good"]
      )
    })
  )

  it.scoped("a handler gets the decoded context; a raw waiter sees the encoded form", () =>
    Effect.gen(function* () {
      const app = yield* started
      const raw = yield* Effect.fork(app.event(JobDone.name))
      yield* untilListening(app, JobDone.name)
      const handled: Array<Date> = []
      yield* JobDone.signal((context) => Effect.sync(() => handled.push(context.at))).pipe(
        Effect.provideService(App.App, app)
      )
      yield* JobDone.dispatch({ id: "a", at, bytes: 1n }, { inline: true }).pipe(Effect.provideService(App.App, app))
      assert.strictEqual(handled.length, 1)
      assert.instanceOf(handled[0], Date)
      assert.deepStrictEqual(yield* Fiber.join(raw), { id: "a", at: at.toISOString(), bytes: "1" })
    })
  )

  it.scoped("across processes the context travels as JSON and comes back with its types", () =>
    Effect.gen(function* () {
      // Two apps linked by a transport that does what IPC does: JSON out, JSON in.
      const receiver = yield* started
      const transport = Layer.succeed(Events.Transport, {
        publish: (event, options) =>
          hooksOf(receiver)
            .dispatchLocal(event, {
              ...options,
              context: JSON.parse(JSON.stringify(options.context)) as Events.EventContext
            })
            .pipe(Effect.orDie)
      })
      const sender = yield* App.make({ name: "sender" }).pipe(Effect.provide(transport))
      yield* sender.start
      const waiter = yield* Effect.fork(JobDone.event().pipe(Effect.provideService(App.App, receiver)))
      yield* untilListening(receiver, JobDone.name)
      yield* JobDone.dispatch({ id: "far", at, bytes: 7n }, { scope: "all" }).pipe(
        Effect.provideService(App.App, sender)
      )
      const context = yield* Fiber.join(waiter)
      assert.deepStrictEqual([context.id, context.at.getTime(), context.bytes], ["far", at.getTime(), 7n])
    })
  )

  it.scoped("a context that fails its schema: on dispatch nothing is delivered; on receipt the receiver fails", () =>
    Effect.gen(function* () {
      const app = yield* started
      const Positive = Events.define("jobs.job.sized", Schema.Struct({ size: Schema.Number.pipe(Schema.positive()) }))
      const raw = yield* Effect.fork(app.event(Positive.name))
      yield* untilListening(app, Positive.name)
      const encode = yield* Effect.flip(Positive.dispatch({ size: -1 }).pipe(Effect.provideService(App.App, app)))
      assert.instanceOf(encode, Events.InvalidEventContext)
      assert.strictEqual(encode._tag === "InvalidEventContext" && encode.reason, "Encode")
      assert.include(encode.message, `The context of event "jobs.job.sized" cannot be encoded for dispatch`)
      assert.isNull(raw.unsafePoll())

      const typed = yield* Effect.fork(Positive.event().pipe(Effect.provideService(App.App, app)))
      yield* Effect.yieldNow()
      yield* app.dispatch(Positive.name, { context: { size: "big" } })
      const decode = yield* Effect.flip(Fiber.join(typed))
      assert.strictEqual(decode._tag === "InvalidEventContext" && decode.reason, "Decode")
      assert.include(decode.message, "does not decode")
    })
  )
})

describe("scope: all contexts", () => {
  it.scoped("a context that cannot become JSON fails the dispatch before any delivery, even here", () =>
    Effect.gen(function* () {
      const app = yield* started
      const waiter = yield* Effect.fork(app.event("demo.thing.happened"))
      yield* untilListening(app, "demo.thing.happened")
      const error = yield* Effect.flip(app.dispatch("demo.thing.happened", { context: { big: 1n }, scope: "all" }))
      assert.instanceOf(error, Events.UnserializableEventContext)
      assert.include(error.message, `The context of event "demo.thing.happened" cannot go to other processes`)
      assert.include(error.message, "BigInt")
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      const cycle = yield* Effect.flip(app.dispatch("demo.thing.happened", { context: cyclic, scope: "all" }))
      assert.strictEqual(cycle._tag, "UnserializableEventContext")
      assert.isNull(waiter.unsafePoll())
      // a local dispatch is not encoded: it may carry anything
      yield* app.dispatch("demo.thing.happened", { context: { big: 1n } })
      assert.deepStrictEqual(yield* Fiber.join(waiter), { big: 1n })
    })
  )
})
