/**
 * The websocket feed from Sanic's background-tasks guide, on fiberapp.
 *
 *   PORT=8080 npm start
 *
 * - `GET /feed` (websocket): each connection adds a named receiver task `receiver:<request id>` that prints what
 *   the client sends, then sends "A message" every time `my.custom.event` is dispatched. When the client goes
 *   away the handler cancels its receiver and purges finished tasks.
 * - `POST /notify` dispatches `my.custom.event` to every worker (204).
 * - `GET /tasks` lists the app's recorded tasks as `[{ name, status }]`.
 */

import { pathToFileURL } from "node:url"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Layer, Stream } from "effect"
import { App, Server, WebSocket } from "../src/index.js"

const receiver = (ws: WebSocket.Connection) =>
  ws.messages.pipe(Stream.runForEach((message) => Console.log(`Received: ${String(message)}`)))

const feed = (ws: WebSocket.Connection) =>
  Effect.gen(function* () {
    const app = yield* App.App
    const taskName = `receiver:${ws.id}`
    yield* app.addTask(receiver(ws), { name: taskName })
    yield* Effect.forever(Effect.zipRight(app.event("my.custom.event"), ws.send("A message"))).pipe(
      // When the websocket closes, let's clean up the task.
      Effect.ensuring(Effect.zipRight(Effect.ignore(app.cancelTask(taskName)), app.purgeTasks))
    )
  })

/**
 * The example's routes, for tests and for serving.
 */
export const routes = Layer.mergeAll(
  WebSocket.route("/feed", feed),
  HttpLayerRouter.add(
    "POST",
    "/notify",
    // scope: "all" reaches the feeds of every worker when serving with WORKERS=N.
    Effect.zipRight(
      App.dispatch("my.custom.event", { scope: "all" }),
      Effect.succeed(HttpServerResponse.empty({ status: 204 }))
    )
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
  Effect.flatMap(Server.Server, (server) =>
    Console.log(`websocket feed on ${server.url.replace("http", "ws")}/feed (POST ${server.url}/notify)`)
  )
).pipe(Layer.provideMerge(Server.layer({ routes, port: 8000 })), Layer.provide(App.layer({ name: "websocket-feed" })))

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  Layer.launch(main).pipe(NodeRuntime.runMain)
}
