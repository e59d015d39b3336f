import type { Duplex } from "node:stream"
import type * as Headers from "@effect/platform/Headers"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as WS from "ws"
import type { AppService } from "../../App.js"
import type { Connection, Message, Options } from "../../WebSocket.js"
import { hooksOf } from "../hooks.js"
import * as Metrics from "../metrics/definitions.js"
import { handshake, ServerRequest } from "./request.js"
import { WebSocketClosed } from "./websocketErrors.js"

export interface ResolvedOptions {
  readonly maxMessageSize: number
  readonly maxBufferedBytes: number
  readonly maxQueuedMessages: number
  readonly pingIntervalMillis: number | undefined
}

export const resolveOptions = (options: Options | undefined): ResolvedOptions => ({
  maxMessageSize: options?.maxMessageSize ?? 1024 * 1024,
  maxBufferedBytes: options?.maxBufferedBytes ?? 1024 * 1024,
  maxQueuedMessages: options?.maxQueuedMessages ?? 64,
  pingIntervalMillis:
    options?.pingInterval === false ? undefined : Duration.toMillis(options?.pingInterval ?? "20 seconds")
})

/** The fiber id that interrupts a websocket handler whose peer closed the connection. */
export const peerClosedFiberId: FiberId.FiberId = FiberId.runtime(-2, 0)

/** Server-wide websocket state, shared by every upgrade request of one server. */
export class Hub {
  readonly wss: WS.WebSocketServer
  readonly connections = new Set<ConnectionImpl>()
  shuttingDown = false

  constructor(
    readonly app: AppService,
    readonly options: ResolvedOptions
  ) {
    this.wss = new WS.WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxMessageSize
    })
  }

  /** Pings every connection at the ping interval, forever: the server runs it in a fiber until it drains. */
  get heartbeat(): Effect.Effect<void> {
    const millis = this.options.pingIntervalMillis
    if (millis === undefined || millis <= 0) return Effect.void
    const ping = Effect.sync(() => {
      for (const connection of this.connections) connection.heartbeat()
    })
    const interval = Duration.millis(millis)
    return Effect.asVoid(Effect.delay(Effect.repeat(ping, Schedule.spaced(interval)), interval))
  }

  /** Drops every connection still open, without a closing handshake. */
  terminate(): void {
    for (const connection of this.connections) connection.ws.terminate()
  }
}

export class ConnectionImpl implements Connection {
  readonly receive: Effect.Effect<Message, WebSocketClosed>
  readonly messages: Stream.Stream<Message>
  readonly closed: Effect.Effect<WebSocketClosed>
  /** Received messages not yet read; once the socket closes, reading them ends with the close. */
  private readonly mailbox = Effect.runSync(Mailbox.make<Message, WebSocketClosed>())
  private readonly closedLatch = Effect.runSync(Deferred.make<WebSocketClosed>())
  private queued = 0
  private paused = false
  /** How many reads the handler itself has waiting: a handler reading learns of the close from its failure. */
  private handlerReads = 0
  closedWith: WebSocketClosed | undefined = undefined
  closingBySelf = false
  alive = true
  private corked = false
  private readonly socket: Duplex | undefined
  private readonly uncork = () => {
    this.corked = false
    this.socket!.uncork()
  }

  constructor(
    readonly ws: WS.WebSocket,
    readonly request: ServerRequest,
    private readonly options: ResolvedOptions,
    private readonly handlerFiber: Fiber.RuntimeFiber<unknown, unknown>
  ) {
    this.socket = request.upgradeContext?.socket
    ws.on("message", (data: Buffer, isBinary: boolean) => this.onMessage(isBinary ? data : data.toString()))
    ws.on("pong", () => {
      this.alive = true
    })
    ws.on("error", () => {})
    ws.on("close", (code: number, reason: Buffer) => this.onClose(code, reason.toString()))

    const taken = Effect.tap(
      Effect.catchTag(this.mailbox.take, "NoSuchElementException", () =>
        Effect.fail(this.closedWith ?? new WebSocketClosed({ code: 1005, reason: "" }))
      ),
      () => Effect.sync(() => this.taken())
    )
    this.receive = Effect.withFiberRuntime<Message, WebSocketClosed>((fiber) => {
      if (fiber !== this.handlerFiber) return taken
      this.handlerReads++
      return Effect.ensuring(
        taken,
        Effect.sync(() => {
          this.handlerReads--
        })
      )
    })

    this.messages = Stream.repeatEffectOption(Effect.mapError(this.receive, () => Option.none()))
    this.closed = Deferred.await(this.closedLatch)
  }

  get id(): string {
    return this.request.id
  }

  get headers(): Headers.Headers {
    return this.request.headers
  }

  private taken(): void {
    this.queued--
    if (this.paused && this.queued <= this.options.maxQueuedMessages >> 1) {
      this.paused = false
      this.ws.resume()
    }
  }

  private onMessage(message: Message): void {
    this.alive = true
    this.queued++
    this.mailbox.unsafeOffer(message)
    if (!this.paused && this.queued >= this.options.maxQueuedMessages) {
      this.paused = true
      this.ws.pause()
    }
  }

  private onClose(code: number, reason: string): void {
    const closed = new WebSocketClosed({ code, reason })
    this.closedWith = closed
    this.mailbox.unsafeDone(Exit.fail(closed))
    Deferred.unsafeDone(this.closedLatch, Exit.succeed(closed))
    // A handler blocked in `receive` learns of the close from its failure; one blocked elsewhere is interrupted,
    // as Sanic cancels the handler of a closed websocket.
    if (!this.closingBySelf && this.handlerReads === 0) {
      this.handlerFiber.unsafeInterruptAsFork(peerClosedFiberId)
    }
  }

  heartbeat(): void {
    if (this.ws.readyState !== WS.WebSocket.OPEN) return
    if (!this.alive) {
      this.ws.terminate()
      return
    }
    // While reading is paused for back-pressure, pongs sit unread: that says nothing about the peer.
    this.alive = this.paused
    this.ws.ping()
  }

  readonly send = (message: Message): Effect.Effect<void, WebSocketClosed> =>
    Effect.suspend(() => {
      const ws = this.ws
      if (ws.readyState !== WS.WebSocket.OPEN) {
        return Exit.fail(this.closedWith ?? new WebSocketClosed({ code: 1006, reason: "the connection is closing" }))
      }
      // While received messages wait to be read, more sends are likely in this tick: they leave in one write.
      if (!this.corked && this.queued > 0 && this.socket !== undefined) {
        this.corked = true
        this.socket.cork()
        process.nextTick(this.uncork)
      }
      if (ws.bufferedAmount < this.options.maxBufferedBytes) {
        ws.send(message)
        return Exit.void
      }
      return Effect.async<void, WebSocketClosed>((resume) => {
        ws.send(message, (error) => {
          if (error === undefined || error === null) resume(Exit.void)
          else resume(Exit.fail(this.closedWith ?? new WebSocketClosed({ code: 1006, reason: error.message })))
        })
      })
    })

  readonly close = (code = 1000, reason = ""): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (this.closedWith !== undefined) return Effect.void
      this.closingBySelf = true
      try {
        this.ws.close(code, reason)
      } catch (error) {
        return Effect.die(error)
      }
      return Effect.asVoid(this.closed)
    })

  /** Closes without waiting for the peer, for the end of the handler. */
  unsafeClose(code: number, reason: string): void {
    if (this.closedWith !== undefined || this.ws.readyState >= WS.WebSocket.CLOSING) return
    this.closingBySelf = true
    this.ws.close(code, reason)
  }
}

const upgradeRequired = HttpServerResponse.text("Upgrade Required: this route takes websocket connections.", {
  status: 426,
  headers: { upgrade: "websocket", connection: "Upgrade" }
})

const isWebSocketUpgrade = (request: ServerRequest): boolean => {
  const upgrade = request.headers.upgrade
  return upgrade !== undefined && upgrade.toLowerCase() === "websocket"
}

const isClosedFailure = (cause: Cause.Cause<unknown>): boolean =>
  Cause.isInterruptedOnly(cause) ||
  Option.match(Cause.failureOption(cause), {
    onNone: () => false,
    onSome: (error) => error instanceof WebSocketClosed
  })

const runConnection = <A, E, R>(
  hub: Hub,
  request: ServerRequest,
  ws: WS.WebSocket,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  handler: (connection: Connection) => Effect.Effect<A, E, R>
): Effect.Effect<void, never, R> => {
  const connection = new ConnectionImpl(ws, request, hub.options, fiber)
  hub.connections.add(connection)
  const app = hub.app
  const open = hooksOf(app).metrics.websocketsOpen
  Metrics.add(open, 1)
  const context = { request, websocket: connection }
  const before = hooksOf(app).hasListeners("websocket.handler.before")
    ? Effect.ignore(app.dispatch("websocket.handler.before", { context, inline: true }))
    : Effect.void
  return Effect.onExit(Effect.zipRight(before, Effect.interruptible(handler(connection))), (exit) => {
    hub.connections.delete(connection)
    Metrics.add(open, -1)
    if (exit._tag === "Success") connection.unsafeClose(1000, "")
    else if (isClosedFailure(exit.cause)) {
      connection.unsafeClose(hub.shuttingDown ? 1001 : 1000, hub.shuttingDown ? "Server shutting down" : "")
    } else connection.unsafeClose(1011, "Internal error")
    if (exit._tag === "Failure" && !isClosedFailure(exit.cause)) {
      const cause = exit.cause
      return Effect.logError("WebSocket handler failed", cause).pipe(
        Effect.annotateLogs({ request: request.id, url: request.url }),
        Effect.zipRight(
          hooksOf(app).hasListeners("websocket.handler.exception")
            ? Effect.ignore(
                app.dispatch("websocket.handler.exception", { context: { ...context, exception: cause }, inline: true })
              )
            : Effect.void
        )
      )
    }
    return hooksOf(app).hasListeners("websocket.handler.after")
      ? Effect.ignore(app.dispatch("websocket.handler.after", { context, inline: true }))
      : Effect.void
  }).pipe(Effect.exit, Effect.asVoid)
}

export const upgrade = <A, E, R>(
  handler: (connection: Connection) => Effect.Effect<A, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | HttpServerRequest.HttpServerRequest> =>
  Effect.withFiberRuntime((fiber) => {
    const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
    if (!(request instanceof ServerRequest)) return Effect.succeed(upgradeRequired)
    const upgrade = request.upgradeContext
    if (upgrade === undefined || upgrade.upgraded || !isWebSocketUpgrade(request)) {
      return Effect.succeed(upgradeRequired)
    }
    return handshake(request, upgrade).pipe(
      Effect.flatMap((ws) => runConnection(upgrade.hub, request, ws, fiber, handler)),
      Effect.as(HttpServerResponse.empty())
    )
  })

export const route = <E, R>(
  path: HttpLayerRouter.PathInput,
  handler: (connection: Connection) => Effect.Effect<unknown, E, R>
) => HttpLayerRouter.add("GET", path, upgrade(handler))
