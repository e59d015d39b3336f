/**
 * The application: named background tasks on an app-scoped `FiberMap`, events, and lifecycle listeners.
 * Tasks reach the app, and the app reaches tasks, through the `App` service.
 *
 * @since 0.1.0
 */

import type { Cause, Duration, Option, Scope } from "effect"
import { Context, Data, Effect, Layer } from "effect"
import type {
  DispatchOptions,
  EventContext,
  EventTimeout,
  Handler,
  InvalidEventName,
  InvalidEventTimeout,
  ReservedEventName,
  SignalOptions,
  WaitOptions
} from "./Events.js"
import * as internal from "./internal/app.js"
import type { InvalidTaskName, Task, TaskNameInUse, TaskNotFound } from "./Task.js"

/**
 * Where the app is in its life. An app starts once; closing the scope of a serving app stops it.
 *
 * @since 0.1.0
 * @category models
 */
export type State = "idle" | "starting" | "serving" | "stopping" | "stopped"

/**
 * The lifecycle listener kinds, as Sanic names them.
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

/**
 * What `addTask` accepts: an effect, or a function of the app returning one.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskInput<A, E, R> = Effect.Effect<A, E, R> | ((app: AppService) => Effect.Effect<A, E, R>)

/**
 * @since 0.1.0
 * @category models
 */
export interface AddTaskOptions {
  readonly name?: string | undefined
  /** Record a named task so that `getTask`, `cancelTask` and `tasks` see it. Defaults to `true`. */
  readonly register?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions {
  readonly name: string
  /** How long stopping may take before the tasks still running are abandoned. Defaults to 15 seconds. */
  readonly gracefulShutdownTimeout?: Duration.DurationInput | undefined
}

/**
 * The app could not start: it was not idle, or a start listener failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class StartError extends Data.TaggedError("StartError")<{
  readonly reason: string
  readonly listener?: ListenerKind | undefined
  readonly cause?: Cause.Cause<unknown> | undefined
}> {
  override get message(): string {
    return `The app could not start: ${this.reason}`
  }
}

/**
 * The options given to `App.make` or `App.layer` are unusable. `App.layer` dies with it, as its type has no error.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidAppOptions extends Data.TaggedError("InvalidAppOptions")<{ readonly reason: string }> {
  override get message(): string {
    return `Invalid app options: ${this.reason}`
  }
}

/**
 * The application service.
 *
 * @since 0.1.0
 * @category models
 */
export interface AppService {
  readonly name: string
  readonly gracefulShutdownTimeout: Duration.Duration
  readonly state: Effect.Effect<State>
  /** `idle` to `serving`: start listeners, then the queued tasks. */
  readonly start: Effect.Effect<void, StartError>
  /** `serving` to `stopped`: stop listeners, every task interrupted, within the graceful timeout. */
  readonly stop: Effect.Effect<void>
  /**
   * `start` with a step between the `before_server_start` listeners and the queued tasks: the server binds there.
   * If anything fails, what was started is stopped and the app ends `stopped`.
   */
  readonly startWith: <E, R>(bind: Effect.Effect<void, E, R>) => Effect.Effect<void, StartError | E, R>
  /**
   * `stop` with a step between the `before_server_stop` listeners and ending the tasks: the server drains there.
   * `timeout` replaces the app's `gracefulShutdownTimeout` for this stop.
   */
  readonly stopWith: (
    drain: Effect.Effect<void>,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ) => Effect.Effect<void>
  /**
   * Runs the listeners of one kind: start kinds by priority then registration order, stop kinds in reverse.
   * A failing start listener fails with `StartError`; a failing stop listener is reported and the others still run.
   */
  readonly runListeners: (kind: ListenerKind) => Effect.Effect<void, StartError>
  readonly listener: <R>(
    kind: ListenerKind,
    effect: Effect.Effect<unknown, unknown, R>,
    options?: { readonly priority?: number | undefined }
  ) => Effect.Effect<void, never, Exclude<R, App>>
  readonly addTask: <A, E, R>(
    task: TaskInput<A, E, R>,
    options?: AddTaskOptions
  ) => Effect.Effect<Task<A, E>, TaskNameInUse | InvalidTaskName, Exclude<R, App>>
  readonly getTask: (name: string) => Effect.Effect<Task, TaskNotFound>
  readonly findTask: (name: string) => Effect.Effect<Option.Option<Task>>
  readonly cancelTask: (
    name: string,
    options?: { readonly reason?: string | undefined }
  ) => Effect.Effect<void, TaskNotFound>
  readonly purgeTasks: Effect.Effect<number>
  readonly tasks: Effect.Effect<ReadonlyArray<Task>>
  /** The recorded tasks, synchronously, for inspectors. */
  readonly unsafeTasks: () => ReadonlyArray<Task>
  readonly dispatch: (event: string, options?: DispatchOptions) => Effect.Effect<void, InvalidEventName>
  readonly event: (
    event: string,
    options?: WaitOptions
  ) => Effect.Effect<EventContext, EventTimeout | InvalidEventName | InvalidEventTimeout>
  readonly signal: <R>(
    event: string,
    handler: Handler<R>,
    options?: SignalOptions
  ) => Effect.Effect<Effect.Effect<void>, InvalidEventName | ReservedEventName, Exclude<R, App>>
  /** Whether any handler or waiter could match `event`: lets hot paths skip building a dispatch. */
  readonly hasListeners: (event: string) => boolean
}

/**
 * @since 0.1.0
 * @category tags
 */
export class App extends Context.Tag("fiberapp/App")<App, AppService>() {}

/**
 * Builds an app in the current scope. Closing the scope stops it. Fails with `InvalidAppOptions` for an empty name
 * or a graceful timeout that is not a non-negative duration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: MakeOptions) => Effect.Effect<AppService, InvalidAppOptions, Scope.Scope> = internal.make

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: MakeOptions): Layer.Layer<App> => Layer.scoped(App, Effect.orDie(make(options)))

/**
 * @since 0.1.0
 * @category accessors
 */
export const state: Effect.Effect<State, never, App> = Effect.flatMap(App, (app) => app.state)

/**
 * @since 0.1.0
 * @category accessors
 */
export const start: Effect.Effect<void, StartError, App> = Effect.flatMap(App, (app) => app.start)

/**
 * @since 0.1.0
 * @category accessors
 */
export const stop: Effect.Effect<void, never, App> = Effect.flatMap(App, (app) => app.stop)

/**
 * @since 0.1.0
 * @category accessors
 */
export const addTask = <A, E, R>(
  task: TaskInput<A, E, R>,
  options?: AddTaskOptions
): Effect.Effect<Task<A, E>, TaskNameInUse | InvalidTaskName, App | Exclude<R, App>> =>
  Effect.flatMap(App, (app) => app.addTask(task, options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const getTask = (name: string): Effect.Effect<Task, TaskNotFound, App> =>
  Effect.flatMap(App, (app) => app.getTask(name))

/**
 * @since 0.1.0
 * @category accessors
 */
export const findTask = (name: string): Effect.Effect<Option.Option<Task>, never, App> =>
  Effect.flatMap(App, (app) => app.findTask(name))

/**
 * @since 0.1.0
 * @category accessors
 */
export const cancelTask = (
  name: string,
  options?: { readonly reason?: string | undefined }
): Effect.Effect<void, TaskNotFound, App> => Effect.flatMap(App, (app) => app.cancelTask(name, options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const purgeTasks: Effect.Effect<number, never, App> = Effect.flatMap(App, (app) => app.purgeTasks)

/**
 * @since 0.1.0
 * @category accessors
 */
export const tasks: Effect.Effect<ReadonlyArray<Task>, never, App> = Effect.flatMap(App, (app) => app.tasks)

/**
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
 * @since 0.1.0
 * @category accessors
 */
export const dispatch = (event: string, options?: DispatchOptions): Effect.Effect<void, InvalidEventName, App> =>
  Effect.flatMap(App, (app) => app.dispatch(event, options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const event = (
  name: string,
  options?: WaitOptions
): Effect.Effect<EventContext, EventTimeout | InvalidEventName | InvalidEventTimeout, App> =>
  Effect.flatMap(App, (app) => app.event(name, options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const signal = <R>(
  event: string,
  handler: Handler<R>,
  options?: SignalOptions
): Effect.Effect<Effect.Effect<void>, InvalidEventName | ReservedEventName, App | Exclude<R, App>> =>
  Effect.flatMap(App, (app) => app.signal(event, handler, options))
