/** fiberapp's websocket echo: a `WebSocket.route` whose handler receives and sends until the peer closes. */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel } from "effect"
import * as App from "../../src/App.js"
import * as Server from "../../src/Server.js"
import * as WebSocket from "../../src/WebSocket.js"
import { announce, host, port } from "../lib/server.js"

const Echo = WebSocket.route("/ws", (connection) =>
  Effect.forever(Effect.flatMap(connection.receive, connection.send)).pipe(
    Effect.catchTag("WebSocketClosed", () => Effect.void)
  )
)

const Announce = Layer.effectDiscard(Effect.map(Server.Server, (server) => announce(server.address.port)))

const Main = Announce.pipe(
  Layer.provide(Server.layer({ port: port(), host, routes: Echo })),
  Layer.provide(App.layer({ name: "bench" })),
  Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
)

NodeRuntime.runMain(Layer.launch(Main))
