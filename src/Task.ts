/**
 * Named background tasks: the handle that `App.addTask` returns and `App.getTask` finds again.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { App, Task } from "fiberapp"
 *
 * const program = Effect.gen(function* () {
 *   const app = yield* App.App
 *   yield* app.start
 *   const task: Task.Task<string> = yield* app.addTask(Effect.succeed("done"), { name: "job" })
 *   const result = yield* task.join // "done"
 *   const status = yield* task.status // "succeeded"
 *   // every minute, each run bounded to 10 seconds (a run past it fails with Task.TaskTimeout)
 *   const ticker = yield* app.addTask(Effect.log("tick"), {
 *     name: "ticker",
 *     schedule: Schedule.spaced("1 minute"),
 *     timeout: "10 seconds"
 *   })
 *   yield* app.cancelTask("ticker")
 *   return { result, status, info: Task.info(task), runs: ticker.runs }
 * })
 *
 * Effect.runPromise(Effect.scoped(Effect.provide(program, App.layer({ name: "example" }))))
 * ```
 *
 * @since 0.1.0
 */

import type { Effect, Exit, Fiber, Option } from "effect"
import type { App } from "./App.js"
import * as cancel from "./internal/task/cancel.js"
import * as errors from "./internal/task/errors.js"
import * as record from "./internal/task/record.js"

/**
 * Where a task is in its life. `pending` tasks were added before the app started and wait for it.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "pending" | "running" | "succeeded" | "failed" | "cancelled"

/**
 * A handle to a background task. For a named, registered task it is also the record that
 * `App.tasks` lists, so the handle you get back from `addTask` and the one `getTask` finds are the same.
 *
 * @since 0.1.0
 * @category models
 */
export interface Task<A = unknown, E = unknown> {
  /** The name given to `addTask`, or `undefined` for an unnamed task. */
  readonly name: string | undefined
  /** The current status; see {@link Status}. */
  readonly status: Effect.Effect<Status>
  /** Waits for the task to end and gives its exit. */
  readonly await: Effect.Effect<Exit.Exit<A, E>>
  /** Waits for the task to end, then succeeds or fails like it. */
  readonly join: Effect.Effect<A, E>
  /** The exit, if the task has ended. */
  readonly poll: Effect.Effect<Option.Option<Exit.Exit<A, E>>>
  /** The fiber running the task, while it runs (`None` while pending and once it has ended). */
  readonly fiber: Option.Option<Fiber.RuntimeFiber<A, E>>
  /** When the task was added (epoch milliseconds). */
  readonly addedAt: number
  /** When the task started running (epoch milliseconds), once it has. */
  readonly startedAt: number | undefined
  /** When the task ended (epoch milliseconds), once it has. */
  readonly endedAt: number | undefined
  /** Runs started so far: a plain task has one, a scheduled task one per tick it ran. */
  readonly runs: number
  /** Runs that failed (after their retries), so far. */
  readonly failures: number
  /** The attempt of the current (or last) run: 1, then one more per retry. */
  readonly attempt: number
  /** The last run that ended: when it started and ended, and how. */
  readonly lastRun: Option.Option<RunInfo>
  /** When a scheduled task runs next (epoch milliseconds), while it waits for that. */
  readonly nextRunAt: Option.Option<number>
  /** Where a `one-worker` task runs: the worker's name, once this process runs it. */
  readonly worker: Option.Option<string>
  /** Where the task runs when the server has several workers; see {@link Placement}. */
  readonly placement: Placement
  /** The reason given to `cancelTask`, once it was cancelled with one. */
  readonly cancelReason: Option.Option<string>
  /** Synchronous status, for listings and inspectors. */
  unsafeStatus(): Status
}

/**
 * Where a task runs when the server has several workers: on `every-worker` that adds it (the default), on
 * `one-worker` of the machine, chosen by the primary and moved to another when that worker goes, or on one worker of
 * the whole fleet (`one-in-fleet`, see the `Fleet` module; without a fleet, as `one-worker`).
 *
 * @since 0.2.0
 * @category models
 */
export type Placement = "every-worker" | "one-worker" | "one-in-fleet"

/**
 * How a run ended: `succeeded`, `failed` (its retries exhausted, or timed out) or `cancelled`.
 *
 * @since 0.2.0
 * @category models
 */
export type RunOutcome = "succeeded" | "failed" | "cancelled"

/**
 * One run of a task, as the record keeps the last one.
 *
 * @since 0.2.0
 * @category models
 */
export interface RunInfo {
  readonly startedAt: number
  readonly endedAt: number
  readonly outcome: RunOutcome
}

/**
 * A plain, serialisable description of a task, as listed by inspectors.
 *
 * @since 0.1.0
 * @category models
 */
export interface Info {
  readonly name: string | undefined
  readonly status: Status
  readonly addedAt: number
  readonly startedAt: number | undefined
  readonly endedAt: number | undefined
  readonly placement: Placement
  readonly runs: number
  readonly failures: number
  readonly attempt: number
  readonly lastRun: RunInfo | undefined
  readonly nextRunAt: number | undefined
  readonly cancelReason: string | undefined
}

/**
 * A task as a plain, serialisable record: name, status, times and runs, never its result or error.
 *
 * @since 0.1.0
 * @category utils
 */
export const info: (task: Task) => Info = record.info

/**
 * The reason given to `cancelTask` for the task running in the current fiber, once it is being cancelled with one:
 * what a finalizer or `onInterrupt` reads, as Sanic passes its `msg` into the task's `CancelledError`.
 *
 * @since 0.2.0
 * @category accessors
 */
export const cancelReason: Effect.Effect<Option.Option<string>, never, App> = cancel.currentReason

/**
 * Whether a status is final: `succeeded`, `failed` or `cancelled`.
 *
 * @since 0.1.0
 * @category utils
 */
export const isDone: (status: Status) => boolean = record.isDone

/**
 * No registered task has this name: `Registered task named "X" not found.`
 *
 * @since 0.1.0
 * @category errors
 */
export const TaskNotFound: typeof errors.TaskNotFound = errors.TaskNotFound

/**
 * The type of a `TaskNotFound` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type TaskNotFound = errors.TaskNotFound

/**
 * A task that has not finished already holds this name; a finished task's name may be reused.
 *
 * @since 0.1.0
 * @category errors
 */
export const TaskNameInUse: typeof errors.TaskNameInUse = errors.TaskNameInUse

/**
 * The type of a `TaskNameInUse` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type TaskNameInUse = errors.TaskNameInUse

/**
 * The name given for a task is not usable; `reason` says why (`NotAString`, `Empty`, `TooLong`).
 *
 * @since 0.1.0
 * @category errors
 */
export const InvalidTaskName: typeof errors.InvalidTaskName = errors.InvalidTaskName

/**
 * The type of a `InvalidTaskName` value.
 *
 * @since 0.1.0
 * @category errors
 */
export type InvalidTaskName = errors.InvalidTaskName

/**
 * Why a task name is refused.
 *
 * @since 0.1.0
 * @category models
 */
export type InvalidTaskNameReason = errors.InvalidTaskNameReason

/**
 * The longest task name accepted, in UTF-16 code units.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxNameLength: number = errors.maxNameLength

/**
 * The options given to `addTask` are unusable: `reason` names the option (`schedule`, `timeZone`, `retry`, `timeout`,
 * `placement`) and `detail` says why, in the cron parser's own words for a cron string. Nothing is recorded.
 *
 * @since 0.2.0
 * @category errors
 */
export const InvalidTaskOptions: typeof errors.InvalidTaskOptions = errors.InvalidTaskOptions

/**
 * The type of a `InvalidTaskOptions` value.
 *
 * @since 0.2.0
 * @category errors
 */
export type InvalidTaskOptions = errors.InvalidTaskOptions

/**
 * Which option of `addTask` is unusable.
 *
 * @since 0.2.0
 * @category models
 */
export type InvalidTaskOptionsReason = errors.InvalidTaskOptionsReason

/**
 * A run went past the task's `timeout` and was interrupted. Retries and reports treat it as any other failure.
 *
 * @since 0.2.0
 * @category errors
 */
export const TaskTimeout: typeof errors.TaskTimeout = errors.TaskTimeout

/**
 * The type of a `TaskTimeout` value.
 *
 * @since 0.2.0
 * @category errors
 */
export type TaskTimeout = errors.TaskTimeout

/**
 * Checks a task name: the reason it is refused, or `undefined` when it is usable.
 *
 * @since 0.1.0
 * @category utils
 */
export const validateName: (name: unknown) => InvalidTaskNameReason | undefined = errors.validateName
