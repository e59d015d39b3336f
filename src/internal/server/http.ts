import * as Http from "node:http"
import type { Duplex } from "node:stream"
import * as Headers from "@effect/platform/Headers"
import * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRefs from "effect/FiberRefs"
import { globalValue } from "effect/GlobalValue"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import type { AppService } from "../../App.js"
import * as RequestContext from "./context.js"
import * as Fiber_ from "./fiber.js"
import { ServerRequest } from "./request.js"
import * as Response from "./response.js"
import type { Entry, RouteIndex } from "./router.js"
import * as Router from "./router.js"
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
  /** Completes once no request is in flight. */
  readonly idle: Effect.Effect<void>
  /** Interrupts every websocket handler (they close with 1001) and waits for them to end. */
  readonly closeUpgrades: Effect.Effect<void>
  readonly inFlight: () => number
}

// Shared with `HttpApp.ejectDefaultScopeClose`, so streamed responses that take over the request scope still work.
const ejectedScopes = globalValue("@effect/platform/HttpApp/ejectedScopes", () => new WeakSet<Scope.Scope>())

const nativeTracer = Effect.runSync(Effect.tracer)

/**
 * The request scope, made real only when a handler adds a finalizer or forks from it: most requests never do,
 * and then it needs no closing at all. It is closed once the response is written (see `done`).
 */
class RequestScope implements Scope.CloseableScope {
  readonly [Scope.ScopeTypeId]: Scope.ScopeTypeId = Scope.ScopeTypeId
  readonly [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId = Scope.CloseableScopeTypeId
  readonly strategy: ExecutionStrategy.ExecutionStrategy = ExecutionStrategy.sequential
  scope: Scope.CloseableScope | undefined = undefined
  private closedWith: Exit.Exit<unknown, unknown> | undefined = undefined

  private get real(): Effect.Effect<Scope.CloseableScope> {
    if (this.scope !== undefined) return Effect.succeed(this.scope)
    return Effect.flatMap(Scope.make(), (scope) => {
      if (this.scope !== undefined) return Effect.succeed(this.scope)
      this.scope = scope
      if (this.closedWith !== undefined) return Effect.as(Scope.close(scope, this.closedWith), scope)
      return Effect.succeed(scope)
    })
  }

  fork(strategy: ExecutionStrategy.ExecutionStrategy): Effect.Effect<Scope.CloseableScope> {
    return Effect.flatMap(this.real, (scope) => Scope.fork(scope, strategy))
  }

  addFinalizer(finalizer: Scope.Scope.Finalizer): Effect.Effect<void> {
    return Effect.flatMap(this.real, (scope) => Scope.addFinalizerExit(scope, finalizer))
  }

  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.closedWith !== undefined) return Effect.void
      this.closedWith = exit
      return this.scope === undefined ? Effect.void : Scope.close(this.scope, exit)
    })
  }

  /** Closes a scope that never became real, at once; `false` if it is real and needs `close` run. */
  unsafeCloseIfUnused(exit: Exit.Exit<unknown, unknown>): boolean {
    if (this.scope !== undefined) return false
    this.closedWith ??= exit
    return true
  }

  pipe() {
    // biome-ignore lint/complexity/noArguments: Pipeable's own implementation
    return pipeArguments(this, arguments)
  }
}

/**
 * One request in flight: its route, its context once made, and the fiber working for it (the handler's, then the
 * one writing an answer that cannot be written at once).
 */
class Exchange {
  readonly scope = new RequestScope()
  context: Context.Context<never> | undefined = undefined
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  private watched = false
  constructor(
    readonly request: ServerRequest,
    readonly match: HttpLayerRouter.FindMyWay.FindResult<Entry> | undefined
  ) {}

  /** Interrupts the fiber working for the request if the client goes away before the answer is complete. */
  watchClient(): void {
    if (this.watched) return
    this.watched = true
    const upgrade = this.request.upgradeContext
    if (upgrade !== undefined) {
      upgrade.socket.on("close", () => {
        if (!upgrade.upgraded) this.fiber?.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
      })
      return
    }
    const nodeResponse = this.request.resolvedResponse
    nodeResponse.on("close", () => {
      if (!nodeResponse.writableEnded) this.fiber?.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
    })
  }
}

const withSpan = (httpEffect: HttpEffect): HttpEffect =>
  Effect.withFiberRuntime((fiber) => {
    const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
    if (fiber.getFiberRef(HttpMiddleware.currentTracerDisabledWhen)(request)) return httpEffect
    const nameOf = Context.get(fiber.currentContext, HttpMiddleware.SpanNameGenerator)
    const redacted = fiber.getFiberRef(Headers.currentRedactedNames)
    return Effect.useSpan(
      nameOf(request),
      {
        parent: Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers)),
        kind: "server",
        captureStackTrace: false
      },
      (span) => {
        span.attribute("http.request.method", request.method)
        span.attribute("url.path", request.url.split("?", 1)[0])
        if (request instanceof ServerRequest) span.attribute("http.request.id", request.id)
        const headers = Headers.redact(request.headers, redacted)
        for (const name in headers) span.attribute(`http.request.header.${name}`, String(headers[name]))
        return Effect.onExit(Effect.withParentSpan(httpEffect, span), (exit) =>
          Effect.sync(() => {
            const response = HttpServerError.exitResponse(exit)
            span.attribute("http.response.status_code", response.status)
          })
        )
      }
    )
  })

/**
 * The piece between node:http and the router. A request to a route the index knows runs that route's handler as a
 * fiber built from the server's runtime (captured once) with the request's own context, its first steps in a lean
 * loop (see `Fiber.makeForker`); a handler that is an exit already needs no fiber; anything else runs the platform
 * router's handler. The request is wrapped lazily, and an in-memory response is written straight to the node
 * response once the handler has ended.
 */
export const make = (options: {
  readonly app: AppService
  readonly httpEffect: HttpEffect
  readonly runtime: Runtime.Runtime<never>
  readonly hub: Hub
  readonly index: RouteIndex | undefined
}): Handler => {
  const { app, hub, index, runtime } = options
  const baseEntries = runtime.context.unsafeMap
  const runtimeFlags = runtime.runtimeFlags
  const forker = Fiber_.makeForker(runtime)
  const tracing = Runtime.runSync(runtime)(Effect.tracer) !== nativeTracer
  const routed = tracing ? withSpan(options.httpEffect) : options.httpEffect
  const runInServer = Runtime.runFork(runtime)
  // The index is only trusted when nothing it cannot reproduce is in play.
  const useIndex = index !== undefined && !index.hasGlobalMiddleware && !tracing
  // Where a fiber would make no difference, a handler that is an exit already is answered without one, and a handler
  // gets its fiber only when it needs one (see `Fiber.makeForker`).
  const stepsRun =
    forker.direct && FiberRefs.getOrDefault(runtime.fiberRefs, HttpApp.currentPreResponseHandlers)._tag === "None"

  /** What the platform's `HttpApp.toHandled` does with a response: pre-response handlers, then the write. */
  const respond = (
    request: ServerRequest,
    response: HttpServerResponse.HttpServerResponse
  ): Effect.Effect<void, unknown> =>
    Effect.withFiberRuntime((fiber) => {
      if (request.upgradeContext?.upgraded) return Effect.void
      const preResponse = fiber.getFiberRef(HttpApp.currentPreResponseHandlers)
      const write =
        preResponse._tag === "None"
          ? Response.write(request, request.resolvedResponse, response)
          : Effect.flatMap(preResponse.value(request, response), (response) =>
              Response.write(request, request.resolvedResponse, response)
            )
      if (!app.hasListeners("http.lifecycle.response")) return write
      return Effect.zipRight(
        Effect.ignore(app.dispatch("http.lifecycle.response", { context: { request, response }, inline: true })),
        write
      )
    })

  const reportCause = (request: ServerRequest, status: number, cause: Cause.Cause<unknown>) =>
    Effect.logError("Request failed", cause).pipe(
      Effect.annotateLogs({
        app: app.name,
        "http.method": request.method,
        "http.url": request.url,
        "http.status": status,
        "http.request.id": request.id
      })
    )

  const respondToFailure = (request: ServerRequest, cause: Cause.Cause<unknown>): Effect.Effect<void, unknown> =>
    Effect.flatMap(HttpServerError.causeResponse(cause), ([response, stripped]) => {
      const written = respond(request, response)
      const upgraded = request.upgradeContext?.upgraded
      return !upgraded && response.status >= 500 && !Cause.isEmptyType(stripped) && !Cause.isInterruptedOnly(stripped)
        ? Effect.zipRight(reportCause(request, response.status, stripped), written)
        : written
    })

  /** The handler's effect for one request, with `http.lifecycle.request` dispatched first when something listens. */
  const handlerOf = (
    request: ServerRequest,
    effect: HttpEffect
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, any> =>
    app.hasListeners("http.lifecycle.request")
      ? Effect.zipRight(
          Effect.ignore(app.dispatch("http.lifecycle.request", { context: { request }, inline: true })),
          effect
        )
      : effect

  /** The request's context: a route the index knows gets what the platform router would give it. */
  const contextOf = (exchange: Exchange): Context.Context<never> => {
    if (exchange.context !== undefined) return exchange.context
    const { match, request } = exchange
    if (match?.handler.run === undefined) {
      return (exchange.context = RequestContext.make(baseEntries, exchange.scope, request, undefined, undefined))
    }
    const prefix = match.handler.prefix
    return (exchange.context = RequestContext.make(
      baseEntries,
      exchange.scope,
      prefix === undefined
        ? request
        : request.modify({ url: request.url.length <= prefix.length ? "/" : request.url.slice(prefix.length) }),
      match.searchParams,
      Router.routeContext(match.handler, match.params)
    ))
  }

  let inFlight = 0
  let idleWaiters: Array<() => void> = []
  const requestDone = () => {
    if (--inFlight === 0 && idleWaiters.length > 0) {
      const waiters = idleWaiters
      idleWaiters = []
      for (const waiter of waiters) waiter()
    }
  }

  /** The request is answered: its scope is closed (with the handler's failure, if it failed) and it leaves. */
  const done = (exchange: Exchange, exit: Exit.Exit<unknown, unknown>): void => {
    exchange.fiber = undefined
    const scope = exchange.scope
    if (scope.unsafeCloseIfUnused(exit) || ejectedScopes.has(scope)) requestDone()
    else runInServer(scope.close(exit)).addObserver(requestDone)
  }

  /**
   * The handler has ended (its fiber, or its one step when it ran without one). An in-memory response with nothing
   * to run before it is written here and now; anything else (a failure, a streamed body, pre-response handlers,
   * `http.lifecycle.response` listeners) is answered by a second fiber that starts from the handler's fiber refs,
   * as if the handler had gone on. A response node refuses (an invalid header) is answered as a failed write.
   */
  const finish = (
    exchange: Exchange,
    fiber: Fiber.RuntimeFiber<HttpServerResponse.HttpServerResponse, unknown> | undefined,
    exit: Exit.Exit<HttpServerResponse.HttpServerResponse, unknown>
  ): void => {
    const request = exchange.request
    if (exit._tag === "Success") {
      if (request.upgradeContext?.upgraded) {
        done(exchange, exit)
        return
      }
      if (
        HttpServerResponse.isServerResponse(exit.value) &&
        (fiber === undefined || fiber.getFiberRef(HttpApp.currentPreResponseHandlers)._tag === "None") &&
        !app.hasListeners("http.lifecycle.response")
      ) {
        let written: boolean
        try {
          written = Response.writeNow(request.method, request.resolvedResponse, exit.value)
        } catch (error) {
          answered(exchange, exit, Exit.die(error))
          return
        }
        if (written) {
          done(exchange, exit)
          return
        }
      }
    }
    const answer = Runtime.runFork(
      fiber === undefined
        ? Runtime.make({ context: contextOf(exchange), fiberRefs: runtime.fiberRefs, runtimeFlags })
        : Runtime.make({ context: fiber.currentContext, fiberRefs: fiber.getFiberRefs(), runtimeFlags }),
      exit._tag === "Success" ? respond(request, exit.value) : respondToFailure(request, exit.cause)
    )
    const written = answer.unsafePoll()
    if (written !== null) {
      answered(exchange, exit, written)
      return
    }
    exchange.fiber = answer
    exchange.watchClient()
    answer.addObserver(answeredBy(exchange, exit))
  }

  const finishedBy =
    (exchange: Exchange, fiber: Fiber.RuntimeFiber<HttpServerResponse.HttpServerResponse, unknown>) =>
    (exit: Exit.Exit<HttpServerResponse.HttpServerResponse, unknown>) =>
      finish(exchange, fiber, exit)

  /** After an answer that could not be written at once: what writing it could not do itself (a failed write). */
  const answered = (exchange: Exchange, exit: Exit.Exit<unknown, unknown>, written: Exit.Exit<void, unknown>) => {
    if (written._tag === "Failure" && !Cause.isInterruptedOnly(written.cause)) {
      if (exchange.request.upgradeContext === undefined) abort(exchange.request.resolvedResponse)
      runInServer(reportCause(exchange.request, 500, written.cause))
    }
    done(exchange, exit._tag === "Failure" ? exit : written)
  }

  const answeredBy = (exchange: Exchange, exit: Exit.Exit<unknown, unknown>) => (written: Exit.Exit<void, unknown>) =>
    answered(exchange, exit, written)

  /** Starts the request's fiber: a route the index knows runs directly, anything else through the router. */
  /**
   * Starts the request's handler: its fiber, or, where its steps all ran in the lean loop without anything asking
   * for a fiber, its exit.
   */
  const start = (
    exchange: Exchange
  ):
    | Fiber.RuntimeFiber<HttpServerResponse.HttpServerResponse, unknown>
    | Exit.Exit<HttpServerResponse.HttpServerResponse, unknown> => {
    const run = exchange.match?.handler.run
    const effect = run === undefined ? routed : (run as HttpEffect)
    return (stepsRun ? forker.run : forker.fork)(contextOf(exchange), handlerOf(exchange.request, effect))
  }

  /**
   * Starts the handler and answers at once if it has already ended, as most handlers have: they need neither an
   * observer nor a close listener. The fiber still working for the request otherwise.
   */
  const startRunning = (
    exchange: Exchange
  ): Fiber.RuntimeFiber<HttpServerResponse.HttpServerResponse, unknown> | undefined => {
    const started = start(exchange)
    if (Exit.isExit(started)) {
      finish(exchange, undefined, started)
      return undefined
    }
    const exit = started.unsafePoll()
    if (exit !== null) {
      finish(exchange, started, exit)
      return undefined
    }
    exchange.fiber = started
    return started
  }

  const onRequest = (nodeRequest: Http.IncomingMessage, nodeResponse: Http.ServerResponse): void => {
    let match: HttpLayerRouter.FindMyWay.FindResult<Entry> | undefined
    if (useIndex) {
      match = index.find(nodeRequest.method!, nodeRequest.url!)
      if (match === undefined) {
        if (!app.hasListeners("http.lifecycle.request") && !app.hasListeners("http.lifecycle.response")) {
          // What the router's RouteNotFound turns into, without a fiber or an error to build.
          nodeResponse.writeHead(404)
          nodeResponse.end()
          return
        }
      } else if (match.handler.step !== undefined && stepsRun && !app.hasListeners("http.lifecycle.request")) {
        const exit = match.handler.step()
        let failedWrite: Exit.Exit<never, unknown> | undefined
        if (
          exit._tag === "Success" &&
          HttpServerResponse.isServerResponse(exit.value) &&
          !app.hasListeners("http.lifecycle.response")
        ) {
          try {
            if (Response.writeNow(nodeRequest.method!, nodeResponse, exit.value)) return
          } catch (error) {
            failedWrite = Exit.die(error)
          }
        }
        inFlight++
        const exchange = new Exchange(new ServerRequest(nodeRequest, nodeResponse, undefined), match)
        if (failedWrite === undefined) finish(exchange, undefined, exit)
        else answered(exchange, exit, failedWrite)
        return
      }
    }
    inFlight++
    const exchange = new Exchange(new ServerRequest(nodeRequest, nodeResponse, undefined), match)
    const fiber = startRunning(exchange)
    if (fiber === undefined) return
    exchange.watchClient()
    fiber.addObserver(finishedBy(exchange, fiber))
  }

  const upgrades = new Set<Fiber.RuntimeFiber<unknown, unknown>>()

  const onUpgrade = (nodeRequest: Http.IncomingMessage, socket: Duplex, head: Buffer): void => {
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
    if (hub.shuttingDown) {
      socket.destroy()
      return
    }
    inFlight++
    const exchange = new Exchange(
      new ServerRequest(nodeRequest, response, upgrade),
      useIndex ? index.find(nodeRequest.method!, nodeRequest.url!) : undefined
    )
    exchange.watchClient()
    const fiber = startRunning(exchange)
    if (fiber === undefined) return
    upgrades.add(fiber)
    fiber.addObserver((exit) => {
      upgrades.delete(fiber)
      finish(exchange, fiber, exit)
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

  return { onRequest, onUpgrade, idle, closeUpgrades, inFlight: () => inFlight }
}

const abort = (nodeResponse: Http.ServerResponse): void => {
  if (!nodeResponse.headersSent) nodeResponse.writeHead(500)
  if (!nodeResponse.writableEnded) nodeResponse.end()
}
