import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { DispatchOptions } from "../../Events.js"
import type { Address, ServerService } from "../../Server.js"
import type { Mode, SupervisorService, Options as WorkersOptions } from "../../Workers.js"
import * as Reach from "../app/reach.js"
import { App, type StartError } from "../app/service.js"
import { maxEventBytes } from "../fleet/errors.js"
import type * as Member from "../fleet/member.js"
import type { FleetSettings } from "../fleet/settings.js"
import { hooksOf } from "../hooks.js"
import { Commands } from "../inspector/commands.js"
import type { Resolved } from "../server/config.js"
import { ServeError } from "../server/errors.js"
import { WorkersError } from "./errors.js"
import * as Managed from "./managed.js"
import * as Primary from "./primary.js"
import type { WorkerMetrics } from "./questions.js"
import * as Single from "./single.js"
import { singleName } from "./single.js"
import * as Worker from "./worker.js"

export interface RunOptions<E, R> {
  readonly resolved: Resolved
  readonly workerOptions: WorkersOptions | undefined
  /** The whole sequence of a process serving alone, `main_process_*` listeners included. */
  readonly single: (supervisor: SupervisorService) => Effect.Effect<ServerService, E, R | Scope.Scope>
  /** One worker's sequence: bind, start the app; `listenerClosed` waits until the primary has seen the close. */
  readonly worker: (
    listenerClosed: Effect.Effect<void>,
    supervisor: SupervisorService
  ) => Effect.Effect<ServerService, E, R | Scope.Scope>
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
    if (Option.isSome(resolved.managed)) {
      // A process the primary started for a program of `Workers.manage`: it runs that program, never serves.
      return yield* Managed.run(app, resolved.managed.value).pipe(Effect.mapError(toServeError))
    }
    if (Option.isSome(resolved.worker)) {
      const worker = resolved.worker.value
      yield* hooksOf(app).useLogAnnotations({ worker })
      if (Option.isSome(resolved.fleet)) yield* runner(app, resolved.fleet.value, worker, resolved.workers)
      const { served: server, supervisor } = yield* Worker.run(
        app,
        options.worker,
        Option.isSome(resolved.fleet) ? { fleet: { maxContextBytes: maxEventBytes } } : undefined
      ).pipe(
        Effect.mapError((error) => mapWorkers(error)),
        Effect.annotateLogs("worker", worker)
      )
      return { server, supervisor }
    }
    // The inspector binds first, so that a port in use fails the start before anything says "Listening"; until the
    // server is up, its requests wait for the supervisor.
    const ready = yield* Deferred.make<SupervisorService>()
    /** The workers' metrics for `/metrics`, once they run (none when serving alone). */
    const workersMetrics = yield* Deferred.make<Effect.Effect<ReadonlyArray<WorkerMetrics>>>()
    // Auto-reload and managed processes need a primary to restart and start processes, even for one worker.
    const supervised = resolved.workers > 1 || resolved.autoReload || hooksOf(app).managed.size > 0
    // The fleet's database answers before anything forks or binds: a bad URL fails the start in one line.
    const fleet = Option.isSome(resolved.fleet) ? yield* connectFleet(resolved.fleet.value, app) : undefined
    let inspector: { readonly host: string; readonly port: number } | undefined
    if (Option.isSome(resolved.inspector)) {
      // Loaded only when on: workers and most servers never pay for the inspector's HTTP stack.
      const Inspector = yield* Effect.promise(() => import("../inspector/http.js"))
      const commands = yield* Effect.serviceOption(Commands)
      inspector = yield* Inspector.serve(
        awaiting(ready, supervised ? "primary" : "single", app.name),
        resolved.inspector.value,
        Option.getOrUndefined(commands),
        fleet === undefined ? undefined : Deferred.await(fleet.member),
        {
          self: supervised ? "primary" : undefined,
          workers: Effect.flatten(Deferred.await(workersMetrics))
        }
      ).pipe(
        Effect.mapError((error) => new ServeError({ reason: "InspectorFailed", detail: error.message, origin: error }))
      )
    }
    let running: Running
    let reach: Reach.Reach | undefined
    if (supervised) {
      yield* hooksOf(app).useLogAnnotations({ worker: "primary" })
      const primary = yield* Primary.make({
        ...options.workerOptions,
        app,
        workers: resolved.workers,
        autoReload: resolved.autoReload,
        ...(fleet !== undefined ? { outbound: fleet.publish, maxContextBytes: () => maxEventBytes } : {}),
        gracefulShutdownTimeout:
          resolved.gracefulShutdownTimeout === undefined
            ? app.gracefulShutdownTimeout
            : Duration.max(app.gracefulShutdownTimeout, resolved.gracefulShutdownTimeout)
      }).pipe(Effect.mapError(toServeError), Effect.annotateLogs("worker", "primary"))
      const address = primary.address ?? { hostname: resolved.host, port: resolved.port }
      running = { server: { address, url: options.formatUrl(address) }, supervisor: primary.supervisor }
      reach = primary.reach
      yield* Deferred.succeed(workersMetrics, primary.metrics)
      if (fleet !== undefined) yield* fleet.join(running.server.url, running.supervisor, primary.deliver)
    } else {
      if (fleet !== undefined) {
        yield* runner(app, fleet.settings, undefined, 1)
        yield* hooksOf(app).useTransport({ publish: fleet.publish, maxContextBytes: () => maxEventBytes })
      }
      // Made first, so that handlers reach the same supervisor (`Workers.supervisor`) as the server's layer gives.
      const supervisor = Single.make(app)
      const server = yield* options.single(supervisor)
      running = { server, supervisor }
      if (fleet !== undefined) {
        yield* fleet.join(server.url, running.supervisor, (event, dispatch) =>
          Effect.ignore(hooksOf(app).dispatchLocal(event, dispatch))
        )
      }
    }
    yield* Deferred.succeed(workersMetrics, Effect.succeed([]))
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
    shutdown: later((supervisor) => supervisor.shutdown),
    name: mode === "primary" ? "primary" : singleName,
    pid: process.pid,
    state: later((supervisor) => supervisor.state ?? Effect.succeed("serving" as const)),
    terminate: later((supervisor) => supervisor.terminate ?? supervisor.shutdown),
    setState: (values) =>
      later(
        (supervisor) =>
          supervisor.setState?.(values) ??
          Effect.fail(new WorkersError({ reason: "NotAWorker", detail: "This supervisor does not keep state." }))
      )
  }
}

const fleetFailed = (error: { readonly message: string }) =>
  new ServeError({ reason: "FleetFailed", detail: error.message, origin: error })

/** The fleet's packages are optional peers: one that is not installed is a start failure that says what to install. */
const loadFleet = <A>(load: () => Promise<A>): Effect.Effect<A, ServeError> =>
  Effect.tryPromise({
    try: load,
    catch: (error) =>
      new ServeError({
        reason: "FleetFailed",
        detail:
          `A fleet needs packages that are not installed (${error instanceof Error ? error.message.split("\n")[0] : String(error)}): ` +
          "npm install @effect/cluster@0.60 @effect/rpc@0.76 @effect/sql@0.52 @effect/sql-pg@0.53 @effect/workflow@0.19 " +
          "@effect/experimental@0.61 pg@8",
        origin: error
      })
  })

/** This process as a runner of the fleet's cluster: it places the one-in-fleet tasks it adds. */
const runner = (app: App["Type"], settings: FleetSettings, worker: string | undefined, workers: number) =>
  Effect.gen(function* () {
    // Loaded only in a fleet: a server without one never loads cluster or the database driver.
    const Runner = yield* loadFleet(() => import("../fleet/runner.js"))
    const index = worker === undefined ? 0 : Number(worker.slice(worker.lastIndexOf("-") + 1)) || 0
    const placement = yield* Runner.make({ settings, app: app.name, worker, index, workers }).pipe(
      Effect.mapError(fleetFailed)
    )
    yield* hooksOf(app).useFleetPlacement(placement)
  })

/**
 * The machine's side of a fleet: the database checked first; then, once the server is up, the membership (the
 * heartbeat and the channel). Dispatches made before that leave as soon as it is there.
 */
const connectFleet = (settings: FleetSettings, app: App["Type"]) =>
  Effect.gen(function* () {
    const [Bus, Membership] = yield* loadFleet(() =>
      Promise.all([import("../fleet/bus.js"), import("../fleet/member.js")])
    )
    const database = yield* Bus.connect(settings, "primary").pipe(Effect.mapError(fleetFailed))
    const member = yield* Deferred.make<Member.Member | undefined>()
    const publish = (event: string, dispatch: DispatchOptions): Effect.Effect<void> =>
      Deferred.await(member).pipe(
        Effect.flatMap((joined) => (joined === undefined ? Effect.void : joined.publish(event, dispatch))),
        Effect.catchAll((error) =>
          Effect.logWarning(`Fleet: event "${event}" did not reach the other machines: ${error.message}`)
        ),
        Effect.forkDaemon,
        Effect.asVoid
      )
    const join = (
      url: string,
      supervisor: SupervisorService,
      deliver: (event: string, options: DispatchOptions) => Effect.Effect<void>
    ) =>
      Effect.tap(Membership.make({ settings, database, app: app.name, url, supervisor, deliver }), (joined) =>
        Deferred.succeed(member, joined)
      )
    yield* Effect.addFinalizer(() => Deferred.succeed(member, undefined))
    return { settings, member, publish, join }
  })

const mapWorkers = <E>(error: E | WorkersError): E | ServeError =>
  error instanceof WorkersError ? toServeError(error) : error
