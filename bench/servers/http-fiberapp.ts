/**
 * fiberapp's server: `Server.layer` with one `HttpLayerRouter` route whose handler is an Effect. Requests to
 * any other path get the router's 404. `WORKERS` sets `workers` (the workers case); while the server does not
 * support more than one, it prints a skip line instead of serving.
 *
 * `HANDLER=sync` (the default) answers with an `Effect.sync`; `HANDLER=gen` from an `Effect.gen` that reads `App`, its
 * state and the request; `HANDLER=fiber` reads a fiber ref as well; `HANDLER=async` waits one real async step
 * (`Effect.sleep(0)`, a timer) first. Every request runs in a fiber of its own. `METRICS=off` makes the app with
 * `metrics: false` (what the app's metrics cost).
 */
import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, FiberRef, Layer, Logger, LogLevel } from "effect"
import * as App from "../../src/App.js"
import * as Server from "../../src/Server.js"
import { announce, helloBody, host, port } from "../lib/server.js"

const workers = Number(process.env.WORKERS ?? 1)

const handlers = {
  sync: Effect.sync(() => HttpServerResponse.text(helloBody)),
  gen: Effect.gen(function* () {
    const app = yield* App.App
    const request = yield* HttpServerRequest.HttpServerRequest
    if ((yield* app.state) !== "serving" || request.method !== "GET") return HttpServerResponse.empty({ status: 503 })
    return HttpServerResponse.text(helloBody)
  }),
  fiber: Effect.gen(function* () {
    const app = yield* App.App
    const request = yield* HttpServerRequest.HttpServerRequest
    const level = yield* FiberRef.get(FiberRef.currentMinimumLogLevel)
    if ((yield* app.state) !== "serving" || request.method !== "GET" || level === LogLevel.All) {
      return HttpServerResponse.empty({ status: 503 })
    }
    return HttpServerResponse.text(helloBody)
  }),
  async: Effect.zipRight(
    Effect.sleep(0),
    Effect.sync(() => HttpServerResponse.text(helloBody))
  )
}
const handler = process.env.HANDLER ?? "sync"
if (handler !== "sync" && handler !== "gen" && handler !== "fiber" && handler !== "async") {
  throw new Error(`HANDLER must be "sync", "gen", "fiber" or "async", not ${handler}`)
}

const Routes = HttpLayerRouter.add("GET", "/", handlers[handler])

const Announce = Layer.effectDiscard(Effect.map(Server.Server, (server) => announce(server.address.port)))

const Main = Announce.pipe(
  Layer.provide(Server.layer({ port: port(), host, routes: Routes, workers })),
  Layer.provide(App.layer({ name: "bench", metrics: process.env.METRICS !== "off" })),
  Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
)

const program = Layer.launch(Main).pipe(
  Effect.catchTag("ServeError", (error) =>
    workers > 1 && /workers/.test(error.message)
      ? Effect.sync(() => process.stdout.write(`${JSON.stringify({ skip: `not yet available (${error.message})` })}\n`))
      : Effect.fail(error)
  )
)

NodeRuntime.runMain(program)
