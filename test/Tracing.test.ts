import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Deferred, Effect, Logger, LogLevel, Schedule } from "effect"
import * as App from "../src/App.js"

/** Spans exported as they end, kept in memory; a fresh exporter per test. */
const traced = <A, E, R>(f: (exporter: InMemorySpanExporter) => Effect.Effect<A, E, R>) => {
  const exporter = new InMemorySpanExporter()
  return f(exporter).pipe(
    Effect.provide(
      NodeSdk.layer(() => ({
        resource: { serviceName: "tracing-test" },
        spanProcessor: new SimpleSpanProcessor(exporter)
      }))
    ),
    Logger.withMinimumLogLevel(LogLevel.None)
  )
}

const named = (exporter: InMemorySpanExporter, name: string): Array<ReadableSpan> =>
  exporter.getFinishedSpans().filter((span) => span.name === name)

const one = (exporter: InMemorySpanExporter, name: string): ReadableSpan => {
  const spans = named(exporter, name)
  assert.strictEqual(spans.length, 1, `${name}: ${exporter.getFinishedSpans().map((s) => s.name)}`)
  return spans[0]!
}

describe("task spans", () => {
  it.scoped("a task added inside a span runs in a root span of its own, linked to the adder's", () =>
    traced((exporter) =>
      Effect.gen(function* () {
        const app = yield* App.make({ name: "traced" })
        yield* app.start
        const task = yield* app
          .addTask(Effect.withSpan(Effect.void, "inside the task"), { name: "t1" })
          .pipe(Effect.withSpan("request"))
        yield* task.join
        const adder = one(exporter, "request")
        const run = one(exporter, "task t1")
        const inside = one(exporter, "inside the task")
        assert.isUndefined(run.parentSpanContext, "the task's span is a root, not the request's child")
        assert.strictEqual(run.spanContext().traceId === adder.spanContext().traceId, false)
        assert.strictEqual(run.links.length, 1)
        assert.strictEqual(run.links[0]!.context.spanId, adder.spanContext().spanId)
        assert.strictEqual(run.links[0]!.context.traceId, adder.spanContext().traceId)
        assert.strictEqual(inside.parentSpanContext?.spanId, run.spanContext().spanId)
        assert.deepInclude(run.attributes, {
          "fiberapp.app": "traced",
          "fiberapp.task": "t1",
          "fiberapp.task.run": 1,
          "fiberapp.task.attempt": 1
        })
      })
    )
  )

  it.scoped("each attempt of a retried task is a span, with its run and attempt", () =>
    traced((exporter) =>
      Effect.gen(function* () {
        const app = yield* App.make({ name: "retried" })
        yield* app.start
        let calls = 0
        const task = yield* app
          .addTask(
            Effect.suspend(() => (++calls < 3 ? Effect.fail("not yet") : Effect.void)),
            { name: "flaky", retry: Schedule.recurs(5) }
          )
          .pipe(Effect.withSpan("adder"))
        yield* task.join
        const adder = one(exporter, "adder")
        const attempts = named(exporter, "task flaky")
        assert.deepStrictEqual(
          attempts.map((span) => [span.attributes["fiberapp.task.run"], span.attributes["fiberapp.task.attempt"]]),
          [
            [1, 1],
            [1, 2],
            [1, 3]
          ]
        )
        for (const span of attempts) {
          assert.isUndefined(span.parentSpanContext)
          assert.strictEqual(span.links[0]!.context.spanId, adder.spanContext().spanId)
        }
        assert.deepStrictEqual(
          attempts.map((span) => span.status.code),
          [2, 2, 1]
        )
      })
    )
  )
})

describe("event spans", () => {
  it.scoped("a dispatch is a span; its handlers run later in root spans linked to it", () =>
    traced((exporter) =>
      Effect.gen(function* () {
        const app = yield* App.make({ name: "events" })
        const handled = yield* Deferred.make<void>()
        yield* app.signal("orders.paid.<amount:int>", () =>
          Effect.withSpan(Deferred.succeed(handled, undefined), "work")
        )
        yield* app.dispatch("orders.paid.9").pipe(Effect.withSpan("caller"))
        yield* Deferred.await(handled)
        const caller = one(exporter, "caller")
        const dispatch = one(exporter, "event orders.paid.9")
        assert.strictEqual(dispatch.parentSpanContext?.spanId, caller.spanContext().spanId)
        // The handler's span ends after `handled` completes: wait for it without a timer.
        yield* Effect.yieldNow().pipe(
          Effect.zipRight(
            Effect.suspend(() =>
              named(exporter, "handler orders.paid.<amount:int>").length === 1 ? Effect.void : Effect.fail("not yet")
            )
          ),
          Effect.retry(Schedule.recurs(100)),
          Effect.orDie
        )
        const handler = one(exporter, "handler orders.paid.<amount:int>")
        assert.isUndefined(handler.parentSpanContext)
        assert.strictEqual(handler.links[0]!.context.spanId, dispatch.spanContext().spanId)
        assert.strictEqual(one(exporter, "work").parentSpanContext?.spanId, handler.spanContext().spanId)
      })
    )
  )

  it.scoped("an inline dispatch holds its handlers' spans", () =>
    traced((exporter) =>
      Effect.gen(function* () {
        const app = yield* App.make({ name: "inline" })
        yield* app.signal("a.b.c", () => Effect.void)
        yield* app.dispatch("a.b.c", { inline: true })
        const dispatch = one(exporter, "event a.b.c")
        assert.strictEqual(one(exporter, "handler a.b.c").parentSpanContext?.spanId, dispatch.spanContext().spanId)
      })
    )
  )

  it.scoped("lifecycle listeners are spans", () =>
    traced((exporter) =>
      Effect.gen(function* () {
        const app = yield* App.make({ name: "listeners" })
        yield* app.listener("before_server_start", Effect.void)
        yield* app.start.pipe(Effect.withSpan("start"))
        const listener = one(exporter, "listener before_server_start")
        assert.strictEqual(listener.parentSpanContext?.spanId, one(exporter, "start").spanContext().spanId)
        assert.strictEqual(listener.attributes["fiberapp.app"], "listeners")
      })
    )
  )
})

describe("without a tracer", () => {
  it.scoped("a task keeps no span of its own: nothing is made for the native tracer", () =>
    Effect.gen(function* () {
      const app = yield* App.make({ name: "untraced" })
      yield* app.start
      const task = yield* app.addTask(Effect.currentSpan, { name: "plain" }).pipe(Effect.withSpan("adder"))
      const span = yield* task.join
      // The adder's span is what the task's context carried: no `task plain` span was made in between.
      assert.strictEqual(span.name, "adder")
    })
  )
})
