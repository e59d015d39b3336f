import { spawn } from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  ConfigProvider,
  Context,
  Data,
  Deferred,
  Effect,
  Exit,
  Fiber,
  FiberRef,
  HashMap,
  Layer,
  Logger,
  LogLevel,
  Option,
  Schedule,
  Schema,
  Scope,
  Stream,
  Supervisor
} from "effect"
import * as App from "../src/App.js"
import * as Server from "../src/Server.js"
import type * as Task from "../src/Task.js"
import { freePort } from "./utils.js"

type Routes = Layer.Layer<never, never, any>

const serveIn = (
  scope: Scope.Scope,
  options: {
    readonly routes?: Routes
    readonly setup?: (app: App.AppService) => Effect.Effect<void, unknown>
    readonly grace?: number
    readonly app?: (app: App.AppService) => App.AppService
    readonly serve?: Omit<Server.Options<never, never, any>, "routes">
  } = {}
) =>
  Effect.gen(function* () {
    const app = yield* App.make({ name: "test", gracefulShutdownTimeout: options.grace ?? 5000 })
    if (options.setup) yield* Effect.orDie(options.setup(app))
    const served = options.app ? options.app(app) : app
    const server = yield* Server.serve({ port: 0, ...options.serve, routes: options.routes ?? Layer.empty }).pipe(
      Effect.provideService(App.App, served)
    ) as Effect.Effect<Server.ServerService, Server.ServeError, Scope.Scope>
    return { app, server, url: server.url }
  }).pipe(Scope.extend(scope), Logger.withMinimumLogLevel(LogLevel.None))

const fetchText = (url: string, init?: RequestInit) =>
  Effect.tryPromise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, body: await response.text(), headers: response.headers }
  })

const canListen = (port: number) =>
  Effect.async<boolean>((resume) => {
    const probe = Net.createServer()
    probe.once("error", () => resume(Effect.succeed(false)))
    probe.listen(port, "127.0.0.1", () => probe.close(() => resume(Effect.succeed(true))))
  })

const serveError = (exit: Exit.Exit<unknown, unknown>): Server.ServeError => {
  if (Exit.isSuccess(exit)) return assert.fail("expected the server to fail")
  const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
  assert.instanceOf(error, Server.ServeError, Cause.pretty(exit.cause))
  return error as Server.ServeError
}

describe("lifecycle", () => {
  it.live("listeners run in Sanic's order across a start/stop cycle; tasks live through before_server_stop", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const record = (entry: string) => Effect.sync(() => log.push(entry))
      const scope = yield* Scope.make()
      const { app } = yield* serveIn(scope, {
        setup: (app) =>
          Effect.gen(function* () {
            yield* app.addTask(Effect.never, { name: "worker" })
            yield* app.listener("main_process_start", record("main_process_start"))
            yield* app.listener("main_process_ready", record("main_process_ready"))
            yield* app.listener("main_process_stop", record("main_process_stop"))
            yield* app.listener("before_server_start", record("before_server_start:1"))
            yield* app.listener("before_server_start", record("before_server_start:2"))
            yield* app.listener("before_server_start", record("before_server_start:priority"), { priority: 10 })
            yield* app.listener("after_server_start", record("after_server_start:1"))
            yield* app.listener("after_server_start", record("after_server_start:2"))
            yield* app.listener(
              "before_server_stop",
              Effect.flatMap(
                Effect.flatMap(app.getTask("worker"), (task) => task.status),
                (status) => record(`before_server_stop:1 worker=${status}`)
              )
            )
            yield* app.listener("before_server_stop", record("before_server_stop:2"))
            yield* app.listener("after_server_stop", record("after_server_stop:1"))
            yield* app.listener("after_server_stop", record("after_server_stop:2"))
          })
      })
      assert.strictEqual(yield* app.state, "serving")
      log.push("serving")
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(log, [
        "main_process_start",
        "main_process_ready",
        "before_server_start:priority",
        "before_server_start:1",
        "before_server_start:2",
        "after_server_start:1",
        "after_server_start:2",
        "serving",
        "before_server_stop:2",
        "before_server_stop:1 worker=running",
        "after_server_stop:2",
        "after_server_stop:1",
        "main_process_stop"
      ])
      assert.strictEqual(yield* app.state, "stopped")
      assert.strictEqual(yield* Effect.flatMap(app.getTask("worker"), (task) => task.status), "cancelled")
    })
  )

  it.live("queued tasks start after before_server_start and are visible to after_server_start", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const scope = yield* Scope.make()
      yield* serveIn(scope, {
        setup: (app) =>
          Effect.gen(function* () {
            yield* app.addTask(() => Effect.never, { name: "queued" })
            const statusOf = Effect.flatMap(app.getTask("queued"), (task) => task.status)
            yield* app.listener(
              "before_server_start",
              Effect.map(statusOf, (status) => seen.push(`before:${status}`))
            )
            yield* app.listener(
              "after_server_start",
              Effect.map(statusOf, (status) => seen.push(`after:${status}`))
            )
          })
      })
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(seen, ["before:pending", "after:running"])
    })
  )

  it.live("a failing before_server_start fails with a ServeError naming it; nothing runs; the port is free", () =>
    Effect.gen(function* () {
      const port = yield* freePort
      const scope = yield* Scope.make()
      const ranAfterStart = yield* Deferred.make<void>()
      const app = yield* Scope.extend(App.make({ name: "test" }), scope)
      yield* app.listener("before_server_start", Effect.fail("database unreachable"))
      yield* app.listener("after_server_start", Deferred.succeed(ranAfterStart, void 0))
      const task = yield* app.addTask(Effect.never, { name: "queued" })
      const exit = yield* Server.serve({ port }).pipe(
        Effect.provideService(App.App, app),
        Scope.extend(scope),
        Effect.exit
      )
      const error = serveError(exit)
      assert.strictEqual(error.listener, "before_server_start")
      assert.include(error.message, "before_server_start")
      assert.include(error.message, "database unreachable")
      assert.strictEqual(yield* app.state, "stopped")
      assert.strictEqual(yield* task.status, "cancelled")
      assert.isFalse(yield* Deferred.isDone(ranAfterStart))
      assert.isTrue(yield* canListen(port))
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.live("a failing after_server_start (after the bind) stops what started and releases the port", () =>
    Effect.gen(function* () {
      const port = yield* freePort
      const scope = yield* Scope.make()
      const app = yield* Scope.extend(App.make({ name: "test" }), scope)
      yield* app.listener("after_server_start", Effect.die(new Error("boom")))
      const task = yield* app.addTask(Effect.never, { name: "queued" })
      const exit = yield* Server.serve({ port }).pipe(
        Effect.provideService(App.App, app),
        Scope.extend(scope),
        Effect.exit
      )
      const error = serveError(exit)
      assert.strictEqual(error.listener, "after_server_start")
      assert.strictEqual(yield* task.status, "cancelled")
      assert.isTrue(yield* canListen(port))
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.live("an in-flight request finishes when the server stops; new connections are refused after", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const { url } = yield* serveIn(scope, {
        routes: HttpLayerRouter.add(
          "GET",
          "/slow",
          Effect.zipRight(
            Deferred.succeed(started, void 0),
            Effect.as(Effect.sleep("300 millis"), HttpServerResponse.text("slow done"))
          )
        )
      })
      const request = yield* Effect.fork(fetchText(`${url}/slow`))
      yield* Deferred.await(started)
      yield* Scope.close(scope, Exit.void)
      const response = yield* request.await
      assert.isTrue(Exit.isSuccess(response))
      if (Exit.isSuccess(response))
        assert.deepStrictEqual([response.value.status, response.value.body], [200, "slow done"])
      const after = yield* Effect.exit(fetchText(`${url}/slow`))
      assert.isTrue(Exit.isFailure(after))
    })
  )
})

describe("routes", () => {
  const taskRoutes: Routes = Layer.mergeAll(
    HttpLayerRouter.add(
      "POST",
      "/tasks/:name",
      Effect.gen(function* () {
        const { name } = yield* HttpLayerRouter.params
        yield* App.addTask(Effect.never, { name: name! })
        return HttpServerResponse.empty({ status: 201 })
      }).pipe(Effect.orDie)
    ),
    HttpLayerRouter.add(
      "DELETE",
      "/tasks/:name",
      Effect.gen(function* () {
        const { name } = yield* HttpLayerRouter.params
        yield* App.cancelTask(name!)
        return HttpServerResponse.empty({ status: 204 })
      }).pipe(Effect.catchTag("TaskNotFound", () => Effect.succeed(HttpServerResponse.empty({ status: 404 }))))
    ),
    HttpLayerRouter.add(
      "GET",
      "/tasks/:name",
      Effect.gen(function* () {
        const { name } = yield* HttpLayerRouter.params
        const task: Task.Task = yield* App.getTask(name!)
        return HttpServerResponse.text(yield* task.status)
      }).pipe(Effect.catchTag("TaskNotFound", () => Effect.succeed(HttpServerResponse.empty({ status: 404 }))))
    )
  )

  it.scopedLive("a route adds a named task and another cancels it", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { app, url } = yield* serveIn(scope, { routes: taskRoutes })
      assert.strictEqual((yield* fetchText(`${url}/tasks/job-1`, { method: "POST" })).status, 201)
      assert.deepStrictEqual(yield* fetchText(`${url}/tasks/job-1`).pipe(Effect.map((r) => [r.status, r.body])), [
        200,
        "running"
      ])
      assert.strictEqual((yield* fetchText(`${url}/tasks/job-1`, { method: "DELETE" })).status, 204)
      assert.strictEqual(yield* Effect.flatMap(app.getTask("job-1"), (task) => task.status), "cancelled")
      assert.strictEqual((yield* fetchText(`${url}/tasks/job-1`)).body, "cancelled")
      assert.strictEqual((yield* fetchText(`${url}/tasks/job-1`, { method: "DELETE" })).status, 204)
      assert.strictEqual((yield* fetchText(`${url}/tasks/nope`, { method: "DELETE" })).status, 404)
    })
  )

  it.scopedLive("every request gets an id, the same for the whole request", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: HttpLayerRouter.add(
          "GET",
          "/id",
          Effect.gen(function* () {
            const first = yield* Server.requestId
            const second = yield* Server.requestId
            return HttpServerResponse.text(first === second ? first : "unstable")
          })
        )
      })
      const a = (yield* fetchText(`${url}/id`)).body
      const b = (yield* fetchText(`${url}/id`)).body
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
      assert.match(a, uuid)
      assert.match(b, uuid)
      assert.notStrictEqual(a, b)
    })
  )

  it.scopedLive("unknown routes answer 404 and failing handlers 500", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: HttpLayerRouter.add("GET", "/boom", Effect.die(new Error("boom")))
      })
      assert.strictEqual((yield* fetchText(`${url}/nope`)).status, 404)
      assert.strictEqual((yield* fetchText(`${url}/boom`)).status, 500)
    })
  )

  it.scopedLive("unknown paths answer 404 without the router, unless global middleware could answer them", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const plain = yield* serveIn(scope, {
        routes: HttpLayerRouter.add("GET", "/items/:id", Effect.succeed(HttpServerResponse.text("item")))
      })
      assert.strictEqual((yield* fetchText(`${plain.url}/items/1`)).status, 200)
      assert.strictEqual((yield* fetchText(`${plain.url}/items/1`, { method: "HEAD" })).status, 200)
      assert.strictEqual((yield* fetchText(`${plain.url}/items`)).status, 404)
      assert.strictEqual((yield* fetchText(`${plain.url}/items/1`, { method: "POST" })).status, 404)
      const withCors = yield* serveIn(scope, {
        routes: Layer.mergeAll(
          HttpLayerRouter.add("GET", "/items/:id", Effect.succeed(HttpServerResponse.text("item"))),
          HttpLayerRouter.cors()
        )
      })
      // A preflight to a path no route has: only the global CORS middleware answers it.
      const preflight = yield* fetchText(`${withCors.url}/elsewhere`, {
        method: "OPTIONS",
        headers: { origin: "http://example.test", "access-control-request-method": "GET" }
      })
      assert.strictEqual(preflight.status, 204)
      assert.isNotNull(preflight.headers.get("access-control-allow-origin"))
    })
  )

  it.scopedLive("a failing handler is logged once, with the app's name, the method, url, status and request id", () =>
    Effect.gen(function* () {
      const logged = yield* Deferred.make<Record<string, unknown>>()
      const causes: Array<Cause.Cause<unknown>> = []
      const recorder = Logger.make(({ annotations, cause, message }) => {
        if (String(message).includes("Request failed")) {
          causes.push(cause)
          Deferred.unsafeDone(logged, Exit.succeed(Object.fromEntries(HashMap.toEntries(annotations))))
        }
      })
      const app = yield* App.make({ name: "logged", gracefulShutdownTimeout: 2000 })
      const server = yield* Server.serve({
        port: 0,
        routes: HttpLayerRouter.add("GET", "/boom", Effect.die(new Error("boom")))
      }).pipe(Effect.provideService(App.App, app), Effect.provide(Logger.replace(Logger.defaultLogger, recorder)))
      const response = yield* fetchText(`${server.url}/boom`)
      assert.strictEqual(response.status, 500)
      const annotations = yield* Deferred.await(logged)
      assert.strictEqual(annotations.app, "logged")
      assert.strictEqual(annotations["http.method"], "GET")
      assert.strictEqual(annotations["http.url"], "/boom")
      assert.strictEqual(annotations["http.status"], 500)
      assert.isString(annotations["http.request.id"])
      // the handler's defect only: not the 500 answer as a second error
      assert.strictEqual(causes.length, 1)
      const defects = Chunk.toReadonlyArray(Cause.defects(causes[0]!))
      assert.strictEqual(defects.length, 1)
      assert.strictEqual((defects[0] as Error).message, "boom")
    })
  )

  it.scopedLive("services: built before the routes, used by handlers, released after the app has stopped", () =>
    Effect.gen(function* () {
      class Pool extends Context.Tag("test/Pool")<Pool, { readonly query: (sql: string) => string }>() {}
      const steps: Array<string> = []
      const PoolLive = Layer.scoped(
        Pool,
        Effect.acquireRelease(
          Effect.sync(() => {
            steps.push("pool open")
            return { query: (sql: string) => `result of ${sql}` }
          }),
          () => Effect.sync(() => steps.push("pool closed"))
        )
      )
      const app = yield* App.make({ name: "services", gracefulShutdownTimeout: 2000 })
      yield* app.listener(
        "after_server_stop",
        Effect.sync(() => steps.push("after_server_stop"))
      )
      const scope = yield* Scope.make()
      const server = yield* Server.serve({
        port: 0,
        services: PoolLive,
        routes: HttpLayerRouter.add(
          "GET",
          "/query",
          Effect.map(Pool, (pool) => HttpServerResponse.text(pool.query("select 1")))
        )
      }).pipe(Effect.provideService(App.App, app), Scope.extend(scope))
      const response = yield* fetchText(`${server.url}/query`)
      assert.strictEqual(response.body, "result of select 1")
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(steps, ["pool open", "after_server_stop", "pool closed"])
    })
  )

  it.scopedLive("scoped resources of a handler are released when its request ends", () =>
    Effect.gen(function* () {
      const released = yield* Deferred.make<string>()
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: HttpLayerRouter.add(
          "GET",
          "/scoped",
          Effect.as(
            Effect.acquireRelease(Effect.succeed("connection"), (resource) => Deferred.succeed(released, resource)),
            HttpServerResponse.text("ok")
          )
        )
      })
      assert.strictEqual((yield* fetchText(`${url}/scoped`)).body, "ok")
      assert.strictEqual(yield* Deferred.await(released), "connection")
    })
  )

  it.scopedLive("http.lifecycle events are dispatched only when something listens", () =>
    Effect.gen(function* () {
      const dispatched: Array<string> = []
      const scope = yield* Effect.scope
      const { app, url } = yield* serveIn(scope, {
        routes: HttpLayerRouter.add("GET", "/hello", Effect.succeed(HttpServerResponse.text("hello"))),
        app: (app) => ({
          ...app,
          dispatch: (event, options) => {
            dispatched.push(event)
            return app.dispatch(event, options)
          }
        })
      })
      assert.strictEqual((yield* fetchText(`${url}/hello`)).body, "hello")
      assert.deepStrictEqual(dispatched, [])

      const seen: Array<string> = []
      yield* app.signal("http.lifecycle.request", (context) =>
        Effect.sync(() => seen.push(`request ${(context.request as { url: string }).url}`))
      )
      yield* app.signal("http.lifecycle.response", (context) =>
        Effect.sync(() => seen.push(`response ${(context.response as { status: number }).status}`))
      )
      assert.strictEqual((yield* fetchText(`${url}/hello`)).body, "hello")
      assert.deepStrictEqual(dispatched, ["http.lifecycle.request", "http.lifecycle.response"])
      assert.deepStrictEqual(seen, ["request /hello", "response 200"])
    })
  )
})

describe("router", () => {
  const echo = Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const params = yield* HttpLayerRouter.params
    const search = yield* HttpServerRequest.ParsedSearchParams
    return yield* HttpServerResponse.json({ method: request.method, url: request.url, params, search })
  }).pipe(Effect.orDie)

  const tagged = (header: string) =>
    HttpLayerRouter.middleware((effect) =>
      Effect.map(effect, (response) => HttpServerResponse.setHeader(response, header, "yes"))
    )

  it.scopedLive("routes keep the platform router's behaviour: prefixes, params, search params, HEAD, any method", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: Layer.mergeAll(
          HttpLayerRouter.add("GET", "/items/:id", echo),
          HttpLayerRouter.use((router) => router.prefixed("/api").add("GET", "/things/:id", echo)),
          HttpLayerRouter.addAll([HttpLayerRouter.route("POST", "/orders", echo)], { prefix: "/v1" }),
          HttpLayerRouter.add("*", "/any", echo)
        )
      })
      const json = (path: string, init?: RequestInit) =>
        Effect.map(fetchText(`${url}${path}`, init), (response) => JSON.parse(response.body))
      assert.deepStrictEqual(yield* json("/items/7?color=red&tag=a&tag=b"), {
        method: "GET",
        url: "/items/7?color=red&tag=a&tag=b",
        params: { id: "7" },
        search: { color: "red", tag: ["a", "b"] }
      })
      assert.deepStrictEqual(yield* json("/api/things/9?x=1"), {
        method: "GET",
        url: "/things/9?x=1",
        params: { id: "9" },
        search: { x: "1" }
      })
      assert.deepStrictEqual(yield* json("/v1/orders", { method: "POST" }), {
        method: "POST",
        url: "/orders",
        params: {},
        search: {}
      })
      assert.strictEqual((yield* json("/any", { method: "DELETE" })).method, "DELETE")
      const head = yield* fetchText(`${url}/items/7`, { method: "HEAD" })
      assert.deepStrictEqual([head.status, head.body, head.headers.get("content-type")], [200, "", "application/json"])
      assert.strictEqual((yield* fetchText(`${url}/items`)).status, 404)
      assert.strictEqual((yield* fetchText(`${url}/items/7`, { method: "PUT" })).status, 404)
    })
  )

  it.scopedLive("an HttpApi served through HttpLayerRouter.addHttpApi, its handlers using the app", () =>
    Effect.gen(function* () {
      class Api extends HttpApi.make("api").add(
        HttpApiGroup.make("tasks").add(
          HttpApiEndpoint.get("count", "/tasks/count").addSuccess(Schema.Struct({ count: Schema.Number }))
        )
      ) {}
      const TasksLive = HttpApiBuilder.group(Api, "tasks", (handlers) =>
        handlers.handle("count", () => Effect.map(App.tasks, (tasks) => ({ count: tasks.length })))
      )
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: HttpLayerRouter.addHttpApi(Api).pipe(Layer.provide(TasksLive)),
        setup: (app) => app.addTask(Effect.never, { name: "one" })
      })
      const response = yield* fetchText(`${url}/tasks/count`)
      assert.deepStrictEqual([response.status, JSON.parse(response.body)], [200, { count: 1 }])
    })
  )

  it.scopedLive("route middleware runs for the routes it is provided to, and only those", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: Layer.mergeAll(
          HttpLayerRouter.add("GET", "/with", Effect.succeed(HttpServerResponse.text("with"))).pipe(
            Layer.provide(tagged("x-route-middleware").layer)
          ),
          HttpLayerRouter.add("GET", "/without", Effect.succeed(HttpServerResponse.text("without")))
        )
      })
      assert.strictEqual((yield* fetchText(`${url}/with`)).headers.get("x-route-middleware"), "yes")
      assert.strictEqual((yield* fetchText(`${url}/without`)).headers.get("x-route-middleware"), null)
    })
  )

  it.scopedLive("global middleware sees every request, unknown paths included", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: Layer.mergeAll(
          HttpLayerRouter.add("GET", "/hello", Effect.succeed(HttpServerResponse.text("hello"))),
          HttpLayerRouter.middleware(
            (effect) =>
              Effect.zipRight(
                Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
                  Effect.sync(() => seen.push(request.url))
                ),
                Effect.map(effect, (response) => HttpServerResponse.setHeader(response, "x-global", "yes"))
              ),
            { global: true }
          )
        )
      })
      assert.strictEqual((yield* fetchText(`${url}/hello`)).headers.get("x-global"), "yes")
      assert.strictEqual((yield* fetchText(`${url}/missing`)).status, 404)
      assert.deepStrictEqual(seen, ["/hello", "/missing"])
    })
  )
})

describe("request fibers", () => {
  class Greeting extends Context.Tag("test/Greeting")<Greeting, string>() {}
  class Extra extends Context.Tag("test/Extra")<Extra, string>() {}
  const Inherited = FiberRef.unsafeMake("unset")
  const Fresh = FiberRef.unsafeMake<Array<string>>([], { fork: () => [] })

  it.scopedLive("a handler's context holds the server's services and the request's own, however it is used", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: HttpLayerRouter.add(
          "GET",
          "/context/:id",
          Effect.gen(function* () {
            const context = yield* Effect.context<never>()
            const request = yield* HttpServerRequest.HttpServerRequest
            const keys = Array.from(context.unsafeMap.keys())
            const copied = new Map(context.unsafeMap)
            const provided = yield* Effect.provideService(
              Effect.all([Extra, Greeting, HttpServerRequest.HttpServerRequest, HttpLayerRouter.params]),
              Extra,
              "extra"
            )
            const merged = Context.merge(context, Context.make(Extra, "merged"))
            return yield* HttpServerResponse.json({
              app: Context.getOption(context, App.App)._tag,
              greeting: Context.unsafeGet(context, Greeting),
              hasRequest: keys.includes(HttpServerRequest.HttpServerRequest.key),
              hasRouteContext: keys.includes(HttpRouter.RouteContext.key),
              sizes: [context.unsafeMap.size, keys.length, copied.size, merged.unsafeMap.size],
              sameRequest: copied.get(HttpServerRequest.HttpServerRequest.key) === request,
              provided: [provided[0], provided[1], provided[2] === request, provided[3]],
              merged: [
                Context.unsafeGet(merged, Extra),
                Context.unsafeGet(merged, HttpServerRequest.HttpServerRequest) === request
              ],
              scopeIsServer: Context.unsafeGet(context, Scope.Scope) === serverScope
            })
          }).pipe(Effect.orDie)
        )
      }).pipe(Effect.provideService(Greeting, "hello"))
      const serverScope = scope
      const response = yield* fetchText(`${url}/context/1`)
      assert.strictEqual(response.status, 200, response.body)
      const first = JSON.parse(response.body)
      const size = first.sizes[0]
      assert.deepStrictEqual(first, {
        app: "Some",
        greeting: "hello",
        hasRequest: true,
        hasRouteContext: true,
        sizes: [size, size, size, size + 1],
        sameRequest: true,
        provided: ["extra", "hello", true, { id: "1" }],
        merged: ["merged", true],
        scopeIsServer: false
      })
      assert.deepStrictEqual(JSON.parse((yield* fetchText(`${url}/context/2`)).body).provided[3], { id: "2" })
    })
  )

  it.scopedLive("request fibers start from the server's fiber refs, fork patches applied, and share no changes", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const routes = HttpLayerRouter.add(
        "GET",
        "/refs",
        Effect.gen(function* () {
          const inherited = yield* FiberRef.get(Inherited)
          yield* FiberRef.set(Inherited, "changed by a request")
          const fresh = yield* FiberRef.get(Fresh)
          fresh.push("request")
          return HttpServerResponse.text(`${inherited} ${fresh.length}`)
        })
      )
      const { url } = yield* serveIn(scope, { routes }).pipe(
        Effect.locally(Inherited, "server"),
        Effect.locally(Fresh, [])
      )
      assert.strictEqual((yield* fetchText(`${url}/refs`)).body, "server 1")
      assert.strictEqual((yield* fetchText(`${url}/refs`)).body, "server 1")
    })
  )

  it.scopedLive("a handler's steps run in its request fiber: refs, scope, sleep, failure", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const released = yield* Deferred.make<void>()
      const scope = yield* Effect.scope
      const routes = Layer.mergeAll(
        HttpLayerRouter.add(
          "GET",
          "/halfway/:id",
          Effect.gen(function* () {
            const { id } = yield* HttpLayerRouter.params
            const greeting = yield* Greeting
            log.push(`begin ${id}`)
            const inherited = yield* FiberRef.get(Inherited)
            yield* Effect.addFinalizer(() =>
              Effect.zipRight(
                Effect.sync(() => log.push(`released ${id}`)),
                Deferred.succeed(released, undefined)
              )
            )
            yield* Effect.sleep("5 millis")
            const request = yield* HttpServerRequest.HttpServerRequest
            return HttpServerResponse.text(`${greeting} ${inherited} ${id} ${request.url}`)
          })
        ),
        HttpLayerRouter.add(
          "GET",
          "/fails-later",
          Effect.gen(function* () {
            yield* Greeting
            yield* Effect.yieldNow()
            return yield* Effect.die(new Error("late failure"))
          })
        )
      )
      const { url } = yield* serveIn(scope, { routes }).pipe(
        Effect.provideService(Greeting, "hello"),
        Effect.locally(Inherited, "server")
      )
      const response = yield* fetchText(`${url}/halfway/7`)
      assert.deepStrictEqual([response.status, response.body], [200, "hello server 7 /halfway/7"])
      yield* Deferred.await(released)
      assert.deepStrictEqual(log, ["begin 7", "released 7"])
      assert.strictEqual((yield* fetchText(`${url}/fails-later`)).status, 500)
    })
  )

  it.scopedLive("a supervisor of the server sees every request fiber", () =>
    Effect.gen(function* () {
      const started: Array<number> = []
      class Count extends Supervisor.AbstractSupervisor<void> {
        value = Effect.void
        override onStart<A, E, R>(
          _context: Context.Context<R>,
          _effect: Effect.Effect<A, E, R>,
          _parent: Option.Option<Fiber.RuntimeFiber<any, any>>,
          fiber: Fiber.RuntimeFiber<A, E>
        ): void {
          started.push(fiber.id().id)
        }
      }
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: HttpLayerRouter.add(
          "GET",
          "/me",
          Effect.withFiberRuntime((fiber) => Effect.succeed(HttpServerResponse.text(String(fiber.id().id))))
        )
      }).pipe(Effect.supervised(new Count()))
      const first = Number((yield* fetchText(`${url}/me`)).body)
      const second = Number((yield* fetchText(`${url}/me`)).body)
      assert.notStrictEqual(first, second)
      assert.includeMembers(started, [first, second])
    })
  )
})

describe("responses", () => {
  const Marker = FiberRef.unsafeMake("unset")

  it.scopedLive("a streamed body is written whole, and the request scope closes only after its last chunk", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const released = yield* Deferred.make<void>()
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: HttpLayerRouter.add(
          "GET",
          "/stream",
          Effect.gen(function* () {
            yield* Effect.acquireRelease(Effect.void, () =>
              Effect.zipRight(
                Effect.sync(() => log.push("released")),
                Deferred.succeed(released, undefined)
              )
            )
            const chunks = Stream.make("a", "b", "c").pipe(
              Stream.tap((chunk) => Effect.sync(() => log.push(chunk))),
              Stream.schedule(Schedule.spaced("5 millis")),
              Stream.encodeText
            )
            return HttpServerResponse.stream(chunks, { contentType: "text/plain" })
          })
        )
      })
      const response = yield* fetchText(`${url}/stream`)
      assert.deepStrictEqual([response.status, response.body], [200, "abc"])
      yield* Deferred.await(released)
      assert.deepStrictEqual(log, ["a", "b", "c", "released"])
    })
  )

  it.scopedLive("a handler's synchronous steps see their request fiber: HttpApp.unsafeEjectStreamScope works", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: Layer.mergeAll(
          HttpLayerRouter.add(
            "GET",
            "/ejected",
            Effect.gen(function* () {
              const request = yield* HttpServerRequest.HttpServerRequest
              return HttpApp.unsafeEjectStreamScope(
                HttpServerResponse.stream(Stream.make("ejected ", request.url).pipe(Stream.encodeText))
              )
            })
          ),
          HttpLayerRouter.add(
            "GET",
            "/current",
            Effect.sync(() => HttpServerResponse.text(String(Option.isSome(Fiber.getCurrentFiber()))))
          )
        )
      })
      const ejected = yield* fetchText(`${url}/ejected`)
      assert.deepStrictEqual([ejected.status, ejected.body], [200, "ejected /ejected"])
      assert.strictEqual((yield* fetchText(`${url}/current`)).body, "true")
    })
  )

  it.scopedLive("byte bodies arrive byte for byte, small and large, from one-step and fiber handlers", () =>
    Effect.gen(function* () {
      const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i)
      const large = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) % 256)
      const text = "héllo, wörld: € 𝄞"
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: Layer.mergeAll(
          HttpLayerRouter.add(
            "GET",
            "/small",
            Effect.sync(() => HttpServerResponse.uint8Array(everyByte))
          ),
          HttpLayerRouter.add(
            "GET",
            "/large",
            Effect.gen(function* () {
              yield* Effect.yieldNow()
              return HttpServerResponse.uint8Array(large)
            })
          ),
          HttpLayerRouter.add(
            "GET",
            "/text",
            Effect.map(App.App, () => HttpServerResponse.text(text))
          )
        )
      })
      const bytesOf = (path: string) =>
        Effect.promise(async () => {
          const response = await fetch(`${url}${path}`)
          return { length: response.headers.get("content-length"), bytes: new Uint8Array(await response.arrayBuffer()) }
        })
      const small = yield* bytesOf("/small")
      assert.deepStrictEqual([small.length, Array.from(small.bytes)], ["256", Array.from(everyByte)])
      const big = yield* bytesOf("/large")
      assert.deepStrictEqual([big.length, Array.from(big.bytes)], ["10000", Array.from(large)])
      const answer = yield* fetchText(`${url}/text`)
      assert.deepStrictEqual([answer.status, answer.body], [200, text])
    })
  )

  it.scopedLive("a failing handler answers 500 and its request scope is closed with the failure", () =>
    Effect.gen(function* () {
      const closed = yield* Deferred.make<Exit.Exit<unknown, unknown>>()
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: HttpLayerRouter.add(
          "GET",
          "/fail",
          Effect.zipRight(
            Effect.acquireRelease(Effect.void, (_, exit) => Deferred.succeed(closed, exit)),
            Effect.fail("no")
          )
        )
      })
      assert.strictEqual((yield* fetchText(`${url}/fail`)).status, 500)
      const exit = yield* Deferred.await(closed)
      assert.isTrue(Exit.isFailure(exit))
    })
  )

  it.scopedLive("pre-response handlers see the fiber refs the handler left, for sync and async handlers alike", () =>
    Effect.gen(function* () {
      const marked = (ms: number) =>
        Effect.gen(function* () {
          if (ms > 0) yield* Effect.sleep(ms)
          yield* FiberRef.set(Marker, `after ${ms} ms`)
          yield* HttpApp.appendPreResponseHandler((_request, response) =>
            Effect.map(FiberRef.get(Marker), (marker) => HttpServerResponse.setHeader(response, "x-marker", marker))
          )
          return HttpServerResponse.text("marked")
        })
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: Layer.mergeAll(
          HttpLayerRouter.add("GET", "/now", marked(0)),
          HttpLayerRouter.add("GET", "/later", marked(20))
        )
      })
      const now = yield* fetchText(`${url}/now`)
      const later = yield* fetchText(`${url}/later`)
      assert.deepStrictEqual(
        [now.body, now.headers.get("x-marker"), later.body, later.headers.get("x-marker")],
        ["marked", "after 0 ms", "marked", "after 20 ms"]
      )
    })
  )

  it.scopedLive("one-step handlers (succeed, sync, a response, fail) answer as any other, HEAD and failures too", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: Layer.mergeAll(
          HttpLayerRouter.add("GET", "/succeed", Effect.succeed(HttpServerResponse.text("succeed", { status: 201 }))),
          HttpLayerRouter.add(
            "GET",
            "/sync",
            Effect.sync(() => HttpServerResponse.text("sync", { headers: { "x-step": "yes" } }))
          ),
          HttpLayerRouter.add("GET", "/value", HttpServerResponse.text("value")),
          HttpLayerRouter.add("GET", "/fail", Effect.fail("no")),
          HttpLayerRouter.add(
            "GET",
            "/throws",
            Effect.sync((): HttpServerResponse.HttpServerResponse => {
              throw new Error("thrown")
            })
          )
        )
      })
      const succeed = yield* fetchText(`${url}/succeed`)
      const sync = yield* fetchText(`${url}/sync`)
      const head = yield* fetchText(`${url}/sync`, { method: "HEAD" })
      assert.deepStrictEqual(
        [
          succeed.status,
          succeed.body,
          sync.status,
          sync.body,
          sync.headers.get("x-step"),
          sync.headers.get("content-length")
        ],
        [201, "succeed", 200, "sync", "yes", "4"]
      )
      assert.deepStrictEqual([head.status, head.body, head.headers.get("x-step")], [200, "", "yes"])
      assert.strictEqual((yield* fetchText(`${url}/value`)).body, "value")
      assert.strictEqual((yield* fetchText(`${url}/fail`)).status, 500)
      assert.strictEqual((yield* fetchText(`${url}/throws`)).status, 500)
      assert.strictEqual((yield* fetchText(`${url}/sync`)).body, "sync")
    })
  )

  it.scopedLive("a response node refuses (a header with a newline) answers 500 and the server goes on", () =>
    Effect.gen(function* () {
      const bad = () => HttpServerResponse.text("bad", { headers: { "x-bad": "one\ntwo" } })
      const scope = yield* Effect.scope
      const { url } = yield* serveIn(scope, {
        routes: Layer.mergeAll(
          HttpLayerRouter.add("GET", "/step", Effect.sync(bad)),
          HttpLayerRouter.add("GET", "/fiber", Effect.map(Effect.yieldNow(), bad)),
          HttpLayerRouter.add("GET", "/ok", Effect.succeed(HttpServerResponse.text("ok")))
        )
      })
      assert.strictEqual((yield* fetchText(`${url}/step`)).status, 500)
      assert.strictEqual((yield* fetchText(`${url}/fiber`)).status, 500)
      assert.strictEqual((yield* fetchText(`${url}/ok`)).body, "ok")
    })
  )

  it.scopedLive("pre-response handlers set around the server apply to every route, one-step ones included", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { url } = yield* Effect.zipRight(
        HttpApp.appendPreResponseHandler((_request, response) =>
          Effect.succeed(HttpServerResponse.setHeader(response, "x-server", "yes"))
        ),
        serveIn(scope, {
          routes: Layer.mergeAll(
            HttpLayerRouter.add("GET", "/step", Effect.succeed(HttpServerResponse.text("step"))),
            HttpLayerRouter.add("GET", "/fiber", Effect.as(Effect.yieldNow(), HttpServerResponse.text("fiber")))
          )
        })
      )
      const step = yield* fetchText(`${url}/step`)
      const fiber = yield* fetchText(`${url}/fiber`)
      assert.deepStrictEqual(
        [step.body, step.headers.get("x-server"), fiber.body, fiber.headers.get("x-server")],
        ["step", "yes", "fiber", "yes"]
      )
    })
  )

  it.scopedLive("a client that leaves during a streamed answer interrupts it; the request scope closes", () =>
    Effect.gen(function* () {
      const closed = yield* Deferred.make<Exit.Exit<unknown, unknown>>()
      const scope = yield* Effect.scope
      const { server } = yield* serveIn(scope, {
        routes: HttpLayerRouter.add(
          "GET",
          "/forever",
          Effect.gen(function* () {
            yield* Effect.acquireRelease(Effect.void, (_, exit) => Deferred.succeed(closed, exit))
            const ticks = Stream.repeatValue("tick\n").pipe(
              Stream.schedule(Schedule.spaced("5 millis")),
              Stream.encodeText
            )
            return HttpServerResponse.stream(ticks)
          })
        )
      })
      const firstChunk = yield* Effect.async<string>((resume) => {
        const socket = Net.connect(server.address.port, "127.0.0.1", () => {
          socket.write("GET /forever HTTP/1.1\r\nHost: test\r\n\r\n")
        })
        socket.once("data", (data) => {
          socket.destroy()
          resume(Effect.succeed(data.toString()))
        })
      })
      assert.include(firstChunk, "200 OK")
      // platform's HttpApp.toHandled answers the abort (499) and closes the scope with that answer's exit
      const exit = yield* Deferred.await(closed).pipe(Effect.timeout("3 seconds"))
      assert.isTrue(Exit.isExit(exit))
    })
  )
})

describe("options", () => {
  const startWith = (options: Server.Options<never, never, never>, env?: Record<string, string>) =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const app = yield* Scope.extend(App.make({ name: "test" }), scope)
      const exit = yield* Server.serve(options).pipe(
        Effect.provideService(App.App, app),
        Logger.withMinimumLogLevel(LogLevel.None),
        Scope.extend(scope),
        env === undefined
          ? (effect) => effect
          : Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
        Effect.exit
      )
      yield* Scope.close(scope, Exit.void)
      return exit
    })

  it.live("bad options give a ServeError with a clear message", () =>
    Effect.gen(function* () {
      assert.include(serveError(yield* startWith({ port: 70000 })).message, "Invalid port 70000")
      assert.include(serveError(yield* startWith({ port: 0, gracefulShutdownTimeout: -1 })).message, "graceful")
      assert.include(serveError(yield* startWith({ port: 0 }, { PORT: "70000" })).message, "PORT")
      assert.include(serveError(yield* startWith({ port: 0 }, { PORT: "eighty" })).message, "PORT")
      assert.include(
        serveError(yield* startWith({ port: 0 }, { GRACEFUL_SHUTDOWN_TIMEOUT: "-5" })).message,
        "GRACEFUL_SHUTDOWN_TIMEOUT"
      )
      assert.include(serveError(yield* startWith({ port: 0, workers: 0 })).message, "Invalid workers 0")
    })
  )

  it.live("a start failure prints as one line: a tagged error's fields shown, no nested causes, values quoted", () =>
    Effect.gen(function* () {
      class DbDown extends Data.TaggedError("DbDown")<{ readonly host: string }> {}
      const scope = yield* Scope.make()
      const app = yield* Scope.extend(App.make({ name: "test" }), scope)
      yield* app.listener("before_server_start", Effect.fail(new DbDown({ host: "db.local" })))
      const error = serveError(
        yield* Server.serve({ port: 0 }).pipe(Effect.provideService(App.App, app), Scope.extend(scope), Effect.exit)
      )
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(
        error.message,
        `The server did not start: before_server_start listener #1 failed: DbDown { host: "db.local" }`
      )
      // what runMain prints: the error's one line (its stack is its message), and no [cause] block
      assert.deepStrictEqual(Cause.pretty(Cause.fail(error)).split("\n"), [`ServeError: ${error.message}`])
      assert.strictEqual((error.origin as { _tag: string })._tag, "StartError")

      const workers = serveError(yield* startWith({ port: 0 }, { WORKERS: "abc" }))
      assert.strictEqual(workers.message, `Invalid WORKERS setting: Expected an integer value but received "abc".`)
      assert.strictEqual(Cause.pretty(Cause.fail(workers)).split("\n").length, 1)
    })
  )

  it.live("an inspector port in use fails the start before the server listens", () =>
    Effect.gen(function* () {
      const blocker = Net.createServer()
      const busy = yield* Effect.async<number>((resume) => {
        blocker.listen(0, "127.0.0.1", () => resume(Effect.succeed((blocker.address() as Net.AddressInfo).port)))
      })
      const logged: Array<string> = []
      const logger = Logger.make(({ message }) => {
        logged.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      const port = yield* freePort
      const scope = yield* Scope.make()
      const app = yield* Scope.extend(App.make({ name: "test" }), scope)
      const exit = yield* Server.serve({ port, inspector: { port: busy } }).pipe(
        Effect.provideService(App.App, app),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Scope.extend(scope),
        Effect.exit
      )
      yield* Scope.close(scope, Exit.void)
      const error = serveError(exit)
      assert.strictEqual(error.reason, "InspectorFailed")
      assert.include(error.message, `The inspector could not listen on 127.0.0.1:${busy}`)
      assert.isFalse(
        logged.some((line) => line.includes("Listening")),
        logged.join("\n")
      )
      assert.isTrue(yield* canListen(port))
      yield* Effect.async<void>((resume) => {
        blocker.close(() => resume(Effect.void))
      })
    })
  )

  it.live("a port in use gives a ServeError and leaves the app stopped", () =>
    Effect.gen(function* () {
      const blocker = Net.createServer()
      const port = yield* Effect.async<number>((resume) => {
        blocker.listen(0, "127.0.0.1", () => resume(Effect.succeed((blocker.address() as Net.AddressInfo).port)))
      })
      const error = serveError(yield* startWith({ port }))
      assert.strictEqual(error.message, `Port ${port} on 127.0.0.1 is already in use.`)
      yield* Effect.async<void>((resume) => {
        blocker.close(() => resume(Effect.void))
      })
    })
  )

  it.scopedLive("PORT and HOST from the environment take precedence over the options", () =>
    Effect.gen(function* () {
      const port = yield* freePort
      const scope = yield* Effect.scope
      const { server } = yield* serveIn(scope, { serve: { port: 1, host: "0.0.0.0" } }).pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(
            new Map([
              ["PORT", String(port)],
              ["HOST", "127.0.0.1"]
            ])
          )
        )
      )
      assert.deepStrictEqual(server.address, { hostname: "127.0.0.1", port })
      assert.strictEqual((yield* fetchText(`http://127.0.0.1:${port}/nothing`)).status, 404)
    })
  )
})

const fixture = fileURLToPath(new URL("./fixtures/server-app.ts", import.meta.url))

interface Child {
  readonly output: () => string
  readonly url: Effect.Effect<string>
  readonly line: (text: string) => Effect.Effect<void>
  readonly exit: Effect.Effect<{ readonly code: number | null; readonly at: number }>
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
}

/** Spawns the fixture with `node` itself (npm and npx do not pass signals on) and kills it when the scope closes. */
const spawnFixture = (env: Record<string, string>, script = fixture) =>
  Effect.acquireRelease(
    Effect.sync(
      (): Child & { readonly pid: number | undefined; readonly process: import("node:child_process").ChildProcess } => {
        const child = spawn(process.execPath, ["--import", "tsx", script], {
          cwd: fileURLToPath(new URL("..", import.meta.url)),
          env: { ...process.env, PORT: "", HOST: "", GRACEFUL_SHUTDOWN_TIMEOUT: "", ...env },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let output = ""
        const listeners = new Set<() => void>()
        const onData = (data: Buffer) => {
          output += data.toString()
          for (const listener of listeners) listener()
        }
        child.stdout!.on("data", onData)
        child.stderr!.on("data", onData)
        const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
          child.on("exit", (code) => resolve({ code, at: Date.now() }))
        )
        const line = (text: string) =>
          Effect.async<void>((resume) => {
            const check = () => {
              if (output.includes(text)) {
                listeners.delete(check)
                resume(Effect.void)
              }
            }
            listeners.add(check)
            check()
            return Effect.sync(() => listeners.delete(check))
          }).pipe(
            Effect.timeoutFail({
              duration: "20 seconds",
              onTimeout: () => new Error(`fixture never printed ${JSON.stringify(text)}; output:\n${output}`)
            }),
            Effect.orDie
          )
        return {
          pid: child.pid,
          process: child,
          output: () => output,
          line,
          url: Effect.zipRight(
            line("listening "),
            Effect.sync(() => /listening (http:\/\/\S+)/.exec(output)![1]!)
          ),
          exit: Effect.promise(() => exited),
          kill: (signal) => Effect.sync(() => void child.kill(signal))
        }
      }
    ),
    (child) => Effect.sync(() => (child.process.exitCode === null ? void child.process.kill("SIGKILL") : undefined))
  )

describe("process", () => {
  it.scopedLive(
    "SIGTERM with a request in flight: the request completes, stop listeners run, exit code 0",
    () =>
      Effect.gen(function* () {
        const child = yield* spawnFixture({ SLOW: "700" })
        const url = yield* child.url
        const request = yield* Effect.fork(fetchText(`${url}/slow`))
        yield* child.line("slow:start")
        yield* child.kill("SIGTERM")
        const response = yield* request
        assert.deepStrictEqual([response.status, response.body], [200, "slow done"])
        const { code } = yield* child.exit
        assert.strictEqual(code, 0)
        const output = child.output()
        const order = ["listener:before_server_stop", "listener:after_server_stop", "listener:main_process_stop"].map(
          (line) => output.indexOf(line)
        )
        assert.isTrue(
          order.every((index) => index >= 0),
          output
        )
        assert.deepStrictEqual(
          [...order].sort((a, b) => a - b),
          order
        )
      }),
    { timeout: 40_000 }
  )

  it.scopedLive(
    "a task that ignores interruption does not keep the process past the graceful timeout",
    () =>
      Effect.gen(function* () {
        const child = yield* spawnFixture({ STUCK: "1", GRACE: "1000" })
        yield* child.url
        const signalledAt = Date.now()
        yield* child.kill("SIGTERM")
        const { at, code } = yield* child.exit
        assert.strictEqual(code, 0)
        const took = at - signalledAt
        // the 1 s grace, plus the minimum second after_server_stop listeners get, plus process exit
        assert.isBelow(took, 4_500, `exit took ${took} ms`)
        assert.include(child.output(), '"stuck"')
        assert.include(child.output(), "listener:after_server_stop")
      }),
    { timeout: 40_000 }
  )

  it.scopedLive(
    "the background-tasks example runs every snippet, serves, and stops itself with exit code 0",
    () =>
      Effect.gen(function* () {
        const example = fileURLToPath(new URL("../examples/background-tasks.ts", import.meta.url))
        const child = yield* spawnFixture({ PORT: "0" }, example)
        const { code } = yield* child.exit
        const output = child.output()
        assert.strictEqual(code, 0, output)
        for (const line of [
          'GET /tasks -> ["even_slower","slow_task"]',
          "slow_task is running",
          "slow_task is cancelled",
          'auto_inject ran in app "background-tasks"',
          'explicit_inject ran in app "background-tasks"',
          "Server successfully started!",
          "even_slower(10) done",
          "tasks: even_slower (succeeded), slow_task (cancelled)",
          "purged 2 finished tasks",
          "tasks after purge: none"
        ]) {
          assert.include(output, line)
        }
      }),
    { timeout: 40_000 }
  )

  it.live(
    "npm start with two workers stops gracefully on SIGTERM to its whole process group (as service managers send it)",
    () =>
      Effect.gen(function* () {
        const port = yield* freePort
        const root = fileURLToPath(new URL("..", import.meta.url))
        const output = yield* Effect.async<string>((resume) => {
          const child = spawn("npm", ["start"], {
            cwd: root,
            env: { ...process.env, PORT: String(port), WORKERS: "2" },
            detached: true,
            stdio: ["ignore", "pipe", "pipe"]
          })
          let text = ""
          let signalled = false
          const read = (chunk: Buffer) => {
            text += chunk
            if (!signalled && text.split("websocket feed on").length > 3) {
              signalled = true
              process.kill(-child.pid!, "SIGTERM")
            }
          }
          child.stdout!.on("data", read)
          child.stderr!.on("data", read)
          // "close": every process holding the pipes (npm, and the server under it) has exited
          child.on("close", () => resume(Effect.succeed(text)))
          return Effect.sync(() => {
            try {
              process.kill(-child.pid!, "SIGKILL")
            } catch {}
          })
        }).pipe(Effect.timeout("60 seconds"))
        // both workers ran their after_server_stop listeners
        assert.strictEqual(output.split("websocket feed stopped").length - 1, 2, output)
      }),
    { timeout: 90_000 }
  )

  it.scopedLive(
    "the scheduled-tasks example runs each policy, reports the timed-out runs, and stops itself with exit code 0",
    () =>
      Effect.gen(function* () {
        const example = fileURLToPath(new URL("../examples/scheduled-tasks.ts", import.meta.url))
        const child = yield* spawnFixture({ PORT: "0" }, example)
        const { code } = yield* child.exit
        const output = child.output()
        assert.strictEqual(code, 0, output)
        assert.include(output, "flaky-fetch: succeeded, runs 1, failures 0, attempt 3, last run succeeded")
        assert.include(
          output,
          'reported: task too-slow run 1: too-slow: A run of task "too-slow" did not end within 200ms'
        )
        // every run fails; one may be under way when the records are printed
        assert.match(output, /too-slow: running, runs [1-9]\d*, failures [1-9]\d*, attempt 1, last run failed/)
        assert.match(output, /cleanup: running, runs [3-9], failures 0, attempt 1, last run succeeded, waiting/)
        assert.match(output, /heartbeat: running, runs [1-9], failures 0/)
        assert.match(output, /digest: running, runs [1-9], failures 0/)
      }),
    { timeout: 40_000 }
  )
})
