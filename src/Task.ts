/**
 * Named background tasks: the handle that `App.addTask` returns and `App.getTask` finds again.
 *
 * @since 0.1.0
 */

import type { Effect, Exit, Fiber, Option } from "effect"
import { Data } from "effect"

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
  /** The fiber running the task, once it has started. */
  readonly fiber: Option.Option<Fiber.RuntimeFiber<A, E>>
  /** When the task was added (epoch milliseconds). */
  readonly addedAt: number
  /** When the task started running (epoch milliseconds), once it has. */
  readonly startedAt: number | undefined
  /** When the task ended (epoch milliseconds), once it has. */
  readonly endedAt: number | undefined
  /** Synchronous status, for listings and inspectors. */
  unsafeStatus(): Status
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
}

/**
 * @since 0.1.0
 * @category utils
 */
export const info = (task: Task): Info => ({
  name: task.name,
  status: task.unsafeStatus(),
  addedAt: task.addedAt,
  startedAt: task.startedAt,
  endedAt: task.endedAt
})

/**
 * @since 0.1.0
 * @category utils
 */
export const isDone = (status: Status): boolean =>
  status === "succeeded" || status === "failed" || status === "cancelled"

/**
 * No registered task has this name.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskNotFound extends Data.TaggedError("TaskNotFound")<{ readonly name: string }> {
  override get message(): string {
    return `Registered task named "${text(this.name)}" not found.`
  }
}

/**
 * A task that has not finished already holds this name.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskNameInUse extends Data.TaggedError("TaskNameInUse")<{ readonly name: string }> {
  override get message(): string {
    return `A task named "${text(this.name)}" is still running; cancel it first or choose another name.`
  }
}

/**
 * The name given for a task is not a usable name.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidTaskName extends Data.TaggedError("InvalidTaskName")<{
  readonly name: unknown
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid task name ${describe(this.name)}: ${this.reason}.`
  }
}

/**
 * The longest task name accepted, in UTF-16 code units.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxNameLength = 256

/**
 * Checks a task name, giving the reason it is refused, if it is.
 *
 * @since 0.1.0
 * @category utils
 */
export const validateName = (name: unknown): string | undefined => {
  if (typeof name !== "string") return `a task name must be a string, got ${typeof name}`
  if (name.length === 0) return "a task name must not be empty"
  if (name.length > maxNameLength) return `a task name must be at most ${maxNameLength} characters, got ${name.length}`
  return undefined
}

// Names come from JS callers too: a message must not throw for a value that has no string form.
const text = (value: unknown): string => {
  try {
    return String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

const describe = (name: unknown): string => {
  if (typeof name !== "string") return text(name)
  const shown = name.length > 40 ? `${name.slice(0, 40)}…` : name
  return JSON.stringify(shown)
}
