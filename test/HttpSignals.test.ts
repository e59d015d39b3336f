import * as Http from "node:http"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Fiber, Layer, Logger, LogLevel, Scope } from "effect"
import * as App from "../src/App.js"
import type * as Events from "../src/Events.js"
import { Paths } from "../src/internal/server/paths.js"
import {
  aroundHandlerEffect,
  aroundRouterEffect,
  bit,
  HttpSignals,
  httpEvents
} from "../src/internal/server/signals.js"
import * as Server from "../src/Server.js"

type Routes = Layer.Layer<never, never, any>

/** Serves `routes` for a fresh app; `dispatched` records every `app.dispatch` the server makes (a spy, not a listener). */
const serveIn = (scope: Scope.Scope, routes: Routes) =>
  Effect.gen(function* () {
    const app = yield* App.make({ name: "signals", gracefulShutdownTimeout: 5000 })
    const dispatched: Array<string> = []
    const served: App.AppService = {
      ...app,
      dispatch: (event, options) => {
        dispatched.push(event)
        return app.dispatch(event, options)
      }
    }
    const server = yield* Server.serve({ port: 0, host: "127.0.0.1", routes }).pipe(
      Effect.provideService(App.App, served)
    ) as Effect.Effect<Server.ServerService, Server.ServeError, Scope.Scope>
    return { app, dispatched, url: server.url }
  }).pipe(Scope.extend(scope), Logger.withMinimumLogLevel(LogLevel.None))

/** One request on a connection of its own (no agent: node's client sends `connection: close`). */
const request = (url: string, options: { readonly method?: string; readonly body?: string } = {}) =>
  Effect.async<{ status: number; body: string; headers: Http.IncomingHttpHeaders }, Error>((resume) => {
    const client = Http.request(url, { method: options.method ?? "GET", agent: false }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () =>
        resume(
          Effect.succeed({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            headers: response.headers
          })
        )
      )
    })
    client.on("error", (error) => resume(Effect.fail(error)))
    client.end(options.body)
  })

const echo = HttpLayerRouter.add(
  "POST",
  "/echo/:name",
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const text = yield* request.text
    return HttpServerResponse.text(`echo:${text}`)
  })
)
const hello = HttpLayerRouter.add("GET", "/", Effect.succeed(HttpServerResponse.text("hello")))
const failing = HttpLayerRouter.add("GET", "/fail", Effect.die(new Error("boom")))
const passThrough = HttpLayerRouter.middleware((effect) => effect, { global: true })

const requestOf = (context: Events.EventContext) => context.request as HttpServerRequest.HttpServerRequest

describe("HTTP signals", () => {
  it.scopedLive("test_signals_triggered: every HTTP signal fires once, in Sanic's order, with its context", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { app, url } = yield* serveIn(scope, Layer.mergeAll(echo, passThrough))
      const fired: Array<string> = []
      const contexts = new Map<string, Events.EventContext>()
      const completed = yield* Deferred.make<void>()
      for (const event of httpEvents) {
        if (event === "server.exception.report") continue
        yield* app.signal(event, (context) =>
          Effect.sync(() => {
            fired.push(event)
            contexts.set(event, context)
            if (event === "http.lifecycle.complete") Deferred.unsafeDone(completed, Effect.void)
          })
        )
      }
      const response = yield* request(`${url}/echo/ann`, { method: "POST", body: "hi" })
      assert.strictEqual(response.body, "echo:hi")
      yield* Deferred.await(completed).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(fired, [
        "http.lifecycle.begin",
        "http.lifecycle.request",
        "http.lifecycle.handle",
        "http.routing.before",
        "http.routing.after",
        "http.middleware.before",
        "http.handler.before",
        "http.lifecycle.read_body",
        "http.handler.after",
        "http.middleware.after",
        "http.lifecycle.response",
        "http.lifecycle.send",
        "http.lifecycle.complete"
      ])
      const begin = contexts.get("http.lifecycle.begin")!.conn_info as Record<string, unknown>
      assert.strictEqual(begin.client_ip, "127.0.0.1")
      assert.strictEqual(contexts.get("http.lifecycle.complete")!.conn_info, begin)
      for (const event of ["http.lifecycle.request", "http.lifecycle.handle", "http.routing.before"]) {
        assert.strictEqual(requestOf(contexts.get(event)!).url, "/echo/ann", event)
      }
      assert.strictEqual(String((contexts.get("http.lifecycle.read_body")!.body as Buffer).toString()), "hi")
      const handled = contexts.get("http.handler.after")!.response as HttpServerResponse.HttpServerResponse
      assert.strictEqual(handled.status, 200)
      assert.isUndefined(contexts.get("http.middleware.before")!.response)
      assert.strictEqual(contexts.get("http.middleware.after")!.response, handled)
      assert.strictEqual(contexts.get("http.lifecycle.response")!.response, handled)
      assert.strictEqual(Buffer.from(contexts.get("http.lifecycle.send")!.data as Uint8Array).toString(), "echo:hi")
    })
  )

  it.scopedLive("http.routing.after carries the route, its parameters (kwargs) and its handler", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { app, url } = yield* serveIn(scope, echo)
      const routed: Array<Events.EventContext> = []
      yield* app.signal("http.routing.after", (context) => Effect.sync(() => routed.push(context)))
      assert.strictEqual((yield* request(`${url}/echo/bo`, { method: "POST", body: "x" })).body, "echo:x")
      assert.strictEqual(routed.length, 1)
      const route = routed[0].route as HttpLayerRouter.Route<unknown, unknown>
      assert.strictEqual(route.method, "POST")
      assert.strictEqual(route.path, "/echo/:name")
      assert.deepStrictEqual(routed[0].kwargs, { name: "bo" })
      assert.strictEqual(routed[0].handler, route.handler)
      assert.strictEqual(requestOf(routed[0]).url, "/echo/bo")

      // No route: routing.after is not dispatched (Sanic's router raises NotFound before it).
      assert.strictEqual((yield* request(`${url}/nowhere`)).status, 404)
      assert.strictEqual(routed.length, 1)
    })
  )

  it.scopedLive("test_add_signal_method_handler: a handler on http.routing.after runs once per request", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { app, url } = yield* serveIn(scope, hello)
      let counter = 0
      yield* app.signal("http.routing.after", () =>
        Effect.sync(() => {
          counter++
        })
      )
      assert.strictEqual((yield* request(`${url}/`)).body, "hello")
      assert.strictEqual(counter, 1)
    })
  )

  it.scopedLive(
    "test_report_exception_runs: a failing handler dispatches http.lifecycle.exception and server.exception.report once each",
    () =>
      Effect.gen(function* () {
        const scope = yield* Effect.scope
        const { app, dispatched, url } = yield* serveIn(scope, Layer.mergeAll(hello, failing))
        const exceptions: Array<Events.EventContext> = []
        const reports: Array<Events.EventContext> = []
        const reported = yield* Deferred.make<void>()
        yield* app.signal("http.lifecycle.exception", (context) => Effect.sync(() => exceptions.push(context)))
        yield* app.signal("server.exception.report", (context) =>
          Effect.sync(() => {
            reports.push(context)
            Deferred.unsafeDone(reported, Effect.void)
          })
        )
        const response = yield* request(`${url}/fail`)
        assert.strictEqual(response.status, 500)
        yield* Deferred.await(reported).pipe(Effect.timeout("5 seconds"))
        // A request after it: whatever the first one reported has been dispatched by the time this one is answered.
        assert.strictEqual((yield* request(`${url}/`)).body, "hello")

        assert.strictEqual(exceptions.length, 1)
        assert.strictEqual(requestOf(exceptions[0]).url, "/fail")
        assert.strictEqual((exceptions[0].exception as Error).message, "boom")
        assert.isTrue(Cause.isCause(exceptions[0].cause))

        assert.strictEqual(dispatched.filter((event) => event === "server.exception.report").length, 1)
        assert.strictEqual(reports.length, 1)
        assert.strictEqual(requestOf(reports[0]).url, "/fail")
        const cause = reports[0].cause as Cause.Cause<unknown>
        assert.isTrue(Cause.isCause(cause))
        assert.strictEqual((Cause.squash(cause) as Error).message, "boom")
      })
  )

  it.scopedLive(
    "test_report_exception_runs_once_inline: a failing http.routing.after handler is reported once, the request still answered",
    () =>
      Effect.gen(function* () {
        const scope = yield* Effect.scope
        const { app, dispatched, url } = yield* serveIn(scope, hello)
        const reports: Array<Events.EventContext> = []
        const reported = yield* Deferred.make<void>()
        yield* app.signal("server.exception.report", (context) =>
          Effect.sync(() => {
            reports.push(context)
            Deferred.unsafeDone(reported, Effect.void)
          })
        )
        yield* app.signal("http.routing.after", () => Effect.die(new Error("after routing")))
        // fiberapp: a signal handler never fails its dispatcher, so the request is answered (Sanic answers 500).
        assert.strictEqual((yield* request(`${url}/`)).body, "hello")
        yield* Deferred.await(reported).pipe(Effect.timeout("5 seconds"))
        assert.strictEqual((yield* request(`${url}/nowhere`)).status, 404)
        assert.strictEqual(dispatched.filter((event) => event === "server.exception.report").length, 0)
        assert.strictEqual(reports.length, 1)
        assert.strictEqual(reports[0].event, "http.routing.after")
        assert.strictEqual((Cause.squash(reports[0].cause as Cause.Cause<unknown>) as Error).message, "after routing")
      })
  )

  it.scopedLive("a handler of http.lifecycle.request can change the answer through a pre-response handler", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { app, url } = yield* serveIn(scope, hello)
      const seen: Array<string | undefined> = []
      yield* app.signal("http.lifecycle.request", () =>
        HttpApp.appendPreResponseHandler((_request, response) =>
          Effect.succeed(HttpServerResponse.setHeader(response, "x-signal", "yes"))
        )
      )
      yield* app.signal("http.lifecycle.response", (context) =>
        Effect.sync(() => seen.push((context.response as HttpServerResponse.HttpServerResponse).headers["x-signal"]))
      )
      const response = yield* request(`${url}/`)
      assert.strictEqual(response.body, "hello")
      assert.strictEqual(response.headers["x-signal"], "yes")
      assert.deepStrictEqual(seen, ["yes"])
    })
  )

  it.scopedLive("nothing is dispatched when nothing listens: matched, unmatched, failing, with a body", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const { app, dispatched, url } = yield* serveIn(scope, Layer.mergeAll(hello, failing, echo, passThrough))
      assert.strictEqual((yield* request(`${url}/`)).body, "hello")
      assert.strictEqual((yield* request(`${url}/nowhere`)).status, 404)
      assert.strictEqual((yield* request(`${url}/fail`)).status, 500)
      assert.strictEqual((yield* request(`${url}/echo/x`, { method: "POST", body: "b" })).body, "echo:b")
      assert.deepStrictEqual(dispatched, [])

      // And the same server dispatches once something listens.
      const remove = yield* app.signal("http.lifecycle.handle", () => Effect.void)
      assert.strictEqual((yield* request(`${url}/`)).body, "hello")
      assert.deepStrictEqual(dispatched, ["http.lifecycle.handle"])
      yield* remove
      assert.strictEqual((yield* request(`${url}/`)).body, "hello")
      assert.deepStrictEqual(dispatched, ["http.lifecycle.handle"])
    })
  )

  it.scopedLive("a request answers the same with and without a listener: prefixes, route and global middleware", () =>
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const tagged = HttpLayerRouter.middleware((effect) =>
        Effect.map(effect, (response) => HttpServerResponse.setHeader(response, "x-route", "yes"))
      ).layer
      const prefixed = HttpLayerRouter.use((router) =>
        router
          .prefixed("/api")
          .addAll([
            HttpLayerRouter.route("GET", "/item/:id", (request) =>
              Effect.succeed(HttpServerResponse.text(`item at ${request.url}`))
            )
          ])
      ).pipe(Layer.provide(tagged))
      const global = HttpLayerRouter.middleware(
        (effect) => Effect.map(effect, (response) => HttpServerResponse.setHeader(response, "x-global", "yes")),
        { global: true }
      )
      const { app, dispatched, url } = yield* serveIn(scope, Layer.mergeAll(hello, prefixed, global))
      const answers = Effect.all([request(`${url}/api/item/7`), request(`${url}/`), request(`${url}/nowhere`)]).pipe(
        Effect.map((responses) =>
          responses.map(({ body, headers, status }) => ({
            status,
            body,
            route: headers["x-route"],
            global: headers["x-global"]
          }))
        )
      )
      const plain = yield* answers
      assert.deepStrictEqual(plain[0], { status: 200, body: "item at /item/7", route: "yes", global: "yes" })
      assert.deepStrictEqual(plain[1], { status: 200, body: "hello", route: undefined, global: "yes" })
      assert.strictEqual(plain[2].status, 404)
      assert.deepStrictEqual(dispatched, [])

      yield* app.signal("http.handler.before", () => Effect.void)
      assert.deepStrictEqual(yield* answers, plain)
      assert.deepStrictEqual(dispatched, ["http.handler.before", "http.handler.before"])
    })
  )

  it.scoped("with no listener a request builds nothing: the router's and the route's own effects run as they are", () =>
    Effect.gen(function* () {
      const app = yield* App.make({ name: "flags" })
      const signals = new HttpSignals(app)
      const paths = new Paths({})
      const httpEffect = Effect.succeed(HttpServerResponse.text("as is"))
      assert.strictEqual(signals.flags(), 0)
      assert.strictEqual(aroundRouterEffect(signals, paths, httpEffect, signals.flags()), httpEffect)
      assert.strictEqual(aroundHandlerEffect(signals, httpEffect, signals.flags()), httpEffect)

      const remove = yield* app.signal("http.routing.after", () => Effect.void)
      assert.strictEqual(signals.flags(), bit("http.routing.after"))
      assert.notStrictEqual(aroundRouterEffect(signals, paths, httpEffect, signals.flags()), httpEffect)
      assert.strictEqual(aroundHandlerEffect(signals, httpEffect, signals.flags()), httpEffect)
      yield* remove
      assert.strictEqual(signals.flags(), 0)

      // A dynamic name in a built-in group listens to every event of the group it matches.
      const removeGroup = yield* app.signal("http.handler.<phase>", () => Effect.void)
      assert.strictEqual(signals.flags(), bit("http.handler.before") | bit("http.handler.after"))
      assert.notStrictEqual(aroundHandlerEffect(signals, httpEffect, signals.flags()), httpEffect)
      yield* removeGroup
      assert.strictEqual(signals.flags(), 0)
      const waiting = yield* Effect.fork(app.event("http.lifecycle.*"))
      yield* Effect.yieldNow()
      assert.isTrue((signals.flags() & bit("http.lifecycle.send")) !== 0)
      yield* Fiber.interrupt(waiting)
      assert.strictEqual(signals.flags(), 0)
    })
  )
})
