import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Address, ServerService } from "../../Server.js"
import type { Mode, SupervisorService, Options as WorkersOptions } from "../../Workers.js"
import * as Reach from "../app/reach.js"
import { App, type StartError } from "../app/service.js"
import { hooksOf } from "../hooks.js"
import { Commands } from "../inspector/commands.js"
import type { Resolved } from "../server/config.js"
import { ServeError } from "../server/errors.js"
import { WorkersError } from "./errors.js"
import * as Primary from "./primary.js"
import * as Single from "./single.js"
import * as Worker from "./worker.js"

export interface RunOptions<E, R> {
  readonly resolved: Resolved
  readonly workerOptions: WorkersOptions | undefined
  /** The whole sequence of a process serving alone, `main_process_*` listeners included. */
  readonly single: Effect.Effect<ServerService, E, R | Scope.Scope>
  /** One worker's sequence: bind, start the app; `listenerClosed` waits until the primary has seen the close. */
  readonly worker: (listenerClosed: Effect.Effect<void>) => Effect.Effect<ServerService, E, R | Scope.Scope>
  readonly formatUrl: (address: Address) => string
}

/** What a server process runs as: its address, and the supervisor of its workers. */
export interface Running {
  readonly server: ServerService
  readonly supervisor: SupervisorService
}

const toServeError = (error: WorkersError | StartError): ServeError =>
  new ServeError({
    reason: "WorkersFailed",
    detail:
      error._tag === "StartError"
        ? `A ${error.listener ?? "main process"} listener failed: ${error.detail}`
        : error.message,
    ...(error._tag === "StartError" && error.listener !== undefined ? { listener: error.listener } : {}),
    origin: error
  })

/** In a worker, the supervisor's operations belong to the primary. */
const workerSupervisor = (app: string): SupervisorService => {
  const refuse = Effect.fail(
    new WorkersError({
      reason: "NotSupervisor",
      detail: "Workers are supervised by the primary process; this is a worker."
    })
  )
  return {
    mode: "worker",
    app,
    table: Effect.succeed([]),
    tasks: Effect.succeed([]),
    cancelTask: () => refuse,
    restart: () => refuse,
    scale: () => refuse,
    shutdown: Effect.void
  }
}

/**
 * Where the server decides what this process is: a worker forked by a primary (serve, acknowledge), the primary of
 * several workers (supervise, never serve), or a process serving alone. The inspector runs in the latter two.
 */
export const run = <E, R>(options: RunOptions<E, R>): Effect.Effect<Running, ServeError | E, R | App | Scope.Scope> =>
  Effect.flatMap(App, (app) => Effect.annotateLogs(running(app, options), "app", app.name))

/**
 * Every log of the server, its workers and its request fibers carries the app's name, and with workers the process's
 * (`worker-0`, ..., or `primary`): annotated once, here.
 */
const running = <E, R>(
  app: App["Type"],
  options: RunOptions<E, R>
): Effect.Effect<Running, ServeError | E, R | App | Scope.Scope> =>
  Effect.gen(function* () {
    const { resolved } = options
    if (Option.isSome(resolved.worker)) {
      const worker = resolved.worker.value
      yield* hooksOf(app).useLogAnnotations({ worker })
      const server = yield* Worker.run(app, options.worker).pipe(
        Effect.mapError((error) => mapWorkers(error)),
        Effect.annotateLogs("worker", worker)
      )
      return { server, supervisor: workerSupervisor(app.name) }
    }
    // The inspector binds first, so that a port in use fails the start before anything says "Listening"; until the
    // server is up, its requests wait for the supervisor.
    const ready = yield* Deferred.make<SupervisorService>()
    let inspector: { readonly host: string; readonly port: number } | undefined
    if (Option.isSome(resolved.inspector)) {
      // Loaded only when on: workers and most servers never pay for the inspector's HTTP stack.
      const Inspector = yield* Effect.promise(() => import("../inspector/http.js"))
      const commands = yield* Effect.serviceOption(Commands)
      inspector = yield* Inspector.serve(
        awaiting(ready, resolved.workers > 1 ? "primary" : "single", app.name),
        resolved.inspector.value,
        Option.getOrUndefined(commands)
      ).pipe(
        Effect.mapError((error) => new ServeError({ reason: "InspectorFailed", detail: error.message, origin: error }))
      )
    }
    let running: Running
    let reach: Reach.Reach | undefined
    if (resolved.workers > 1) {
      yield* hooksOf(app).useLogAnnotations({ worker: "primary" })
      const primary = yield* Primary.make({
        ...options.workerOptions,
        app,
        workers: resolved.workers,
        gracefulShutdownTimeout:
          resolved.gracefulShutdownTimeout === undefined
            ? app.gracefulShutdownTimeout
            : Duration.max(app.gracefulShutdownTimeout, resolved.gracefulShutdownTimeout)
      }).pipe(Effect.mapError(toServeError), Effect.annotateLogs("worker", "primary"))
      const address = primary.address ?? { hostname: resolved.host, port: resolved.port }
      running = { server: { address, url: options.formatUrl(address) }, supervisor: primary.supervisor }
      reach = primary.reach
    } else {
      const server = yield* options.single
      running = { server, supervisor: Single.make(app) }
    }
    yield* hooksOf(app).useReach(reach ?? Reach.ofSupervisor(running.supervisor))
    yield* Deferred.succeed(ready, running.supervisor)
    if (inspector !== undefined)
      yield* Effect.logInfo(`Inspector listening on http://${inspector.host}:${inspector.port}`)
    return running
  })

/** A supervisor whose operations wait until the real one exists. */
const awaiting = (ready: Deferred.Deferred<SupervisorService>, mode: Mode, app: string): SupervisorService => {
  const later = <A, E>(f: (supervisor: SupervisorService) => Effect.Effect<A, E>) =>
    Effect.flatMap(Deferred.await(ready), f)
  return {
    mode,
    app,
    table: later((supervisor) => supervisor.table),
    tasks: later((supervisor) => supervisor.tasks),
    cancelTask: (worker, name) => later((supervisor) => supervisor.cancelTask(worker, name)),
    restart: (restartOptions) => later((supervisor) => supervisor.restart(restartOptions)),
    scale: (replicas) => later((supervisor) => supervisor.scale(replicas)),
    shutdown: later((supervisor) => supervisor.shutdown)
  }
}

const mapWorkers = <E>(error: E | WorkersError): E | ServeError =>
  error instanceof WorkersError ? toServeError(error) : error
