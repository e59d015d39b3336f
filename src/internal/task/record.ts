import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type { Info, Status, Task } from "../../Task.js"

/**
 * A task's handle and, for registered tasks, its record: one object per task. Its fiber is forked when the task is
 * added (a task added before the app serves waits in it for the start), and its end is observed on the fiber, so a
 * task costs little more than the fiber itself.
 */
export class TaskRecord<A = unknown, E = unknown> implements Task<A, E> {
  fiberOrUndefined: Fiber.RuntimeFiber<A, E> | undefined = undefined
  exit: Exit.Exit<A, E> | undefined = undefined
  started = false
  startedAt: number | undefined = undefined
  endedAt: number | undefined = undefined

  constructor(
    readonly name: string | undefined,
    readonly addedAt: number
  ) {}

  unsafeStatus(): Status {
    const exit = this.exit
    if (exit === undefined) return this.started ? "running" : "pending"
    if (exit._tag === "Success") return "succeeded"
    return Cause.isInterruptedOnly(exit.cause) ? "cancelled" : "failed"
  }

  get status(): Effect.Effect<Status> {
    return Effect.sync(() => this.unsafeStatus())
  }

  get fiber(): Option.Option<Fiber.RuntimeFiber<A, E>> {
    return this.started ? Option.fromNullable(this.fiberOrUndefined) : Option.none()
  }

  get poll(): Effect.Effect<Option.Option<Exit.Exit<A, E>>> {
    return Effect.sync(() => Option.fromNullable(this.exit))
  }

  get await(): Effect.Effect<Exit.Exit<A, E>> {
    return Effect.suspend(() => {
      const exit = this.exit
      return exit !== undefined ? Effect.succeed(exit) : Fiber.await(this.fiberOrUndefined!)
    })
  }

  get join(): Effect.Effect<A, E> {
    return Effect.flatten(this.await)
  }

  /** Records the end, once. */
  end(exit: Exit.Exit<A, E>, at: number): void {
    if (this.exit !== undefined) return
    this.exit = exit
    this.endedAt = at
  }

  /** Ends a task that never got a fiber (added after the app stopped), as cancelled. */
  cancelUnstarted(at: number): void {
    this.end(Exit.interrupt(FiberId.none), at)
  }

  toJSON(): unknown {
    return { _id: "Task", ...info(this) }
  }
}

export const info = (task: Task): Info => ({
  name: task.name,
  status: task.unsafeStatus(),
  addedAt: task.addedAt,
  startedAt: task.startedAt,
  endedAt: task.endedAt
})

export const isDone = (status: Status): boolean =>
  status === "succeeded" || status === "failed" || status === "cancelled"
