/** Baseline: stock `@effect/platform` websocket echo: `HttpServerRequest.upgrade`, `Socket.runRaw`, `writer`. */
import { createServer } from "node:http"
import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { layerAnnounce } from "../lib/effect-server.js"
import { host, port } from "../lib/server.js"

const Echo = HttpLayerRouter.add(
  "GET",
  "/ws",
  Effect.gen(function* () {
    const socket = yield* HttpServerRequest.upgrade
    const write = yield* socket.writer
    yield* socket.runRaw(write)
    return HttpServerResponse.empty()
  }).pipe(Effect.scoped)
)

const Main = HttpLayerRouter.serve(Echo, { disableLogger: true, disableListenLog: true }).pipe(
  Layer.merge(layerAnnounce),
  Layer.provide(NodeHttpServer.layer(createServer, { port: port(), host }))
)

NodeRuntime.runMain(Layer.launch(Main))
