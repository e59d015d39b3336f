import type { Fiber } from "effect"
import { Cause, Effect, Exit, FiberId, Option } from "effect"
import type { Status, Task } from "../Task.js"

type Waiter = (exit: Exit.Exit<unknown, unknown>) => void

/**
 * A task's handle and, for registered tasks, its record: one object per task, no Deferred, so that adding
 * a task costs little more than forking its fiber. The end is observed on the fiber itself.
 */
export class TaskRecord<A = unknown, E = unknown> implements Task<A, E> {
  fiberOrUndefined: Fiber.RuntimeFiber<A, E> | undefined = undefined
  exit: Exit.Exit<A, E> | undefined = undefined
  startedAt: number | undefined = undefined
  endedAt: number | undefined = undefined
  private waiters: Array<Waiter> | undefined = undefined

  constructor(
    readonly name: string | undefined,
    readonly addedAt: number
  ) {}

  unsafeStatus(): Status {
    const exit = this.exit
    if (exit === undefined) return this.fiberOrUndefined === undefined ? "pending" : "running"
    if (exit._tag === "Success") return "succeeded"
    return Cause.isInterruptedOnly(exit.cause) ? "cancelled" : "failed"
  }

  get status(): Effect.Effect<Status> {
    return Effect.sync(() => this.unsafeStatus())
  }

  get fiber(): Option.Option<Fiber.RuntimeFiber<A, E>> {
    return Option.fromNullable(this.fiberOrUndefined)
  }

  get poll(): Effect.Effect<Option.Option<Exit.Exit<A, E>>> {
    return Effect.sync(() => Option.fromNullable(this.exit))
  }

  get await(): Effect.Effect<Exit.Exit<A, E>> {
    return Effect.suspend(() => {
      const exit = this.exit
      if (exit !== undefined) return Effect.succeed(exit)
      return Effect.async<Exit.Exit<A, E>>((resume) => {
        const waiter: Waiter = (exit) => resume(Effect.succeed(exit as Exit.Exit<A, E>))
        const waiters = (this.waiters ??= [])
        waiters.push(waiter)
        return Effect.sync(() => {
          const index = waiters.indexOf(waiter)
          if (index >= 0) waiters.splice(index, 1)
        })
      })
    })
  }

  get join(): Effect.Effect<A, E> {
    return Effect.flatten(this.await)
  }

  /** Records the end. Called once, by the fiber's observer or by cancelling a task that never started. */
  end(exit: Exit.Exit<A, E>): void {
    if (this.exit !== undefined) return
    this.exit = exit
    this.endedAt = Date.now()
    const waiters = this.waiters
    if (waiters !== undefined) {
      this.waiters = undefined
      for (const waiter of waiters) waiter(exit)
    }
  }

  /** Ends a task that never started, as cancelled. */
  cancelPending(): void {
    this.end(Exit.interrupt(FiberId.none))
  }

  toJSON(): unknown {
    return {
      _id: "Task",
      name: this.name,
      status: this.unsafeStatus(),
      addedAt: this.addedAt,
      startedAt: this.startedAt,
      endedAt: this.endedAt
    }
  }
}
