import * as Http from "node:http"
import type { Duplex } from "node:stream"
import * as Headers from "@effect/platform/Headers"
import * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
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
 * and then it needs no closing at all. A real one is closed when the request's fiber ends (see `closeWhenDone`).
 */
class RequestScope implements Scope.CloseableScope {
  readonly [Scope.ScopeTypeId]: Scope.ScopeTypeId = Scope.ScopeTypeId
  readonly [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId = Scope.CloseableScopeTypeId
  readonly strategy: ExecutionStrategy.ExecutionStrategy = ExecutionStrategy.sequential
  scope: Scope.CloseableScope | undefined = undefined
  /** Set once the request's fiber exists; told when the scope becomes real after that. */
  fiber: Fiber.RuntimeFiber<void, unknown> | undefined = undefined
  private closedWith: Exit.Exit<unknown, unknown> | undefined = undefined

  constructor(private readonly onReal: (scope: RequestScope) => void) {}

  private get real(): Effect.Effect<Scope.CloseableScope> {
    if (this.scope !== undefined) return Effect.succeed(this.scope)
    return Effect.flatMap(Scope.make(), (scope) => {
      if (this.scope !== undefined) return Effect.succeed(this.scope)
      this.scope = scope
      if (this.closedWith !== undefined) return Effect.as(Scope.close(scope, this.closedWith), scope)
      if (this.fiber !== undefined) this.onReal(this)
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

  pipe() {
    // biome-ignore lint/complexity/noArguments: Pipeable's own implementation
    return pipeArguments(this, arguments)
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
 * The piece between node:http and the router: one fiber per request, forked from a runtime captured once, with
 * the request wrapped lazily and the response written straight to the node response.
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
  const forkRequest = Fiber_.makeForker(runtime)
  const tracing = Runtime.runSync(runtime)(Effect.tracer) !== nativeTracer
  const routed = tracing ? withSpan(options.httpEffect) : options.httpEffect

  const respond = (
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    request: ServerRequest,
    response: HttpServerResponse.HttpServerResponse
  ): Effect.Effect<void, unknown> => {
    const upgrade = request.upgradeContext
    if (upgrade?.upgraded) return Effect.void
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
  }

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

  // Made by factories: tsx names function expressions with a `defineProperty` call where they are written, which
  // on a per-request object literal would run for every request.
  const onSuccess =
    (fiber: Fiber.RuntimeFiber<unknown, unknown>, request: ServerRequest) =>
    (response: HttpServerResponse.HttpServerResponse) =>
      respond(fiber, request, response)

  const onFailure =
    (fiber: Fiber.RuntimeFiber<unknown, unknown>, request: ServerRequest) => (cause: Cause.Cause<unknown>) =>
      Effect.flatMap(HttpServerError.causeResponse(cause), ([response, stripped]) => {
        const written = respond(fiber, request, response)
        const upgraded = request.upgradeContext?.upgraded
        return !upgraded && response.status >= 500 && !Cause.isEmptyType(stripped) && !Cause.isInterruptedOnly(stripped)
          ? Effect.zipRight(reportCause(request, response.status, stripped), written)
          : written
      })

  const handle = (
    request: ServerRequest,
    routed: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, any>
  ): Effect.Effect<void, unknown, HttpServerRequest.HttpServerRequest | Scope.Scope> =>
    Effect.withFiberRuntime((fiber) => {
      const run = app.hasListeners("http.lifecycle.request")
        ? Effect.zipRight(
            Effect.ignore(app.dispatch("http.lifecycle.request", { context: { request }, inline: true })),
            routed
          )
        : routed
      return Effect.matchCauseEffect(run, {
        onSuccess: onSuccess(fiber, request),
        onFailure: onFailure(fiber, request)
      })
    })

  const runInServer = Runtime.runFork(runtime)

  /** Closes a request scope that became real, once the request's fiber has ended (finalizers count as in flight). */
  const closeWhenDone = (scope: RequestScope): void => {
    scope.fiber!.addObserver((exit) => {
      if (ejectedScopes.has(scope)) return
      inFlight++
      runInServer(scope.close(exit)).addObserver(requestDone)
    })
  }

  const settled = (request: ServerRequest) => (exit: Exit.Exit<void, unknown>) => settle(request, exit)

  /** After the fiber: what writing the response could not do itself (a failure while writing). */
  const settle = (request: ServerRequest, exit: Exit.Exit<void, unknown>): void => {
    requestDone()
    if (exit._tag === "Success" || Cause.isInterruptedOnly(exit.cause)) return
    abort(request.resolvedResponse)
    runInServer(reportCause(request, 500, exit.cause))
  }

  // The index is only trusted when nothing it cannot reproduce is in play.
  const useIndex = index !== undefined && !index.hasGlobalMiddleware && !tracing

  /** Forks the request's fiber: a route the index knows runs directly, anything else through the router. */
  const fork = (
    request: ServerRequest,
    match: HttpLayerRouter.FindMyWay.FindResult<Entry> | undefined
  ): Fiber.RuntimeFiber<void, unknown> => {
    const scope = new RequestScope(closeWhenDone)
    const run = match?.handler.run
    let context: Context.Context<never>
    let effect = routed
    if (run !== undefined) {
      const prefix = match!.handler.prefix
      context = RequestContext.make(
        baseEntries,
        scope,
        prefix === undefined
          ? request
          : request.modify({ url: request.url.length <= prefix.length ? "/" : request.url.slice(prefix.length) }),
        match!.searchParams,
        Router.routeContext(match!.handler, match!.params)
      )
      effect = run as HttpEffect
    } else {
      context = RequestContext.make(baseEntries, scope, request, undefined, undefined)
    }
    const fiber = forkRequest(context, handle(request, effect))
    scope.fiber = fiber
    if (scope.scope !== undefined) closeWhenDone(scope)
    return fiber
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

  const onRequest = (nodeRequest: Http.IncomingMessage, nodeResponse: Http.ServerResponse): void => {
    let match: HttpLayerRouter.FindMyWay.FindResult<Entry> | undefined
    if (useIndex) {
      match = index.find(nodeRequest.method!, nodeRequest.url!)
      if (
        match === undefined &&
        !app.hasListeners("http.lifecycle.request") &&
        !app.hasListeners("http.lifecycle.response")
      ) {
        // What the router's RouteNotFound turns into, without a fiber or an error to build.
        nodeResponse.writeHead(404)
        nodeResponse.end()
        return
      }
    }
    inFlight++
    const request = new ServerRequest(nodeRequest, nodeResponse, undefined)
    const fiber = fork(request, match)
    // Most handlers finish before `fork` returns: they need neither an observer nor an abort listener.
    const exit = fiber.unsafePoll()
    if (exit !== null) {
      settle(request, exit)
      return
    }
    fiber.addObserver(settled(request))
    nodeResponse.on("close", () => {
      if (!nodeResponse.writableEnded) fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
    })
  }

  const upgrades = new Set<Fiber.RuntimeFiber<void, unknown>>()

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
    const request = new ServerRequest(nodeRequest, response, upgrade)
    const fiber = fork(request, useIndex ? index.find(nodeRequest.method!, nodeRequest.url!) : undefined)
    upgrades.add(fiber)
    fiber.addObserver((exit) => {
      upgrades.delete(fiber)
      if (exit._tag === "Failure" && !Cause.isInterruptedOnly(exit.cause)) {
        runInServer(reportCause(request, 500, exit.cause))
      }
    })
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

  return { onRequest, onUpgrade, idle, closeUpgrades, inFlight: () => inFlight }
}

const abort = (nodeResponse: Http.ServerResponse): void => {
  if (!nodeResponse.headersSent) nodeResponse.writeHead(500)
  if (!nodeResponse.writableEnded) nodeResponse.end()
}
