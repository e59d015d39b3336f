import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type { Info, Placement, RunInfo, RunOutcome, Status, Task } from "../../Task.js"

/**
 * What a task with a policy (a schedule, retries, a timeout or a placement) keeps of its runs. Plain tasks have none:
 * their one run is told by the record itself.
 */
export class Runs {
  runs = 0
  failures = 0
  attempt = 0
  lastRun: RunInfo | undefined = undefined
  nextRunAt: number | undefined = undefined
  worker: string | undefined = undefined
  /** When the run going now started. */
  runningSince: number | undefined = undefined
  /** `cancelTask` ended the task, not a stop: a one-worker task is then over on every worker. */
  cancelRequested = false

  /** The cause of the last run failure reported, so that the task's end does not report it twice. */
  reported: unknown = undefined

  constructor(
    readonly placement: Placement,
    /** A scheduled task reports each failed run itself; its end is the last run's. */
    readonly scheduled: boolean,
    /** For a one-worker task: the id of this copy, which the placement's messages name. */
    readonly claim: number
  ) {}

  /** Records the end of the run going now (an interrupted run ends with its task, through the same door). */
  endRun(exit: Exit.Exit<unknown, unknown>, at: number): void {
    const startedAt = this.runningSince
    if (startedAt === undefined) return
    this.runningSince = undefined
    const outcome = outcomeOf(exit)
    this.lastRun = { startedAt, endedAt: at, outcome }
    if (outcome === "failed") this.failures++
  }
}

/** The instant (epoch milliseconds, on the app's clock) that an app's task records count their times from. */
export interface Origin {
  readonly millis: number
}

/**
 * A task's handle and, for registered tasks, its record: one object per task. Its fiber is forked when the task is
 * added (a task added before the app serves waits in it for the start), and its end is observed on the fiber, so a
 * task costs little more than the fiber itself.
 */
export class TaskRecord<A = unknown, E = unknown> implements Task<A, E> {
  fiberOrUndefined: Fiber.RuntimeFiber<A, E> | undefined = undefined
  exit: Exit.Exit<A, E> | undefined = undefined
  started = false
  /** What `cancelTask` was told, if anything. */
  reasonForCancel: string | undefined = undefined
  // Times are kept as milliseconds since the app's origin: small integers live inside the record, where epoch
  // milliseconds would each be a heap number of their own, kept (and copied by the collector) as long as the record.
  private readonly added: number
  private startedSince: number | undefined = undefined
  private endedSince: number | undefined = undefined

  constructor(
    readonly name: string | undefined,
    private readonly origin: Origin,
    addedAt: number,
    readonly policy: Runs | undefined = undefined
  ) {
    this.added = addedAt - origin.millis
  }

  get addedAt(): number {
    return this.origin.millis + this.added
  }

  get startedAt(): number | undefined {
    return this.startedSince === undefined ? undefined : this.origin.millis + this.startedSince
  }

  set startedAt(at: number | undefined) {
    this.startedSince = at === undefined ? undefined : at - this.origin.millis
  }

  get endedAt(): number | undefined {
    return this.endedSince === undefined ? undefined : this.origin.millis + this.endedSince
  }

  get runs(): number {
    return this.policy !== undefined ? this.policy.runs : this.started ? 1 : 0
  }

  get failures(): number {
    return this.policy !== undefined ? this.policy.failures : this.unsafeStatus() === "failed" ? 1 : 0
  }

  get attempt(): number {
    return this.policy !== undefined ? this.policy.attempt : this.started ? 1 : 0
  }

  get lastRun(): Option.Option<RunInfo> {
    if (this.policy !== undefined) return Option.fromNullable(this.policy.lastRun)
    const exit = this.exit
    if (exit === undefined || this.startedAt === undefined) return Option.none()
    return Option.some({ startedAt: this.startedAt, endedAt: this.endedAt ?? this.startedAt, outcome: outcomeOf(exit) })
  }

  get nextRunAt(): Option.Option<number> {
    return Option.fromNullable(this.policy?.nextRunAt)
  }

  get worker(): Option.Option<string> {
    return Option.fromNullable(this.policy?.worker)
  }

  get cancelReason(): Option.Option<string> {
    return Option.fromNullable(this.reasonForCancel)
  }

  get placement(): Placement {
    return this.policy?.placement ?? "every-worker"
  }

  unsafeStatus(): Status {
    const exit = this.exit
    if (exit === undefined) return this.started ? "running" : "pending"
    return outcomeOf(exit)
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
    // Most tasks succeed with nothing: they share one exit rather than each keep its own.
    this.exit = exit._tag === "Success" && exit.value === undefined ? (Exit.void as Exit.Exit<any, never>) : exit
    this.endedSince = at - this.origin.millis
    const policy = this.policy
    if (policy !== undefined) {
      policy.endRun(exit, at)
      policy.nextRunAt = undefined
    }
  }

  /** Ends a task that never got a fiber (added after the app stopped), as cancelled. */
  cancelUnstarted(at: number): void {
    this.end(Exit.interrupt(FiberId.none), at)
  }

  toJSON(): unknown {
    return { _id: "Task", ...info(this) }
  }
}

/** How an exit reads as a run's outcome or a task's final status. */
export const outcomeOf = (exit: Exit.Exit<unknown, unknown>): RunOutcome => {
  if (exit._tag === "Success") return "succeeded"
  return Cause.isInterruptedOnly(exit.cause) ? "cancelled" : "failed"
}

export const info = (task: Task): Info => ({
  name: task.name,
  status: task.unsafeStatus(),
  addedAt: task.addedAt,
  startedAt: task.startedAt,
  endedAt: task.endedAt,
  placement: task.placement,
  runs: task.runs,
  failures: task.failures,
  attempt: task.attempt,
  lastRun: Option.getOrUndefined(task.lastRun),
  nextRunAt: Option.getOrUndefined(task.nextRunAt),
  cancelReason: Option.getOrUndefined(task.cancelReason)
})

export const isDone = (status: Status): boolean =>
  status === "succeeded" || status === "failed" || status === "cancelled"
