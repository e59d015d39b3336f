import * as Http from "node:http"
import * as Etag from "@effect/platform/Etag"
import * as FileSystem from "@effect/platform/FileSystem"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpPlatform from "@effect/platform-node/NodeHttpPlatform"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type { ListenerKind } from "../../App.js"
import type { Address, Options, ServerService } from "../../Server.js"
import type { SupervisorService } from "../../Workers.js"
import { App, StartError } from "../app/service.js"
import { hooksOf } from "../hooks.js"
import { nativeTracer } from "../tracing.js"
import { Supervisor } from "../workers/errors.js"
import * as Workers from "../workers/run.js"
import * as Config from "./config.js"
import { ServeError } from "./errors.js"
import * as HttpHandler from "./http.js"
import * as Paths from "./paths.js"
import { HttpSignals } from "./signals.js"
import { Hub } from "./websocket.js"

/** Services every handler may use besides the app's: what `HttpLayerRouter.addHttpApi` and file responses need. */
export const platformLayer = Layer.mergeAll(NodeHttpPlatform.layer, Etag.layerWeak, NodeContext.layer)

const startFailure = (error: StartError): ServeError =>
  new ServeError({
    reason: "StartFailed",
    detail: `The server did not start: ${error.detail}`,
    ...(error.listener !== undefined ? { listener: error.listener } : {}),
    origin: error
  })

const listenFailure = (error: NodeJS.ErrnoException, port: number, host: string): ServeError => {
  const where = `${host}:${port}`
  switch (error.code) {
    case "EADDRINUSE":
      return new ServeError({ reason: "PortInUse", detail: `Port ${port} on ${host} is already in use.` })
    case "EACCES":
      return new ServeError({
        reason: "ListenFailed",
        detail: `Not allowed to listen on ${where} (a port below 1024 needs privileges).`
      })
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new ServeError({
        reason: "ListenFailed",
        detail: `Cannot listen on ${where}: host ${host} is not an address of this machine.`
      })
    default:
      return new ServeError({ reason: "ListenFailed", detail: `Cannot listen on ${where}: ${error.message}` })
  }
}

const listen = (server: Http.Server, port: number, host: string): Effect.Effect<void, ServeError> =>
  Effect.async<void, ServeError>((resume) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off("listening", onListening)
      resume(Effect.fail(listenFailure(error, port, host)))
    }
    const onListening = () => {
      server.off("error", onError)
      resume(Effect.void)
    }
    server.once("error", onError)
    server.once("listening", onListening)
    server.listen(port, host)
  })

const addressOf = (server: Http.Server): Address => {
  const address = server.address()
  if (address === null || typeof address === "string") return { hostname: String(address), port: 0 }
  return { hostname: address.address, port: address.port }
}

export const formatUrl = (address: Address): string => {
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname
  return `http://${host}:${address.port}`
}

/**
 * One process's serve sequence: build the routes, then (through `App.startWith`) the `before_server_start`
 * listeners, bind, the queued tasks, `after_server_start`. Closing the scope runs `App.stopWith` with the drain:
 * stop accepting, let in-flight requests finish, close websockets with 1001. Every worker runs exactly this.
 */
export const serveProcess = <A, E, R>(
  resolved: Config.Resolved,
  routes: Layer.Layer<A, E, R>,
  services: Layer.Layer<any, any, any> | undefined,
  routerConfig: Partial<HttpLayerRouter.FindMyWay.RouterConfig> | undefined,
  listenerClosed: Effect.Effect<void> = Effect.void,
  /** This process's supervisor, for handlers (`Workers.supervisor`). */
  supervisor?: SupervisorService | undefined
): Effect.Effect<ServerService, ServeError | E, App | Scope.Scope | Exclude<R, HttpLayerRouter.HttpRouter>> =>
  Effect.gen(function* () {
    const app = yield* App
    const scope = yield* Effect.scope
    const memoMap = yield* Layer.CurrentMemoMap
    // Built here, so only in a serving process; what they give is in context for the routes and their handlers.
    // Their error and requirements are in the public signature (`Server.layer`); here they are opaque.
    const buildServices: Effect.Effect<Context.Context<never>> =
      services === undefined
        ? Effect.succeed(Context.empty())
        : (Layer.buildWithMemoMap(services, memoMap, scope) as unknown as Effect.Effect<Context.Context<never>>)
    const provided = yield* buildServices
    const signals = new HttpSignals(app)
    const router = yield* Paths.make(routerConfig, signals)
    const built = yield* Layer.buildWithMemoMap(Layer.provideMerge(routes, router.layer), memoMap, scope).pipe(
      Effect.provide(provided)
    )
    const httpEffect = Context.get(
      built as Context.Context<HttpLayerRouter.HttpRouter>,
      HttpLayerRouter.HttpRouter
    ).asHttpEffect()
    const signalledEffect = router.signalled.asHttpEffect()

    // Without a tracer of its own, a span per request would be made and dropped: the tracer middleware stays off.
    const tracing = (yield* Effect.tracer) !== nativeTracer
    const runtime = yield* !tracing
      ? Effect.locally(Effect.runtime<never>(), HttpMiddleware.currentTracerDisabledWhen, () => true)
      : Effect.runtime<never>()
    const base = Context.add(
      Context.merge(runtime.context, provided),
      IncomingMessage.MaxBodySize,
      Option.some(FileSystem.Size(resolved.maxBodySize))
    )
    const context = supervisor === undefined ? base : Context.add(base, Supervisor, supervisor)
    const hub = new Hub(app, resolved.websocket)
    const heartbeat = yield* Effect.forkScoped(hub.heartbeat)
    const handler = HttpHandler.make({
      app,
      httpEffect,
      signalledEffect,
      runtime: Runtime.make({ context, fiberRefs: runtime.fiberRefs, runtimeFlags: runtime.runtimeFlags }),
      hub,
      paths: router.paths,
      signals,
      tracing
    })

    let draining = false
    const server = Http.createServer((request, response) => {
      if (draining) response.shouldKeepAlive = false
      handler.onRequest(request, response)
    })
    server.on("upgrade", handler.onUpgrade)
    server.on("connection", handler.onConnection)
    const closed = yield* Deferred.make<void>()
    /** Drops every connection; waits for the listening socket to close if it was still open. */
    const forceClose = Effect.suspend(() => {
      hub.terminate()
      const listening = server.listening
      if (listening) server.close(() => Deferred.unsafeDone(closed, Exit.void))
      server.closeAllConnections()
      return listening ? Deferred.await(closed) : Effect.void
    })
    yield* Effect.addFinalizer(() => forceClose)

    // In a worker, connections node:cluster handed over just before the close must reach it before it exits.
    const drain = Effect.suspend(() => {
      draining = true
      heartbeat.unsafeInterruptAsFork(FiberId.none)
      server.close(() => Deferred.unsafeDone(closed, Exit.void))
      const drained = Effect.all([handler.closeUpgrades, handler.idle, listenerClosed], {
        concurrency: "unbounded",
        discard: true
      }).pipe(
        Effect.zipRight(Effect.sync(() => server.closeIdleConnections())),
        Effect.zipRight(Deferred.await(closed)),
        Effect.onInterrupt(() => forceClose)
      )
      const grace = resolved.gracefulShutdownTimeout
      return grace === undefined
        ? drained
        : Effect.timeoutTo(drained, {
            duration: grace,
            onSuccess: () => Effect.void,
            onTimeout: () => forceClose
          }).pipe(Effect.flatten)
    })

    // Once listening, an 'error' (accept failing with EMFILE, say) must not be an uncaught exception.
    const logServerError = Runtime.runFork(yield* Effect.runtime<never>())
    server.on("error", (error) => {
      if (server.listening) {
        logServerError(Effect.logError("HTTP server error", error))
      }
    })
    yield* hooksOf(app)
      .startWith(listen(server, resolved.port, resolved.host))
      .pipe(
        Effect.onError(() => forceClose),
        Effect.catchIf(
          (error): error is StartError => error instanceof StartError,
          (error) => Effect.fail(startFailure(error))
        )
      )
    yield* Effect.addFinalizer(() => hooksOf(app).stopWith(drain, { timeout: resolved.gracefulShutdownTimeout }))

    const address = addressOf(server)
    const url = formatUrl(address)
    yield* Effect.logInfo(`Listening on ${url}`)
    return { address, url }
  })

const runMainListeners = (kind: ListenerKind) =>
  Effect.flatMap(App, (app) => hooksOf(app).runListeners(kind)).pipe(Effect.mapError(startFailure))

/**
 * The whole single-process sequence: `main_process_start`, `main_process_ready`, then {@link serveProcess};
 * `main_process_stop` runs when the scope closes, after the server has stopped.
 */
export const serve = <A, E, R>(
  options: Options<A, E, R>
): Effect.Effect<Workers.Running, ServeError | E, App | Scope.Scope | Exclude<R, HttpLayerRouter.HttpRouter>> =>
  Effect.gen(function* () {
    const resolved = yield* Config.resolve(options)
    const routes = options.routes ?? (Layer.empty as unknown as Layer.Layer<A, E, R>)
    const single = (supervisor: SupervisorService) =>
      Effect.gen(function* () {
        yield* runMainListeners("main_process_start")
        yield* Effect.addFinalizer(() =>
          Effect.flatMap(App, (app) => hooksOf(app).runListeners("main_process_stop")).pipe(
            Effect.catchAllCause(Effect.logError)
          )
        )
        yield* runMainListeners("main_process_ready")
        return yield* serveProcess(
          resolved,
          routes,
          options.services as Layer.Layer<any, any, any> | undefined,
          options.routerConfig,
          Effect.void,
          supervisor
        )
      })
    // A worker forked by a primary runs `serveProcess` only; a primary (workers > 1) never serves.
    return yield* Workers.run({
      resolved,
      workerOptions: options.workerOptions,
      single,
      worker: (listenerClosed, supervisor) =>
        serveProcess(
          resolved,
          routes,
          options.services as Layer.Layer<any, any, any> | undefined,
          options.routerConfig,
          listenerClosed,
          supervisor
        ),
      formatUrl
    })
  })
