/**
 * Websocket routes. `WebSocket.route(path, handler)` declares a route on `@effect/platform`'s `HttpLayerRouter`;
 * the handler gets a small {@link Connection} and runs as a fiber of the server: it is interrupted when the peer
 * goes away or the server stops (the peer then sees close code 1001).
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { App, Server, WebSocket } from "fiberapp"
 *
 * // echoes every message until the peer closes
 * const echo = WebSocket.route("/echo", (ws) =>
 *   Effect.forever(Effect.flatMap(ws.receive, (message) => ws.send(message)))
 * )
 *
 * Server.layer({ routes: echo, port: 8000 }).pipe(
 *   Layer.provide(App.layer({ name: "echo" })),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { Duration, Effect, Layer, Stream } from "effect"
import * as internal from "./internal/server/websocket.js"
import * as errors from "./internal/server/websocketErrors.js"

/**
 * A message as it arrives: text frames as strings, binary frames as bytes.
 *
 * @since 0.1.0
 * @category models
 */
export type Message = string | Uint8Array

/**
 * One websocket connection, as a websocket route's handler sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** The upgrade request; `id` is the same request id as {@link Connection.id}. */
  readonly request: HttpServerRequest.HttpServerRequest
  /** The request id of the upgrade request. */
  readonly id: string
  readonly headers: Headers.Headers
  /** The next message. Fails with `WebSocketClosed` once the connection is closed and no message is left. */
  readonly receive: Effect.Effect<Message, WebSocketClosed>
  /** Every message until the connection closes. */
  readonly messages: Stream.Stream<Message>
  /**
   * Sends a text (string) or binary (bytes) message. Returns once the message is queued, or, when more than
   * `maxBufferedBytes` are waiting to be written, once it has been written to the socket.
   */
  readonly send: (message: Message) => Effect.Effect<void, WebSocketClosed>
  /** Starts the closing handshake and waits for it to end. Defaults to code 1000. */
  readonly close: (code?: number, reason?: string) => Effect.Effect<void>
  /** Waits until the connection is closed, by either side, and tells how. */
  readonly closed: Effect.Effect<WebSocketClosed>
}

/**
 * Limits for websocket connections; `Server.layer({ websocket: { ... } })` sets them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The largest message accepted, in bytes; a larger one closes the connection with 1009. Default 1 MiB. */
  readonly maxMessageSize?: number | undefined
  /**
   * How many bytes may wait in a connection's outgoing buffer before `send` waits for the socket to take them.
   * Default 1 MiB.
   */
  readonly maxBufferedBytes?: number | undefined
  /** How many received messages may wait for `receive` before reading from the socket pauses. Default 64. */
  readonly maxQueuedMessages?: number | undefined
  /**
   * How often to ping every connection; a connection that has not answered the previous ping by the next one is
   * dropped. `false` disables pings. Default 20 seconds (as Sanic).
   */
  readonly pingInterval?: Duration.DurationInput | false | undefined
}

/**
 * The connection is closed. `code` is the close code (1005 when the peer gave none, 1006 when the connection
 * dropped without a closing handshake).
 *
 * @since 0.1.0
 * @category errors
 */
export const WebSocketClosed: typeof errors.WebSocketClosed = errors.WebSocketClosed

/**
 * The type of a `WebSocketClosed` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type WebSocketClosed = errors.WebSocketClosed

/**
 * Declares a websocket route. A `GET` to `path` carrying a websocket upgrade runs `handler` with the connection;
 * any other request to it gets 426 Upgrade Required. When the handler ends the connection is closed with 1000
 * (1011 if the handler failed); `websocket.handler.before`, `websocket.handler.after` and
 * `websocket.handler.exception` are dispatched on the app around it when something listens.
 *
 * @since 0.1.0
 * @category constructors
 */
export const route = <E, R>(
  path: HttpLayerRouter.PathInput,
  handler: (connection: Connection) => Effect.Effect<unknown, E, R>
): Layer.Layer<
  never,
  never,
  HttpLayerRouter.HttpRouter | HttpLayerRouter.Request.From<"Requires", Exclude<R, HttpLayerRouter.Provided>>
> => internal.route(path, handler)

/**
 * Takes over the current request as a websocket connection and runs `handler` with it, for routes that decide
 * themselves whether to upgrade. Answers 426 Upgrade Required when the request is not a websocket upgrade.
 *
 * @since 0.1.0
 * @category constructors
 */
export const upgrade = <A, E, R>(
  handler: (connection: Connection) => Effect.Effect<A, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | HttpServerRequest.HttpServerRequest> =>
  internal.upgrade(handler)
