import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Logger, LogLevel, Metric, Option, Schedule, TestClock } from "effect"
import * as App from "../src/App.js"
import * as Inspector from "../src/Inspector.js"
import * as Single from "../src/internal/workers/single.js"
import * as Server from "../src/Server.js"
import { parse } from "./fixtures/prometheus.js"

/** A metric's value for `app` (and the other labels given), from Effect's registry: 0 when it has no series yet. */
const metricValue = (name: string, app: string, labels: Record<string, string> = {}) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const wanted = { app, ...labels }
    const pair = pairs.find(
      (p) =>
        p.metricKey.name === name &&
        p.metricKey.tags.length === Object.keys(wanted).length &&
        p.metricKey.tags.every((tag) => wanted[tag.key as keyof typeof wanted] === tag.value)
    )
    if (pair === undefined) return 0
    const state = pair.metricState as unknown as { count?: number; value?: number }
    return "value" in state ? Number(state.value) : Number(state.count)
  })

/** Every app of a test run shares Effect's registry: each test has an app name of its own. */
const uniqueApp = (what: string) => `${what}-${Math.random().toString(36).slice(2, 8)}`

const quiet = Logger.withMinimumLogLevel(LogLevel.None)

describe("task metrics", () => {
  it.scoped("added, started, succeeded, failed and cancelled move with the tasks; running goes up and down", () =>
    Effect.gen(function* () {
      const name = uniqueApp("tasks")
      const app = yield* App.make({ name })
      yield* app.start
      const gate = yield* Deferred.make<void>()
      const waits = yield* app.addTask(Deferred.await(gate), { name: "waits" })
      assert.strictEqual(yield* metricValue("fiberapp_tasks_added_total", name), 1)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_started_total", name), 1)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_running", name), 1)

      yield* app.addTask(Effect.never, { name: "cancelled" })
      assert.strictEqual(yield* metricValue("fiberapp_tasks_running", name), 2)
      yield* app.cancelTask("cancelled")
      assert.strictEqual(yield* metricValue("fiberapp_tasks_cancelled_total", name), 1)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_running", name), 1)

      const fails = yield* app.addTask(Effect.fail("boom"), { name: "fails" })
      yield* fails.await
      assert.strictEqual(yield* metricValue("fiberapp_tasks_failed_total", name), 1)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_running", name), 1)

      yield* Deferred.succeed(gate, undefined)
      yield* waits.await
      assert.strictEqual(yield* metricValue("fiberapp_tasks_succeeded_total", name), 1)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_running", name), 0)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_added_total", name), 3)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_started_total", name), 3)
      assert.strictEqual(yield* metricValue("fiberapp_task_run_duration_seconds", name), 3)
    }).pipe(quiet)
  )

  it.scoped("a task queued before the start starts with the app; one added after the stop is cancelled", () =>
    Effect.gen(function* () {
      const name = uniqueApp("queued")
      const app = yield* App.make({ name })
      yield* app.addTask(Effect.never, { name: "queued" })
      assert.strictEqual(yield* metricValue("fiberapp_tasks_added_total", name), 1)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_started_total", name), 0)
      yield* app.start
      assert.strictEqual(yield* metricValue("fiberapp_tasks_started_total", name), 1)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_running", name), 1)
      yield* app.stop
      assert.strictEqual(yield* metricValue("fiberapp_tasks_running", name), 0)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_cancelled_total", name), 1)
      yield* app.addTask(Effect.void, { name: "late" })
      assert.strictEqual(yield* metricValue("fiberapp_tasks_cancelled_total", name), 2)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_started_total", name), 1)
    }).pipe(quiet)
  )

  it.scoped("an app made with metrics: false records none, and its tasks still run", () =>
    Effect.gen(function* () {
      const name = uniqueApp("unmetered")
      const app = yield* App.make({ name, metrics: false })
      yield* app.start
      const done = yield* app.addTask(Effect.succeed(1), { name: "done" })
      assert.deepStrictEqual(yield* done.join, 1)
      yield* app.dispatch("unmetered.app.event")
      const series = (yield* Metric.snapshot).filter((pair) => pair.metricKey.tags.some((tag) => tag.value === name))
      assert.deepStrictEqual(series, [])
    }).pipe(quiet)
  )

  it.scoped("a scheduled task counts one start and one duration per run", () =>
    Effect.gen(function* () {
      const name = uniqueApp("scheduled")
      const app = yield* App.make({ name })
      yield* app.start
      const task = yield* app.addTask(Effect.sleep("1 second"), {
        name: "thrice",
        schedule: Schedule.recurs(2)
      })
      yield* TestClock.adjust("3 seconds")
      yield* task.await
      assert.strictEqual(task.runs, 3)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_started_total", name), 1)
      assert.strictEqual(yield* metricValue("fiberapp_task_run_duration_seconds", name), 3)
      assert.strictEqual(yield* metricValue("fiberapp_tasks_succeeded_total", name), 1)
    }).pipe(quiet)
  )
})

describe("event metrics", () => {
  it.scoped("dispatches are counted; a failing handler is counted under the name it was registered on", () =>
    Effect.gen(function* () {
      const name = uniqueApp("events")
      const app = yield* App.make({ name })
      const before = yield* metricValue("fiberapp_events_dispatched_total", name)
      yield* app.signal("orders.paid.<amount:int>", () => Effect.fail("handler broke"))
      yield* app.dispatch("orders.paid.9", { inline: true })
      yield* app.dispatch("nobody.listens.here")
      // The failure's report is a dispatch too (server.exception.report).
      assert.strictEqual(yield* metricValue("fiberapp_events_dispatched_total", name), before + 3)
      assert.strictEqual(
        yield* metricValue("fiberapp_event_handler_failures_total", name, { event: "orders.paid.<amount:int>" }),
        1
      )
    }).pipe(quiet)
  )
})

const fetchStatus = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    await response.arrayBuffer()
    return response.status
  })

/** A request is counted as its fiber ends, just after the client has its answer: wait for the count, not a time. */
const eventually = <A>(check: Effect.Effect<A>, until: (a: A) => boolean) =>
  Effect.filterOrFail(check, until).pipe(
    Effect.retry(Schedule.spaced("5 millis").pipe(Schedule.upTo("5 seconds"))),
    Effect.orElse(() => check)
  )

describe("HTTP metrics", () => {
  it.live("requests by method and status, timed, on a loopback server", () =>
    Effect.gen(function* () {
      const name = uniqueApp("http")
      const routes = Layer.mergeAll(
        HttpLayerRouter.add("GET", "/hello", HttpServerResponse.text("hi")),
        HttpLayerRouter.add("POST", "/jobs", HttpServerResponse.empty({ status: 201 })),
        HttpLayerRouter.add("GET", "/boom", Effect.die("boom"))
      )
      const app = yield* App.make({ name })
      const server = yield* Server.serve({ port: 0, host: "127.0.0.1", routes }).pipe(
        Effect.provideService(App.App, app)
      )
      for (let i = 0; i < 3; i++) assert.strictEqual(yield* fetchStatus(`${server.url}/hello`), 200)
      assert.strictEqual(yield* fetchStatus(`${server.url}/jobs`, { method: "POST" }), 201)
      assert.strictEqual(yield* fetchStatus(`${server.url}/missing`), 404)
      assert.strictEqual(yield* fetchStatus(`${server.url}/boom`), 500)
      const count = (labels: Record<string, string>) => metricValue("fiberapp_http_requests_total", name, labels)
      assert.strictEqual(yield* eventually(count({ method: "GET", status: "200" }), (n) => n === 3), 3)
      assert.strictEqual(yield* eventually(count({ method: "POST", status: "201" }), (n) => n === 1), 1)
      assert.strictEqual(yield* eventually(count({ method: "GET", status: "404" }), (n) => n === 1), 1)
      assert.strictEqual(yield* eventually(count({ method: "GET", status: "500" }), (n) => n === 1), 1)
      assert.strictEqual(yield* count({ method: "POST", status: "200" }), 0)
      assert.strictEqual(
        yield* metricValue("fiberapp_http_request_duration_seconds", name, { method: "GET", status: "200" }),
        3
      )
    }).pipe(Effect.scoped, quiet)
  )
})

describe("GET /metrics", () => {
  it.live("a process serving alone: its series in Prometheus text, without a worker label", () =>
    Effect.gen(function* () {
      const name = uniqueApp("single")
      const app = yield* App.make({ name })
      yield* app.start
      yield* app.addTask(Effect.never, { name: "forever" })
      const address = yield* Inspector.serve(Single.make(app), {
        port: 0,
        host: "127.0.0.1",
        apiKey: Option.none()
      })
      const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${address.port}/metrics`))
      assert.strictEqual(response.status, 200)
      assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/)
      const { samples, types } = parse(yield* Effect.promise(() => response.text()))
      assert.strictEqual(types.get("fiberapp_tasks_running"), "gauge")
      const running = samples.find((s) => s.name === "fiberapp_tasks_running" && s.labels.app === name)
      assert.deepStrictEqual(running, { name: "fiberapp_tasks_running", labels: { app: name }, value: 1 })
      const post = yield* Effect.promise(() => fetch(`http://127.0.0.1:${address.port}/metrics`, { method: "POST" }))
      assert.strictEqual(post.status, 405)
    }).pipe(Effect.scoped, quiet)
  )
})
