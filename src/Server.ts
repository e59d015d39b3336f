/**
 * The server: serves `@effect/platform` routes (`HttpLayerRouter`) and websocket routes for an `App`, starting it
 * with Sanic's listener order and stopping it gracefully when the layer's scope closes.
 *
 * @example
 * ```ts
 * import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { App, Server } from "fiberapp"
 *
 * const routes = Layer.mergeAll(
 *   HttpLayerRouter.add("GET", "/", HttpServerResponse.text("Hello")),
 *   HttpLayerRouter.add(
 *     "POST",
 *     "/jobs/:name",
 *     Effect.gen(function* () {
 *       const { name } = yield* HttpLayerRouter.params
 *       yield* App.addTask(Effect.log(`job ${name}`), { name: name ?? "job" })
 *       return HttpServerResponse.empty({ status: 201 })
 *     }).pipe(Effect.orDie)
 *   )
 * )
 *
 * Server.layer({ routes, port: 8000 }).pipe(
 *   Layer.provide(App.layer({ name: "my-app" })),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type { Duration, Scope } from "effect"
import { Context, Effect, Layer } from "effect"
import type { App } from "./App.js"
import type * as Fleet from "./Fleet.js"
import type * as Inspector from "./Inspector.js"
import * as errors from "./internal/server/errors.js"
import { ServerRequest } from "./internal/server/request.js"
import * as internal from "./internal/server/serve.js"
import { Supervisor } from "./internal/workers/errors.js"
import type * as WebSocket from "./WebSocket.js"
import type * as Workers from "./Workers.js"

/**
 * The server could not start or was misconfigured. `reason` says what kind of problem (`InvalidOption`,
 * `InvalidSetting`, `PortInUse`, `ListenFailed`, `StartFailed`, `WorkersFailed`, `InspectorFailed`), `message` says
 * it in one line, and `listener` names the lifecycle listener kind when a listener failed.
 *
 * @since 0.1.0
 * @category errors
 */
export const ServeError: typeof errors.ServeError = errors.ServeError

/**
 * The type of a `ServeError` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type ServeError = errors.ServeError

/**
 * What kind of problem kept the server from starting.
 *
 * @since 0.1.0
 * @category models
 */
export type ServeErrorReason = errors.ServeErrorReason

/**
 * Where a server listens.
 *
 * @since 0.1.0
 * @category models
 */
export interface Address {
  readonly hostname: string
  readonly port: number
}

/**
 * The running server, as its layer provides it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerService {
  /** Where the server listens; with `port: 0` this is the port the system chose. */
  readonly address: Address
  /** `http://host:port` */
  readonly url: string
}

/**
 * The running server's tag: its address and URL, as `Server.layer` provides it.
 *
 * @since 0.1.0
 * @category tags
 */
export class Server extends Context.Tag("fiberapp/Server")<Server, ServerService>() {}

/**
 * What handlers get besides the app and their own services.
 *
 * @since 0.1.0
 * @category models
 */
export type PlatformServices = Layer.Layer.Success<typeof internal.platformLayer>

/**
 * The services a routes layer needs that the server does not provide: its own build requirements and what its
 * handlers require, less the request, the app and the platform services.
 *
 * @since 0.1.0
 * @category models
 */
export type RoutesContext<R> = Exclude<
  | HttpLayerRouter.Request.Without<R>
  | HttpLayerRouter.Request.Only<"Requires", R>
  | HttpLayerRouter.Request.Only<"GlobalRequires", R>,
  HttpLayerRouter.HttpRouter | HttpLayerRouter.Provided | App | PlatformServices | Workers.Supervisor
>

/**
 * Options of `Server.layer` and `Server.serve`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A = never, E = never, R = never, S = never, SE = never, SR = never> {
  /**
   * The routes: one `HttpLayerRouter` layer (`HttpLayerRouter.add`, `addAll`, `addHttpApi`, `WebSocket.route`,
   * merged with `Layer.mergeAll`). Handlers may use `App`, and the `services`.
   */
  readonly routes?: Layer.Layer<A, E, R> | undefined
  /**
   * Services for the routes and their handlers (a database pool, a client), built in each serving process only: in
   * each worker, or in this process when it serves alone, never in a primary. Built before the routes, released
   * after the server has stopped. A layer given beside `Server.layer` instead is built in every process, the
   * primary included.
   */
  readonly services?: Layer.Layer<S, SE, SR> | undefined
  /** Default 8000; `PORT` overrides. `0` picks a free port (read it back from `Server`). */
  readonly port?: number | undefined
  /** Default `127.0.0.1`; `HOST` overrides. */
  readonly host?: string | undefined
  /**
   * Server processes; `WORKERS` overrides. Above 1 this process becomes the primary of that many workers sharing
   * the port (see `Workers`): it runs the `main_process_*` listeners and never serves or runs tasks itself.
   */
  readonly workers?: number | undefined
  /** How the primary starts and restarts workers: start timeout, restart schedule. */
  readonly workerOptions?: Workers.Options | undefined
  /**
   * For development: the primary watches the app's source files (the entry script's folder and `src/` under the
   * current directory, recursively, except `node_modules`, `.git` and `dist`) and restarts the workers with zero
   * downtime when one changes, after a 200 ms quiet period. A change that keeps the new worker from starting (a syntax
   * error) leaves the old workers serving, and is logged once. The `reload_process_start` / `reload_process_stop`
   * listeners run when the watcher starts and stops, `before_reload_trigger` / `after_reload_trigger` around each
   * restart. As restarting needs a primary, with `workers: 1` the server runs a primary and one worker. Off by
   * default; `AUTO_RELOAD=true` or `DEV=true` turn it on (and `AUTO_RELOAD=false` off). Only the exact `DEV=true`
   * counts: tools set `DEV` for their own ends (vitest sets `DEV=1` in the processes it starts).
   */
  readonly autoReload?: boolean | undefined
  /** The inspector (see `Inspector`): off by default; `true`, options, or `INSPECTOR=true`. */
  readonly inspector?: boolean | Inspector.Options | undefined
  /**
   * Makes this server one machine of a fleet sharing a PostgreSQL database (see the `Fleet` module). Off by default;
   * on with options or `FLEET=true` (with `DATABASE_URL`).
   */
  readonly fleet?: boolean | Fleet.Options | undefined
  /**
   * How long the whole stop may take (stop listeners, draining, tasks; numbers are milliseconds), in place of the
   * app's own `gracefulShutdownTimeout`. `GRACEFUL_SHUTDOWN_TIMEOUT` (seconds, or a duration such as
   * `"10 seconds"`) overrides.
   */
  readonly gracefulShutdownTimeout?: Duration.DurationInput | undefined
  /** The largest request body read by `request.text`, `json` and friends, in bytes. Default 10 MiB. */
  readonly maxBodySize?: number | undefined
  readonly websocket?: WebSocket.Options | undefined
  readonly routerConfig?: Partial<HttpLayerRouter.FindMyWay.RouterConfig> | undefined
}

/**
 * Serves the app: runs `main_process_start` and `main_process_ready`, builds the routes, then the
 * `before_server_start` listeners, binds, starts the queued tasks, runs `after_server_start`, and serves.
 * Closing the layer's scope runs `before_server_stop`, stops accepting, lets in-flight requests finish, closes
 * websockets with 1001, stops the app (tasks interrupted within the graceful timeout), runs `after_server_stop`
 * and then `main_process_stop`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <A = never, E = never, R = never, S = never, SE = never, SR = never>(
  options: Options<A, E, R, S, SE, SR>
): Layer.Layer<Server | Workers.Supervisor, ServeError | E | SE, App | Exclude<RoutesContext<R>, S> | SR> =>
  Layer.scopedContext(
    Effect.map(internal.serve(options as unknown as Options<A, E, R>), (running) =>
      Context.make(Server, running.server).pipe(Context.add(Supervisor, running.supervisor))
    )
  ).pipe(Layer.provide(internal.platformLayer)) as Layer.Layer<
    Server | Workers.Supervisor,
    ServeError | E | SE,
    App | Exclude<RoutesContext<R>, S> | SR
  >

/**
 * Serves in the current scope and returns the running server; `layer` is this as a layer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = <A = never, E = never, R = never, S = never, SE = never, SR = never>(
  options: Options<A, E, R, S, SE, SR>
): Effect.Effect<ServerService, ServeError | E | SE, App | Scope.Scope | Exclude<RoutesContext<R>, S> | SR> =>
  Effect.provide(
    Effect.map(internal.serve(options as unknown as Options<A, E, R>), (running) => running.server),
    internal.platformLayer
  ) as Effect.Effect<ServerService, ServeError | E | SE, App | Scope.Scope | Exclude<RoutesContext<R>, S> | SR>

/**
 * The running server's address.
 *
 * @since 0.1.0
 * @category accessors
 */
export const address: Effect.Effect<Address, never, Server> = Effect.map(Server, (server) => server.address)

const requestIdKey = Symbol.for("fiberapp/Server/requestId")

/**
 * The id of a request: generated once per request (a UUID) and the same for every copy the router makes of it.
 *
 * @since 0.1.0
 * @category request
 */
export const requestIdOf = (request: HttpServerRequest.HttpServerRequest): string => {
  if (request instanceof ServerRequest) return request.id
  const own = request as unknown as { [requestIdKey]?: string }
  let id = own[requestIdKey]
  if (id === undefined) {
    id = globalThis.crypto.randomUUID()
    Object.defineProperty(request, requestIdKey, { value: id })
  }
  return id
}

/**
 * The current request's id.
 *
 * @since 0.1.0
 * @category request
 */
export const requestId: Effect.Effect<string, never, HttpServerRequest.HttpServerRequest> = Effect.map(
  HttpServerRequest.HttpServerRequest,
  requestIdOf
)
