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
import type { Duration, Schema } from "effect"
import { Data, Effect, Option, Schedule } from "effect"
import * as shared_ from "./internal/workers/shared.js"
import { state, workerName as workerName_ } from "./internal/workers/state.js"
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
 * @since 0.1.0
 * @category models
 */
export interface RestartOptions {
  /** The workers to restart, by name. Defaults to all. */
  readonly workers?: ReadonlyArray<string> | undefined
  /** Start each new process and wait for its acknowledgement before stopping the old one. */
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
 * the inspector works the same in both.
 *
 * @since 0.1.0
 * @category models
 */
export interface Supervisor {
  readonly mode: Mode
  readonly app: string
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
export const defaultRestartSchedule: Schedule.Schedule<unknown, WorkerExit> = Schedule.exponential("250 millis").pipe(
  Schedule.union(Schedule.spaced("10 seconds")),
  Schedule.intersect(Schedule.recurs(5))
)

/**
 * The default time a worker has to acknowledge its start.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultStartTimeout: Duration.DurationInput = "30 seconds"

/**
 * The workers could not be started, restarted or scaled.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkersError extends Data.TaggedError("WorkersError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.reason
  }
}

/**
 * No worker has this name.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkerNotFound extends Data.TaggedError("WorkerNotFound")<{ readonly worker: string }> {
  override get message(): string {
    return `No worker named "${this.worker}".`
  }
}

/**
 * A shared value could not be set or read.
 *
 * @since 0.1.0
 * @category errors
 */
export class SharedValueError extends Data.TaggedError("SharedValueError")<{
  readonly key: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Shared value "${this.key}": ${this.reason}`
  }
}

/**
 * Whether this process is a worker forked by a primary.
 *
 * @since 0.1.0
 * @category accessors
 */
export const isWorker = (): boolean => workerName_() !== undefined

/**
 * This worker's name (`worker-0`, ...), or `None` outside a worker.
 *
 * @since 0.1.0
 * @category accessors
 */
export const workerName = (): Option.Option<string> => Option.fromNullable(workerName_())

/**
 * This process's supervisor: in the primary, or in a process serving alone. Workers have none.
 *
 * @since 0.1.0
 * @category accessors
 */
export const supervisor: Effect.Effect<Supervisor, WorkersError> = Effect.suspend(() => {
  const current = state.supervisor
  if (current !== undefined) return Effect.succeed(current)
  return Effect.fail(
    new WorkersError({
      reason: isWorker()
        ? "Workers are supervised by the primary process; this is a worker."
        : "No server is running in this process, so there are no workers to supervise."
    })
  )
})

/**
 * The worker table.
 *
 * @since 0.1.0
 * @category accessors
 */
export const table: Effect.Effect<ReadonlyArray<WorkerInfo>, WorkersError> = Effect.flatMap(supervisor, (s) => s.table)

/**
 * Restarts some or all workers, possibly without downtime.
 *
 * @since 0.1.0
 * @category accessors
 */
export const restart = (options?: RestartOptions): Effect.Effect<void, WorkerNotFound | WorkersError> =>
  Effect.flatMap(supervisor, (s) => s.restart(options))

/**
 * Changes the number of workers.
 *
 * @since 0.1.0
 * @category accessors
 */
export const scale = (replicas: number): Effect.Effect<void, WorkersError> =>
  Effect.flatMap(supervisor, (s) => s.scale(replicas))

/**
 * A value set in the primary (in a `main_process_start` listener) and read in every worker: Sanic's `shared_ctx`,
 * typed. It crosses to the workers encoded with its schema, so the encoded form must survive JSON.
 *
 * @since 0.1.0
 * @category models
 */
export interface SharedValue<A> {
  readonly key: string
  /** Fails in a worker (read-only there) and in the primary once the workers have been forked. */
  readonly set: (value: A) => Effect.Effect<void, SharedValueError>
  /** Fails when the value was never set. */
  readonly get: Effect.Effect<A, SharedValueError>
  readonly getOption: Effect.Effect<Option.Option<A>, SharedValueError>
}

/**
 * Declares a shared value. Declare it at module level so that the primary and the workers (which run the same
 * entry script) agree on its key and schema.
 *
 * @example
 * ```ts
 * const Settings = Workers.shared("settings", Schema.Struct({ started: Schema.DateFromString }))
 * App.listener("main_process_start", Settings.set({ started: new Date() }))
 * // in a worker
 * const { started } = yield* Settings.get
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const shared = <A, I>(key: string, schema: Schema.Schema<A, I>): SharedValue<A> => shared_.make(key, schema)
