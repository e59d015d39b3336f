/**
 * Baseline: stock `@effect/platform` `HttpLayerRouter.serve` on `NodeHttpServer`, one route. The
 * per-request logger is disabled: with it every request writes a log line to stdout.
 */
import { createServer } from "node:http"
import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { layerAnnounce } from "../lib/effect-server.js"
import { helloBody, host, port } from "../lib/server.js"

const Hello = HttpLayerRouter.add(
  "GET",
  "/",
  Effect.sync(() => HttpServerResponse.text(helloBody))
)

const Main = HttpLayerRouter.serve(Hello, { disableLogger: true, disableListenLog: true }).pipe(
  Layer.merge(layerAnnounce),
  Layer.provide(NodeHttpServer.layer(createServer, { port: port(), host }))
)

NodeRuntime.runMain(Layer.launch(Main))
