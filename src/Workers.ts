/**
 * Workers: several server processes sharing one port, kept by a primary process.
 *
 * With `Server.layer({ workers: N })` (or `WORKERS=N`) and N > 1, the process you start becomes the primary: it runs
 * the `main_process_start` listeners, forks N workers with `node:cluster` (each runs the same entry script and
 * serves), runs `main_process_ready` once every worker has acknowledged its start, and on stop asks every worker to
 * stop, waits for them within the graceful shutdown timeout, kills what remains and runs `main_process_stop`.
 *
 * Unlike Sanic, a worker that exits unexpectedly is restarted (with backoff, see {@link Options.restartSchedule}),
 * workers can be restarted and scaled at run time ({@link restart}, {@link scale}), dispatches with `scope: "all"`
 * reach every worker, and the primary keeps a {@link WorkerInfo} table per worker.
 *
 * @since 0.1.0
 */
import type { Duration, Schema, Scope } from "effect"
import { Effect, Option, type Schedule } from "effect"
import type { App } from "./App.js"
import * as config from "./internal/server/config.js"
import * as defaults from "./internal/workers/defaults.js"
import * as errors from "./internal/workers/errors.js"
import * as managed_ from "./internal/workers/managed.js"
import * as shared_ from "./internal/workers/shared.js"
import type * as Task from "./Task.js"

/**
 * Where a worker is in its life.
 *
 * - `starting`: forked, not yet acknowledged (its app is not serving yet).
 * - `serving`: acknowledged; its app serves.
 * - `stopping`: asked to stop (restart, scale down or shutdown).
 * - `restarting`: exited unexpectedly or failed to start; waits for the backoff before the next start.
 * - `failed`: failed to start too many times in a row; given up until restarted on request.
 * - `stopped`: ended on request.
 *
 * @since 0.1.0
 * @category models
 */
export type WorkerState = "starting" | "serving" | "stopping" | "restarting" | "failed" | "stopped"

/**
 * What a row of the worker table is: a server worker, or a process of a program given to {@link manage}.
 *
 * @since 0.2.0
 * @category models
 */
export type WorkerKind = "server" | "managed"

/**
 * How a worker process ended.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerExit {
  readonly worker: string
  readonly pid: number
  readonly code: number | null
  readonly signal: string | null
  /** Whether it had acknowledged its start: `false` means it failed at start-up. */
  readonly acknowledged: boolean
}

/**
 * One row of the primary's worker table (Sanic's `state`, `pid`, `start_at`, `starts`, `restart_at`, `serving`).
 * Times are epoch milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerInfo {
  /** Stable across restarts: `worker-0`, `worker-1`, ... */
  readonly name: string
  readonly state: WorkerState
  /** The current process, if one is alive. */
  readonly pid: number | undefined
  /** When the current process was started. */
  readonly startedAt: number | undefined
  /** When the current process acknowledged its start. */
  readonly ackedAt: number | undefined
  /** Processes started for this worker, the first one included. */
  readonly starts: number
  /** Processes started after the first one: restarts after a crash or on request. */
  readonly restarts: number
  readonly restartedAt: number | undefined
  readonly serving: boolean
  /** How the previous process of this worker ended. */
  readonly lastExit: WorkerExit | undefined
  /**
   * A server worker, or a managed process ({@link manage}); for a managed one `serving` means its program runs.
   * Always set by fiberapp's supervisors (optional only so that rows made elsewhere stay valid).
   */
  readonly kind?: WorkerKind | undefined
  /** What the process published with {@link setState}; cleared when a new process starts. */
  readonly custom?: Readonly<Record<string, unknown>> | undefined
}

/**
 * A task as the inspector lists it: where it runs and how it is doing, never its result or error.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerTask extends Task.Info {
  readonly worker: string
}

/**
 * Options of `Workers.restart`: which workers, and whether to start each new process before stopping the old.
 *
 * @since 0.1.0
 * @category models
 */
export interface RestartOptions {
  /**
   * The workers to restart, by name (managed processes too). Defaults to all the server workers (and the transient
   * managed processes) in the primary, and to the calling worker itself in a worker (Sanic's `app.m.restart()`).
   */
  readonly workers?: ReadonlyArray<string> | undefined
  /**
   * Every server worker and the transient managed processes, from anywhere (Sanic's `all_workers`). Together with
   * `workers` it fails with `WorkersError` (reason `AmbiguousRestart`).
   */
  readonly all?: boolean | undefined
  /**
   * Start each new process and wait for its acknowledgement before stopping the old one, so no request is refused.
   * Defaults to `true`; `false` stops the old process first (less memory for a moment, but its port share is gone
   * until the new one serves).
   */
  readonly zeroDowntime?: boolean | undefined
}

/**
 * What this process is: the primary of several workers, one of them, or a server alone.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "primary" | "worker" | "single"

/**
 * Runs the workers. The primary has one, and so has a process serving alone (a table of one row, itself), so that
 * the inspector works the same in both. In a worker it is Sanic's `app.m`: every operation is carried to the primary
 * over IPC and answered there, its errors coming back typed.
 *
 * A worker restarting itself (`restart()`, or `restart({ all: true })`) gets its answer before it is replaced: with
 * zero downtime once its replacement serves (a replacement that fails to start comes back as `RestartFailed`, and
 * this process goes on serving), without zero downtime as soon as the primary has accepted the restart. Its own stop
 * follows, gracefully, as on SIGTERM; what the restart does to the other workers after that is logged in the primary.
 * Likewise `scale` down past this worker and `terminate` answer before this process is stopped.
 *
 * @since 0.1.0
 * @category models
 */
export interface SupervisorService {
  readonly mode: Mode
  readonly app: string
  /**
   * This process's name: `worker-0`, ... in a worker, `primary`, or `main` for a process serving alone. The members
   * added in 0.2.0 (`name`, `pid`, `state`, `terminate`, `setState`) are always there in the supervisor `Server.layer`
   * provides; they are optional only so that supervisors written for 0.1 (test stubs) still type-check.
   */
  readonly name?: string | undefined
  readonly pid?: number | undefined
  /** This process's own state (in the primary: `serving` until it stops). */
  readonly state?: Effect.Effect<WorkerState> | undefined
  /**
   * The worker table. In a worker it asks the primary (Sanic's `app.m.workers`); a primary that does not answer in
   * time leaves only this worker's own row, as it knows it (and a warning in the log).
   */
  readonly table: Effect.Effect<ReadonlyArray<WorkerInfo>>
  /** Every worker's recorded tasks. A worker that does not answer in time is left out (and logged). */
  readonly tasks: Effect.Effect<ReadonlyArray<WorkerTask>>
  readonly cancelTask: (
    worker: string,
    name: string
  ) => Effect.Effect<void, WorkerNotFound | Task.TaskNotFound | WorkersError>
  /** Completes once the new processes have acknowledged their start. */
  readonly restart: (options?: RestartOptions) => Effect.Effect<void, WorkerNotFound | WorkersError>
  /** Completes once the added workers have acknowledged their start, or the removed ones have ended. */
  readonly scale: (replicas: number) => Effect.Effect<void, WorkersError>
  /** Stops this process (and so its workers) as SIGTERM does, after the current request has been answered. */
  readonly shutdown: Effect.Effect<void>
  /**
   * Stops the whole server gracefully, as SIGTERM to the primary does (Sanic's `app.m.terminate()`); from a worker
   * it asks the primary, and completes once the primary has accepted.
   */
  readonly terminate?: Effect.Effect<void, WorkersError> | undefined
  /**
   * Publishes values of this process's own state in its row of the worker table (`custom`), merged into what it
   * published before (`undefined` removes a key). See {@link setState}.
   */
  readonly setState?: ((values: Readonly<Record<string, unknown>>) => Effect.Effect<void, WorkersError>) | undefined
}

/**
 * Options of the primary.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The script workers run: the entry script again by default (`process.argv[1]`), with the same arguments and
   * Node options (so `tsx` and `--import` loaders carry over).
   */
  readonly exec?: string | undefined
  /** How long a worker has to acknowledge its start before it is killed and counted as failed. Defaults to 30 s. */
  readonly startTimeout?: Duration.DurationInput | undefined
  /**
   * When to start a worker again after it exited unexpectedly or failed to start; it gets the {@link WorkerExit}.
   * It is reset once a worker has served for 10 seconds, so it counts consecutive failures (a worker that exits
   * soon after acknowledging its start counts as failing to start), and when it ends the worker is given up
   * (`failed`). Defaults to {@link defaultRestartSchedule}.
   */
  readonly restartSchedule?: Schedule.Schedule<unknown, WorkerExit> | undefined
}

/**
 * 250 ms, doubling up to 10 s between attempts, and at most 5 attempts after a failure: a worker that crashes
 * at every start is given up after about 8 seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRestartSchedule: Schedule.Schedule<unknown, WorkerExit> = defaults.defaultRestartSchedule

/**
 * The default time a worker has to acknowledge its start.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultStartTimeout: Duration.DurationInput = defaults.defaultStartTimeout

/**
 * A worker operation failed: `reason` says what kind of problem, `message` says it in words.
 *
 * @since 0.1.0
 * @category errors
 */
export const WorkersError: typeof errors.WorkersError = errors.WorkersError

/**
 * The type of a `WorkersError` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type WorkersError = errors.WorkersError

/**
 * What kind of problem a worker operation ran into.
 *
 * @since 0.1.0
 * @category models
 */
export type WorkersErrorReason = errors.WorkersErrorReason

/**
 * No worker has this name.
 *
 * @since 0.1.0
 * @category errors
 */
export const WorkerNotFound: typeof errors.WorkerNotFound = errors.WorkerNotFound

/**
 * The type of a `WorkerNotFound` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type WorkerNotFound = errors.WorkerNotFound

/**
 * A shared value could not be set or read; `reason` says why (`ReadOnly`, `Sealed`, `NotEncodable`, `NotJson`,
 * `NotDecodable`, `NotSet`).
 *
 * @since 0.1.0
 * @category errors
 */
export const SharedValueError: typeof errors.SharedValueError = errors.SharedValueError

/**
 * The type of a `SharedValueError` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type SharedValueError = errors.SharedValueError

/**
 * Why a shared value could not be set or read.
 *
 * @since 0.1.0
 * @category models
 */
export type SharedValueErrorReason = errors.SharedValueErrorReason

/**
 * The supervisor of this process's workers, as `Server.layer` provides it (to handlers too): the primary's, a table of
 * one row in a process serving alone, or in a worker Sanic's `app.m`, whose operations the primary answers.
 *
 * @since 0.1.0
 * @category tags
 */
export const Supervisor: typeof errors.Supervisor = errors.Supervisor

/**
 * The type of a `Supervisor` value.
 *
 * @since 0.1.0
 * @category tags
 */
export type Supervisor = errors.Supervisor

/**
 * Whether this process is a worker forked by a primary (read from the `FIBERAPP_WORKER` setting the primary gives it).
 *
 * @since 0.1.0
 * @category accessors
 */
export const isWorker: Effect.Effect<boolean> = Effect.map(config.workerName, Option.isSome)

/**
 * This worker's name (`worker-0`, ...), or `None` outside a worker.
 *
 * @since 0.1.0
 * @category accessors
 */
export const workerName: Effect.Effect<Option.Option<string>> = config.workerName

/**
 * This process's supervisor, from the `Supervisor` service that `Server.layer` provides.
 *
 * @since 0.1.0
 * @category accessors
 */
export const supervisor: Effect.Effect<SupervisorService, never, Supervisor> = Supervisor

/**
 * The worker table.
 *
 * @since 0.1.0
 * @category accessors
 */
export const table: Effect.Effect<ReadonlyArray<WorkerInfo>, WorkersError, Supervisor> = Effect.flatMap(
  Supervisor,
  (s) => s.table
)

/**
 * Restarts some or all workers, possibly without downtime.
 *
 * @since 0.1.0
 * @category accessors
 */
export const restart = (options?: RestartOptions): Effect.Effect<void, WorkerNotFound | WorkersError, Supervisor> =>
  Effect.flatMap(Supervisor, (s) => s.restart(options))

/**
 * Changes the number of workers.
 *
 * @since 0.1.0
 * @category accessors
 */
export const scale = (replicas: number): Effect.Effect<void, WorkersError, Supervisor> =>
  Effect.flatMap(Supervisor, (s) => s.scale(replicas))

/**
 * Stops the whole server gracefully (Sanic's `app.m.terminate()`): from a worker, the primary stops every worker and
 * itself as on SIGTERM.
 *
 * @since 0.2.0
 * @category accessors
 */
export const terminate: Effect.Effect<void, WorkersError, Supervisor> = Effect.flatMap(
  Supervisor,
  (s) => s.terminate ?? s.shutdown
)

/**
 * Publishes a few values of this worker's own state (JSON) in its row of the worker table (`custom`), which the
 * inspector shows in the row (Sanic's `app.m.state[...] = ...`). The values are merged into those published before;
 * `undefined` removes a key. A key the table's rows already use (`name`, `state`, `pid`, ...) fails with
 * `WorkersError` (reason `ReservedKey`), a value that does not survive JSON with reason `NotJson`; in a primary,
 * which has no row of its own, with reason `NotAWorker`. Completes once the table shows the values.
 *
 * @since 0.2.0
 * @category accessors
 */
export const setState = (values: Readonly<Record<string, unknown>>): Effect.Effect<void, WorkersError, Supervisor> =>
  Effect.flatMap(Supervisor, (s) =>
    s.setState === undefined
      ? Effect.fail(new errors.WorkersError({ reason: "NotAWorker", detail: "This supervisor does not keep state." }))
      : s.setState(values)
  )

/**
 * Options of {@link manage}, with Sanic's defaults.
 *
 * @since 0.2.0
 * @category models
 */
export interface ManageOptions {
  /**
   * Started again with the restart schedule when its process fails (exits with an error or is killed), and may be
   * restarted on request (`restart({ workers: [name] })`, the inspector). Defaults to `transient`.
   */
  readonly restartable?: boolean | undefined
  /** Restarted with the server workers on a restart of all of them (and by auto-reload). Defaults to `false`. */
  readonly transient?: boolean | undefined
  /** Kept in the worker table once its process has ended for good. Defaults to `true`. */
  readonly tracked?: boolean | undefined
  /** Started with the server; otherwise on the first `restart` naming it (it must be `restartable`). Defaults to `true`. */
  readonly autoStart?: boolean | undefined
  /** How many processes run the program: one is named `name`, several `name-0`, `name-1`, ... Defaults to 1. */
  readonly workers?: number | undefined
}

/**
 * Registers a program that the primary runs in a process of its own beside the server workers (Sanic's
 * `app.manager.manage`): a queue consumer, a scheduler. Call it before the server starts (before `Server.layer` is
 * built), in the entry script that every process runs: the primary starts the process (the same entry script, with
 * `FIBERAPP_MANAGED` naming the program), and that process runs only this program, with the `App` service and the
 * shared values, never serving nor starting the app (no listeners, no tasks). It ends with the program: with code 0
 * when it succeeds, 1 when it fails. The primary watches it, restarts it per its options with the workers' restart
 * schedule, lists it in the worker table (`kind: "managed"`) and the inspector, and stops it (interrupting the program,
 * as SIGTERM) on shutdown.
 *
 * With managed programs registered, a server with `workers: 1` still runs a primary (and one worker), as the primary is
 * what starts them. Fails with `WorkersError`: `NameInUse` for a name already registered, `InvalidManaged` for a bad
 * name or `workers` count or a transient program that is not restartable (as Sanic), `Sealed` once the server has
 * started.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { App, Server, Workers } from "fiberapp"
 *
 * const consumer = Effect.log("consuming").pipe(Effect.repeat({ times: 3 }))
 *
 * Server.layer({ port: 8000 }).pipe(
 *   Layer.provide(Layer.effectDiscard(Workers.manage("consumer", consumer, { restartable: true }))),
 *   Layer.provideMerge(App.layer({ name: "managed" })),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const manage = <E>(
  name: string,
  program: Effect.Effect<unknown, E, App | Scope.Scope>,
  options?: ManageOptions
): Effect.Effect<void, WorkersError, App> => managed_.register(name, program, options)

/**
 * The name of the managed program this process runs (`FIBERAPP_MANAGED`, given by the primary), or `None`.
 *
 * @since 0.2.0
 * @category accessors
 */
export const managedName: Effect.Effect<Option.Option<string>> = config.managedName

/**
 * A value set in the primary (in a `main_process_start` listener) and read in every worker: Sanic's `shared_ctx`,
 * typed. It crosses to the workers encoded with its schema, so the encoded form must survive JSON. The values live in
 * the app, so reading and setting them needs `App` (listeners, tasks and handlers have it).
 *
 * @since 0.1.0
 * @category models
 */
export interface SharedValue<A> {
  readonly key: string
  /** Fails in a worker (read-only there) and in the primary once the workers have been forked. */
  readonly set: (value: A) => Effect.Effect<void, SharedValueError, App>
  /** Fails when the value was never set. */
  readonly get: Effect.Effect<A, SharedValueError, App>
  /** The value, if it was set. */
  readonly getOption: Effect.Effect<Option.Option<A>, SharedValueError, App>
}

/**
 * Declares a shared value. Declare it at module level so that the primary and the workers (which run the same
 * entry script) agree on its key and schema.
 *
 * @example
 * ```ts
 * import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer, Schema } from "effect"
 * import { App, Server, Workers } from "fiberapp"
 *
 * const Settings = Workers.shared("settings", Schema.Struct({ started: Schema.DateFromString }))
 *
 * // set once in the primary, read in every worker
 * const setup = App.listener("main_process_start", Settings.set({ started: new Date() }))
 * const routes = HttpLayerRouter.add(
 *   "GET",
 *   "/started",
 *   Effect.map(Settings.get, ({ started }) => HttpServerResponse.text(started.toISOString())).pipe(Effect.orDie)
 * )
 *
 * Server.layer({ routes, workers: 2 }).pipe(
 *   Layer.provide(Layer.effectDiscard(setup)),
 *   Layer.provideMerge(App.layer({ name: "shared" })),
 *   Layer.launch,
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const shared = <A, I>(key: string, schema: Schema.Schema<A, I>): SharedValue<A> => shared_.make(key, schema)
