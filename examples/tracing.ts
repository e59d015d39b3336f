/**
 * Traces of an app, printed by OpenTelemetry's console exporter: `npx tsx examples/tracing.ts`.
 *
 * A task added inside a span (as a request handler would) runs in a root span of its own, `task report`, linked to
 * the span that added it; a dispatch is a span, `event reports.report.done`, and its handler's span links to it.
 * Swap the console exporter for OTLP's to send them to a collector.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Deferred, Effect } from "effect"
import * as App from "../src/App.js"

const program = Effect.gen(function* () {
  const app = yield* App.App
  const done = yield* Deferred.make<void>()
  yield* app.signal("reports.report.done", () => Deferred.succeed(done, undefined))
  yield* app.start

  const report = yield* app
    .addTask(
      Effect.gen(function* () {
        yield* Effect.sleep("10 millis").pipe(Effect.withSpan("render the report"))
        yield* app.dispatch("reports.report.done")
      }),
      { name: "report" }
    )
    .pipe(Effect.withSpan("POST /reports"))
  yield* report.join
  yield* Deferred.await(done)
})

const TracingLive = NodeSdk.layer(() => ({
  resource: { serviceName: "tracing-example" },
  spanProcessor: new SimpleSpanProcessor(new ConsoleSpanExporter())
}))

Effect.runPromise(
  Effect.scoped(program).pipe(Effect.provide(App.layer({ name: "reports" })), Effect.provide(TracingLive))
)
