/**
 * The websocket feed from Sanic's background-tasks guide, on fiberapp.
 *
 *   PORT=8080 npm start        (node --import tsx examples/websocket-feed.ts)
 *
 * Run it with `node --import tsx`, not the `tsx` command: on SIGTERM to the process group (service managers, some
 * shells' Ctrl-C) `tsx` relays the signal to its child and kills it 30 ms later, cutting the graceful stop short.
 *
 * - `GET /feed` (websocket): each connection adds a named receiver task `receiver:<request id>` that prints what
 *   the client sends, then sends "A message" for every dispatch of `my.custom.event`, read from `app.events`, so
 *   that none is missed while a send is under way. When the client goes away the handler cancels its receiver and
 *   purges finished tasks.
 * - `GET /feed-sanic` (websocket): the guide's own loop, `app.event` then send. It misses the dispatches made while
 *   it sends (a waiter wakes once, for the next dispatch): three back-to-back may give one message.
 * - `POST /notify` dispatches `my.custom.event` to every worker (204); `?times=N` dispatches it N times in a row.
 * - `GET /tasks` lists the app's recorded tasks as `[{ name, status }]`.
 */

import { pathToFileURL } from "node:url"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Layer, Stream } from "effect"
import { App, Server, WebSocket } from "../src/index.js"

const receiver = (ws: WebSocket.Connection) =>
  ws.messages.pipe(Stream.runForEach((message) => Console.log(`Received: ${String(message)}`)))

/** Adds the receiver task, runs `send` until the client goes away, then cleans up. */
const withReceiver = <E>(ws: WebSocket.Connection, send: (app: App.AppService) => Effect.Effect<void, E>) =>
  Effect.gen(function* () {
    const app = yield* App.App
    const taskName = `receiver:${ws.id}`
    yield* app.addTask(receiver(ws), { name: taskName })
    yield* send(app).pipe(
      // When the websocket closes, let's clean up the task.
      Effect.ensuring(Effect.zipRight(Effect.ignore(app.cancelTask(taskName)), app.purgeTasks))
    )
  })

// Every dispatch, in order, buffered while a send is under way.
const feed = (ws: WebSocket.Connection) =>
  withReceiver(ws, (app) => Stream.runForEach(app.events("my.custom.event"), () => ws.send("A message")))

// Sanic's loop, as the guide writes it: a dispatch made while `ws.send` runs is not seen.
const feedSanic = (ws: WebSocket.Connection) =>
  withReceiver(ws, (app) => Effect.forever(Effect.zipRight(app.event("my.custom.event"), ws.send("A message"))))

/**
 * The example's routes, for tests and for serving.
 */
export const routes = Layer.mergeAll(
  WebSocket.route("/feed", feed),
  WebSocket.route("/feed-sanic", feedSanic),
  HttpLayerRouter.add(
    "POST",
    "/notify",
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const times = Number(new URL(request.url, "http://localhost").searchParams.get("times") ?? 1)
      // scope: "all" reaches the feeds of every worker when serving with WORKERS=N.
      for (let i = 0; i < times; i++) yield* App.dispatch("my.custom.event", { scope: "all" })
      return HttpServerResponse.empty({ status: 204 })
    })
  ),
  HttpLayerRouter.add(
    "GET",
    "/tasks",
    Effect.flatMap(App.tasks, (tasks) =>
      HttpServerResponse.json(tasks.map((task) => ({ name: task.name, status: task.unsafeStatus() })))
    )
  )
)

/**
 * The served feed: `PORT` and `HOST` from the environment, 8000 on 127.0.0.1 otherwise.
 */
export const main = Layer.effectDiscard(
  Effect.gen(function* () {
    const server = yield* Server.Server
    yield* Console.log(`websocket feed on ${server.url.replace("http", "ws")}/feed (POST ${server.url}/notify)`)
    yield* App.listener("after_server_stop", Console.log("websocket feed stopped"))
  })
).pipe(Layer.provideMerge(Server.layer({ routes, port: 8000 })), Layer.provide(App.layer({ name: "websocket-feed" })))

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  Layer.launch(main).pipe(NodeRuntime.runMain)
}
