import * as Http from "node:http"
import type * as Net from "node:net"
import type { Duplex } from "node:stream"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type { AppService } from "../../App.js"
import { hooksOf } from "../hooks.js"
import * as Metrics from "../metrics/definitions.js"
import type { Paths } from "./paths.js"
import { ServerRequest } from "./request.js"
import * as Response from "./response.js"
import * as Signals from "./signals.js"
import type { Hub } from "./websocket.js"

/** The router's request handler, as `HttpLayerRouter` builds it. */
export type HttpEffect = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  unknown,
  HttpServerRequest.HttpServerRequest | Scope.Scope
>

export interface Handler {
  readonly onRequest: (request: Http.IncomingMessage, response: Http.ServerResponse) => void
  readonly onUpgrade: (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => void
  /** Dispatches `http.lifecycle.begin` now and `http.lifecycle.complete` when the socket closes, when listened to. */
  readonly onConnection: (socket: Net.Socket) => void
  /** Completes once no request is in flight. */
  readonly idle: Effect.Effect<void>
  /** Interrupts every websocket handler (they close with 1001) and waits for them to end. */
  readonly closeUpgrades: Effect.Effect<void>
  readonly inFlight: () => number
}

/**
 * The piece between node:http and the router. Every request runs as one fiber forked from the server's runtime
 * (built once) with the request added to its services, through platform's `HttpApp.toHandled`: the request scope
 * (and its ejection by streamed responses), pre-response handlers, failures turned into answers, and the tracer.
 */
export const make = (options: {
  readonly app: AppService
  readonly httpEffect: HttpEffect
  /** The same routes through the router that dispatches `http.handler.*` and `http.middleware.*`. */
  readonly signalledEffect: HttpEffect
  readonly runtime: Runtime.Runtime<never>
  /** Whether a tracer of its own is installed: then every request, even a 404, gets its span. */
  readonly tracing: boolean
  readonly hub: Hub
  readonly paths: Paths
  readonly signals: Signals.HttpSignals
}): Handler => {
  const { app, hub, runtime, signals, tracing } = options
  const hooks = hooksOf(app)
  const { metrics } = hooks
  const context = runtime.context
  const runtimeOptions = { fiberRefs: runtime.fiberRefs, runtimeFlags: runtime.runtimeFlags }

  const write = (request: HttpServerRequest.HttpServerRequest, response: HttpServerResponse.HttpServerResponse) => {
    const own = request as ServerRequest
    own.status = response.status
    if (own.upgradeContext?.upgraded) return Effect.void
    return Response.write(request, own.resolvedResponse, response)
  }

  // Sanic dispatches `http.lifecycle.response` before it sends anything, and `http.lifecycle.send` per write.
  const signalledWrite = (
    request: HttpServerRequest.HttpServerRequest,
    response: HttpServerResponse.HttpServerResponse
  ) => {
    const own = request as ServerRequest
    const flags = signals.flags()
    if ((flags & Signals.writing) === 0 || own.upgradeContext?.upgraded) return write(request, response)
    own.status = response.status
    return Effect.zipRight(
      Effect.zipRight(
        signals.dispatchIf(flags, "http.lifecycle.response", () => ({ request, response })),
        signals.dispatchIf(flags, "http.lifecycle.send", () => ({
          request,
          response,
          data: Response.bytesOf(request.method, response)
        }))
      ),
      Effect.suspend(() => write(request, response))
    )
  }

  // Two request paths, chosen per request: with no HTTP event listened to, the router's effect and the write as they
  // are, with no effect of the signals' own; otherwise the signalled router inside the signals around it.
  const handled = HttpApp.toHandled(options.httpEffect, write)
  const signalled = HttpApp.toHandled(Signals.routed(signals, options.paths, options.signalledEffect), signalledWrite)

  // The 500 answer travels in the cause as a defect: logged, it would read as a second error. This is the one place a
  // request's failure is reported: once per request, whichever layer failed.
  const report = (request: ServerRequest, cause: Cause.Cause<unknown>) => {
    const stripped = Option.getOrElse(HttpServerError.causeResponseStripped(cause)[1], () => cause)
    const logged = Effect.logError("Request failed", stripped).pipe(
      Effect.annotateLogs({
        "http.method": request.method,
        "http.url": request.url,
        "http.status": request.status ?? 500,
        "http.request.id": request.id
      })
    )
    if (!signals.has(Signals.Report)) return logged
    return Effect.zipRight(
      logged,
      Effect.ignore(options.app.dispatch("server.exception.report", { context: { request, cause: stripped } }))
    )
  }

  let inFlight = 0
  let idleWaiters: Array<() => void> = []
  const runInServer = Runtime.runFork(runtime)

  // Requests by method and status, and their latency: labels made once per pair, so counting allocates nothing.
  const labelsOf = Metrics.httpLabels()
  const count = (method: string, status: number, startedAt: number, timed: boolean): void => {
    const labels = labelsOf(method, status)
    Metrics.increment(metrics.httpRequests, labels)
    if (timed) Metrics.observeMillis(metrics.httpRequestDuration, performance.now() - startedAt, labels)
  }

  const ended = (request: ServerRequest) => (exit: Exit.Exit<void, unknown>) => {
    // A websocket's request lasts as long as the connection: counted, as 101, but not timed.
    const upgraded = request.upgradeContext?.upgraded === true
    const status = upgraded
      ? 101
      : (request.status ?? (exit._tag === "Failure" && Cause.isInterruptedOnly(exit.cause) ? 499 : 500))
    count(request.method, status, request.startedAt, !upgraded)
    // toHandled answers a failure and then fails with what the answer does not say: log it when it was a 5xx.
    if (exit._tag === "Failure" && !Cause.isInterruptedOnly(exit.cause) && (request.status ?? 500) >= 500) {
      if (request.upgradeContext === undefined) abort(request.resolvedResponse)
      runInServer(report(request, exit.cause))
    }
    if (--inFlight === 0 && idleWaiters.length > 0) {
      const waiters = idleWaiters
      idleWaiters = []
      for (const waiter of waiters) waiter()
    }
  }

  /** The `http.lifecycle.begin` dispatches still running, by socket: a request on that socket waits for its own. */
  const beginning = new WeakMap<Net.Socket, Fiber.RuntimeFiber<void>>()
  let stillBeginning = 0

  const onConnection = (socket: Net.Socket): void => {
    const flags = signals.flags()
    if ((flags & Signals.anyConnection) === 0) return
    const conn_info = Signals.connInfo(socket)
    if ((flags & Signals.Begin) !== 0) {
      const fiber = runInServer(signals.dispatch("http.lifecycle.begin", { conn_info }))
      if (fiber.unsafePoll() === null) {
        beginning.set(socket, fiber)
        stillBeginning++
        fiber.addObserver(() => {
          beginning.delete(socket)
          stillBeginning--
        })
      }
    }
    socket.once("close", () => {
      if (signals.has(Signals.Complete)) runInServer(signals.dispatch("http.lifecycle.complete", { conn_info }))
    })
  }

  const handlerFor = (socket: Net.Socket) => {
    const effect = (signals.flags() & Signals.inRequest) === 0 ? handled : signalled
    const begin = stillBeginning === 0 ? undefined : beginning.get(socket)
    return begin === undefined ? effect : Effect.zipRight(Fiber.await(begin), effect)
  }

  /** Runs the request's fiber; a fiber still running after its synchronous start is watched for the client leaving. */
  const run = (request: ServerRequest): Fiber.RuntimeFiber<void, unknown> | undefined => {
    inFlight++
    const fiber = Runtime.runFork(
      Runtime.make({ context: Context.add(context, HttpServerRequest.HttpServerRequest, request), ...runtimeOptions }),
      handlerFor(request.source.socket)
    )
    const exit = fiber.unsafePoll()
    if (exit !== null) {
      ended(request)(exit)
      return undefined
    }
    fiber.addObserver(ended(request))
    return fiber
  }

  const onRequest = (nodeRequest: Http.IncomingMessage, nodeResponse: Http.ServerResponse): void => {
    // What the router's RouteNotFound becomes, without running it, when nothing else could see the request.
    if (
      options.paths.unmatched(nodeRequest.method!, nodeRequest.url!) &&
      (signals.flags() & Signals.anyRequest) === 0 &&
      !tracing
    ) {
      const startedAt = performance.now()
      nodeResponse.writeHead(404)
      nodeResponse.end()
      count(nodeRequest.method!, 404, startedAt, true)
      return
    }
    const fiber = run(new ServerRequest(nodeRequest, nodeResponse, undefined, signals))
    if (fiber === undefined) return
    nodeResponse.on("close", () => {
      if (!nodeResponse.writableEnded) fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
    })
  }

  const upgrades = new Set<Fiber.RuntimeFiber<void, unknown>>()

  const onUpgrade = (nodeRequest: Http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (hub.shuttingDown) {
      socket.destroy()
      return
    }
    const upgrade = { hub, socket, head, upgraded: false }
    let lazyResponse: Http.ServerResponse | undefined
    // Routes that do not upgrade (404, 426) answer on the raw socket through a response made on first use.
    const response = () => {
      if (lazyResponse === undefined) {
        lazyResponse = new Http.ServerResponse(nodeRequest)
        lazyResponse.assignSocket(socket as import("node:net").Socket)
        lazyResponse.shouldKeepAlive = false
        lazyResponse.on("finish", () => socket.end())
      }
      return lazyResponse
    }
    const fiber = run(new ServerRequest(nodeRequest, response, upgrade, signals))
    if (fiber === undefined) return
    upgrades.add(fiber)
    fiber.addObserver(() => upgrades.delete(fiber))
    socket.on("close", () => {
      if (!upgrade.upgraded) fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
    })
  }

  const idle = Effect.async<void>((resume) => {
    if (inFlight === 0) return resume(Effect.void)
    const waiter = () => resume(Effect.void)
    idleWaiters.push(waiter)
    return Effect.sync(() => {
      idleWaiters = idleWaiters.filter((w) => w !== waiter)
    })
  })

  const closeUpgrades = Effect.suspend(() => {
    hub.shuttingDown = true
    return Fiber.interruptAll(Array.from(upgrades))
  })

  return { onRequest, onUpgrade, onConnection, idle, closeUpgrades, inFlight: () => inFlight }
}

const abort = (nodeResponse: Http.ServerResponse): void => {
  if (!nodeResponse.headersSent) nodeResponse.writeHead(500)
  if (!nodeResponse.writableEnded) nodeResponse.end()
}
