/**
 * The application: named background tasks on an app-scoped `FiberMap`, events, and lifecycle listeners.
 * Tasks reach the app, and the app reaches tasks, through the `App` service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { App } from "fiberapp"
 *
 * const program = Effect.gen(function* () {
 *   // queued until the app starts, then started (on every worker when served with workers)
 *   yield* App.addTask(Effect.log("slow work"), { name: "slow_work" })
 *   yield* App.start
 *   yield* App.cancelTask("slow_work")
 *   return yield* App.purgeTasks
 * })
 *
 * Effect.runPromise(Effect.scoped(Effect.provide(program, App.layer({ name: "demo" }))))
 * ```
 *
 * @since 0.1.0
 */

import type { Cause, Cron, Duration, Exit, Option, Schedule, Scope } from "effect"
import { Effect, Layer, Stream } from "effect"
import type {
  DispatchOptions,
  EventContext,
  EventsOptions,
  EventTimeout,
  Handler,
  InvalidEventName,
  InvalidEventsOptions,
  InvalidEventTimeout,
  ReservedEventName,
  SignalOptions,
  UnserializableEventContext,
  WaitOptions
} from "./Events.js"
import * as internal from "./internal/app/make.js"
import * as service from "./internal/app/service.js"
import type {
  InvalidTaskName,
  InvalidTaskOptions,
  Placement,
  Task,
  TaskNameInUse,
  TaskNotFound,
  TaskTimeout
} from "./Task.js"
import type { WorkerNotFound, WorkersError, WorkerTask } from "./Workers.js"

/**
 * Where the app is in its life. An app starts once; closing the scope of a serving app stops it.
 *
 * @since 0.1.0
 * @category models
 */
export type State = "idle" | "starting" | "serving" | "stopping" | "stopped"

/**
 * The lifecycle listener kinds, as Sanic names them. The `reload_*` kinds run in the primary when auto-reload is on
 * (see `Server.Options.autoReload`): `reload_process_start` / `reload_process_stop` when the file watcher starts and
 * stops, `before_reload_trigger` / `after_reload_trigger` around each restart a file change causes.
 *
 * @since 0.1.0
 * @category models
 */
export type ListenerKind =
  | "main_process_start"
  | "main_process_ready"
  | "main_process_stop"
  | "before_server_start"
  | "after_server_start"
  | "before_server_stop"
  | "after_server_stop"
  | "reload_process_start"
  | "reload_process_stop"
  | "before_reload_trigger"
  | "after_reload_trigger"

/**
 * What `addTask` accepts: an effect, or a function of the app returning one.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskInput<A, E, R> = Effect.Effect<A, E, R> | ((app: AppService) => Effect.Effect<A, E, R>)

/**
 * Options of `addTask`: a name, whether a named task is recorded, and its policy: when it runs (`schedule`), how a
 * failing run is retried (`retry`), how long a run may take (`timeout`) and where it runs (`placement`).
 *
 * @since 0.1.0
 * @category models
 */
export interface AddTaskOptions<A = unknown, E = unknown> {
  readonly name?: string | undefined
  /** Record a named task so that `getTask`, `cancelTask` and `tasks` see it. Defaults to `true`. */
  readonly register?: boolean | undefined
  /**
   * Runs the task again and again. With a `Schedule`, the first run starts at once and the schedule, fed each run's
   * exit, decides the next when a run ends (as `Effect.repeat`). With a `Cron` or a cron string, runs start at each
   * matching time, and the ticks that come due while a run is still going are skipped. A failed run is reported and
   * the schedule goes on; the task ends when its schedule does, with the last run's exit.
   */
  readonly schedule?: Schedule.Schedule<unknown, Exit.Exit<A, E | TaskTimeout>> | Cron.Cron | string | undefined
  /** The time zone of a cron string (an IANA name such as `"Europe/Paris"`). Defaults to UTC. */
  readonly timeZone?: string | undefined
  /** Retries a failing run, fed its cause, as long as the schedule goes on; interruption is never retried. */
  readonly retry?: Schedule.Schedule<unknown, Cause.Cause<E | TaskTimeout>> | undefined
  /** Bounds each attempt of each run: past it the run is interrupted and fails with `TaskTimeout`. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Where the task runs when the server has several workers. Defaults to `"every-worker"`. */
  readonly placement?: Placement | undefined
}

/**
 * The error a task's handle may end with: the task's own, and `TaskTimeout` when its options set a `timeout`.
 *
 * @since 0.2.0
 * @category models
 */
export type TaskError<E, O> = "timeout" extends keyof O
  ? O extends { readonly timeout?: infer T }
    ? [T] extends [undefined]
      ? E
      : E | TaskTimeout
    : E
  : E

/**
 * Options of `App.make` and `App.layer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions {
  readonly name: string
  /** How long stopping may take before the tasks still running are abandoned. Defaults to 15 seconds. */
  readonly gracefulShutdownTimeout?: Duration.DurationInput | undefined
  /**
   * How long the record of a finished task stays visible: `purgeTasks` drops only those that ended longer ago than
   * this. Defaults to 0 (every finished task).
   */
  readonly taskRetention?: Duration.DurationInput | undefined
  /**
   * Whether the app records its metrics (tasks, events, HTTP requests, websockets, worker restarts; see `GET /metrics`
   * on the inspector). Defaults to `true`; `false` spares an app that never reads them their small cost.
   */
  readonly metrics?: boolean | undefined
}

/**
 * The app could not start: it was not idle (`NotIdle`), it was stopped while starting (`StoppedWhileStarting`), or a
 * start listener failed (`ListenerFailed`, with `listener`, `position` and `cause`).
 *
 * @since 0.1.0
 * @category errors
 */
export const StartError: typeof service.StartError = service.StartError

/**
 * The type of a `StartError` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type StartError = service.StartError

/**
 * Why an app did not start.
 *
 * @since 0.1.0
 * @category models
 */
export type StartErrorReason = service.StartErrorReason

/**
 * The options given to `App.make` or `App.layer` are unusable (`InvalidName`, `InvalidGracefulShutdownTimeout`, with
 * the `value` given). `App.layer` dies with it, as its type has no error.
 *
 * @since 0.1.0
 * @category errors
 */
export const InvalidAppOptions: typeof service.InvalidAppOptions = service.InvalidAppOptions

/**
 * The type of a `InvalidAppOptions` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type InvalidAppOptions = service.InvalidAppOptions

/**
 * Which option given to `App.make` is unusable.
 *
 * @since 0.1.0
 * @category models
 */
export type InvalidAppOptionsReason = service.InvalidAppOptionsReason

/**
 * The application service.
 *
 * @since 0.1.0
 * @category models
 */
export interface AppService {
  /** The app's name, as given to `App.make`; logs carry it as the `app` annotation. */
  readonly name: string
  /** How long a stop may take before the tasks still running are abandoned. */
  readonly gracefulShutdownTimeout: Duration.Duration
  /** Where the app is in its life. */
  readonly state: Effect.Effect<State>
  /** `idle` to `serving`: start listeners, then the queued tasks. `Server.layer` does this for you. */
  readonly start: Effect.Effect<void, StartError>
  /** `serving` to `stopped`: stop listeners, every task interrupted, within the graceful timeout. */
  readonly stop: Effect.Effect<void>
  /** Registers a lifecycle listener; it runs with the services in context here, the app among them. */
  readonly listener: <R>(
    kind: ListenerKind,
    effect: Effect.Effect<unknown, unknown, R>,
    options?: { readonly priority?: number | undefined }
  ) => Effect.Effect<void, never, Exclude<R, App>>
  /**
   * Adds a background task: started now while serving, queued until the start otherwise. Once the app has stopped,
   * the task never runs: it is recorded as cancelled at once (and a warning is logged, once per app).
   */
  readonly addTask: <A, E, R, const O extends AddTaskOptions<A, E> = {}>(
    task: TaskInput<A, E, R>,
    options?: O
  ) => Effect.Effect<Task<A, TaskError<E, O>>, TaskNameInUse | InvalidTaskName | InvalidTaskOptions, Exclude<R, App>>
  /** The registered task with this name, or `TaskNotFound`. */
  readonly getTask: {
    (name: string, options?: { readonly scope?: "local" | undefined }): Effect.Effect<Task, TaskNotFound>
    /** With `scope: "all"`: a read-only view of the task on every worker that has it (through the primary). */
    (
      name: string,
      options: { readonly scope: "all" }
    ): Effect.Effect<ReadonlyArray<WorkerTask>, TaskNotFound | WorkersError>
  }
  /** The registered task with this name, if any. */
  readonly findTask: {
    (name: string, options?: { readonly scope?: "local" | undefined }): Effect.Effect<Option.Option<Task>>
    /** With `scope: "all"`: the views of the task on every worker that has it; none is an empty list. */
    (name: string, options: { readonly scope: "all" }): Effect.Effect<ReadonlyArray<WorkerTask>, WorkersError>
  }
  /** Interrupts the task and returns once its finalizers have run; its record stays until purged. */
  readonly cancelTask: {
    (
      name: string,
      options?: { readonly reason?: string | undefined; readonly scope?: "local" | undefined }
    ): Effect.Effect<void, TaskNotFound>
    /**
     * With `scope: "all"`: on every worker that has it (or on `worker`), through the primary; `TaskNotFound` when
     * none has it.
     */
    (
      name: string,
      options: { readonly reason?: string | undefined; readonly scope: "all"; readonly worker?: string | undefined }
    ): Effect.Effect<void, TaskNotFound | WorkerNotFound | WorkersError>
  }
  /**
   * The recorded tasks of this process (as `tasks`), or with `scope: "all"` a read-only view of every worker's,
   * through the primary (a one-worker task once).
   */
  readonly listTasks: {
    (options?: { readonly scope?: "local" | undefined }): Effect.Effect<ReadonlyArray<Task>>
    (options: { readonly scope: "all" }): Effect.Effect<ReadonlyArray<WorkerTask>, WorkersError>
  }
  /** Drops the records of finished tasks (those that ended before the `taskRetention`) and says how many. */
  readonly purgeTasks: Effect.Effect<number>
  /** The recorded tasks, in the order they were added. */
  readonly tasks: Effect.Effect<ReadonlyArray<Task>>
  /** Wakes the waiters of `event` and runs its handlers (see `Events`). */
  readonly dispatch: (
    event: string,
    options?: DispatchOptions
  ) => Effect.Effect<void, InvalidEventName | UnserializableEventContext>
  /** Waits for the next dispatch of `event` and gives its context. */
  readonly event: (
    event: string,
    options?: WaitOptions
  ) => Effect.Effect<EventContext, EventTimeout | InvalidEventName | InvalidEventTimeout>
  /**
   * Every dispatch of `event` from the moment the stream runs (not when this is called), as a `Stream` buffered
   * for its reader (see `Events.EventsOptions`): unlike a loop of `event`, none is missed while the reader works.
   * Ends, after what was buffered, when the app's scope closes.
   */
  readonly events: (
    event: string,
    options?: EventsOptions
  ) => Stream.Stream<EventContext, InvalidEventName | InvalidEventsOptions>
  /** Registers a handler for `event`; succeeds with the effect that removes it. */
  readonly signal: <R>(
    event: string,
    handler: Handler<R>,
    options?: SignalOptions
  ) => Effect.Effect<Effect.Effect<void>, InvalidEventName | ReservedEventName, Exclude<R, App>>
}

/**
 * The application service's tag: what tasks, listeners and handlers ask for to reach the app.
 *
 * @since 0.1.0
 * @category tags
 */
export const App: typeof service.App = service.App

/**
 * The type of a `App` value.
 *
 * @since 0.1.0
 * @category tags
 */
export type App = service.App

/**
 * Builds an app in the current scope. Closing the scope stops it. Fails with `InvalidAppOptions` for an empty name
 * or a graceful timeout that is not a non-negative duration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: MakeOptions) => Effect.Effect<AppService, InvalidAppOptions, Scope.Scope> = internal.make

/**
 * The app as a layer: built with `App.make` in the layer's scope (closing it stops a serving app).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: MakeOptions): Layer.Layer<App> => Layer.scoped(App, Effect.orDie(make(options)))

/**
 * The app's state.
 *
 * @since 0.1.0
 * @category accessors
 */
export const state: Effect.Effect<State, never, App> = Effect.flatMap(App, (app) => app.state)

/**
 * Starts the app: `before_server_start` listeners, the queued tasks, `after_server_start` listeners.
 *
 * @since 0.1.0
 * @category accessors
 */
export const start: Effect.Effect<void, StartError, App> = Effect.flatMap(App, (app) => app.start)

/**
 * Stops the app: stop listeners, every task interrupted, within the graceful timeout.
 *
 * @since 0.1.0
 * @category accessors
 */
export const stop: Effect.Effect<void, never, App> = Effect.flatMap(App, (app) => app.stop)

/**
 * Adds a background task to the app in context (see `AppService.addTask`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const addTask = <A, E, R, const O extends AddTaskOptions<A, E> = {}>(
  task: TaskInput<A, E, R>,
  options?: O
): Effect.Effect<
  Task<A, TaskError<E, O>>,
  TaskNameInUse | InvalidTaskName | InvalidTaskOptions,
  App | Exclude<R, App>
> => Effect.flatMap(App, (app) => app.addTask(task, options))

/**
 * The registered task with this name, or `TaskNotFound`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const getTask = (name: string): Effect.Effect<Task, TaskNotFound, App> =>
  Effect.flatMap(App, (app) => app.getTask(name))

/**
 * The registered task with this name, if any.
 *
 * @since 0.1.0
 * @category accessors
 */
export const findTask = (name: string): Effect.Effect<Option.Option<Task>, never, App> =>
  Effect.flatMap(App, (app) => app.findTask(name))

/**
 * Cancels the registered task with this name and waits for its finalizers.
 *
 * @since 0.1.0
 * @category accessors
 */
export const cancelTask = (
  name: string,
  options?: { readonly reason?: string | undefined }
): Effect.Effect<void, TaskNotFound, App> => Effect.flatMap(App, (app) => app.cancelTask(name, options))

/**
 * Drops the records of finished tasks; succeeds with how many it dropped.
 *
 * @since 0.1.0
 * @category accessors
 */
export const purgeTasks: Effect.Effect<number, never, App> = Effect.flatMap(App, (app) => app.purgeTasks)

/**
 * The recorded tasks, in the order they were added.
 *
 * @since 0.1.0
 * @category accessors
 */
export const tasks: Effect.Effect<ReadonlyArray<Task>, never, App> = Effect.flatMap(App, (app) => app.tasks)

/**
 * Registers a lifecycle listener on the app in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const listener = <R>(
  kind: ListenerKind,
  effect: Effect.Effect<unknown, unknown, R>,
  options?: { readonly priority?: number | undefined }
): Effect.Effect<void, never, App | Exclude<R, App>> =>
  Effect.flatMap(App, (app) => app.listener(kind, effect, options))

/**
 * Dispatches an event on the app in context (see `Events`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const dispatch = (
  event: string,
  options?: DispatchOptions
): Effect.Effect<void, InvalidEventName | UnserializableEventContext, App> =>
  Effect.flatMap(App, (app) => app.dispatch(event, options))

/**
 * Waits for the next dispatch of an event on the app in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const event = (
  name: string,
  options?: WaitOptions
): Effect.Effect<EventContext, EventTimeout | InvalidEventName | InvalidEventTimeout, App> =>
  Effect.flatMap(App, (app) => app.event(name, options))

/**
 * Every dispatch of an event on the app in context, as a buffered `Stream` (see `AppService.events`).
 *
 * @since 0.2.0
 * @category accessors
 */
export const events = (
  name: string,
  options?: EventsOptions
): Stream.Stream<EventContext, InvalidEventName | InvalidEventsOptions, App> =>
  Stream.unwrap(Effect.map(App, (app) => app.events(name, options)))

/**
 * Registers an event handler on the app in context; succeeds with its remover.
 *
 * @since 0.1.0
 * @category accessors
 */
export const signal = <R>(
  event: string,
  handler: Handler<R>,
  options?: SignalOptions
): Effect.Effect<Effect.Effect<void>, InvalidEventName | ReservedEventName, App | Exclude<R, App>> =>
  Effect.flatMap(App, (app) => app.signal(event, handler, options))
