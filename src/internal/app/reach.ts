import * as Effect from "effect/Effect"
import type { SupervisorService, WorkerTask } from "../../Workers.js"
import type { WorkerNotFound, WorkersError } from "../workers/errors.js"
import { asWorkerTasks, singleName } from "../workers/single.js"
import type { Tasks } from "./tasks.js"

/**
 * How an app reaches the tasks of every worker (`scope: "all"`): through the primary from a worker, through the
 * supervisor in a primary or a process serving alone, or, with no server, to its own tasks only.
 */
export interface Reach {
  /** Every worker's recorded tasks. */
  readonly tasks: Effect.Effect<ReadonlyArray<WorkerTask>, WorkersError>
  /** Cancels `name` on `worker`, or on every worker that has it; succeeds with how many had it. */
  readonly cancel: (name: string, worker: string | undefined) => Effect.Effect<number, WorkersError | WorkerNotFound>
}

/** An app with no server: its own tasks are all there are, listed as a lone process lists them. */
export const alone = (tasks: Tasks): Reach => ({
  tasks: Effect.sync(() => asWorkerTasks(tasks.list())),
  cancel: (name, worker) => {
    if (worker !== undefined && worker !== singleName) return Effect.succeed(0)
    return tasks.cancel(name).pipe(
      Effect.as(1),
      Effect.catchTag("TaskNotFound", () => Effect.succeed(0))
    )
  }
})

/**
 * Every worker through the supervisor: of a primary, or of a process serving alone. A cancel everywhere asks every
 * worker at once and counts those that had the task; it fails only when none had it and some could not be asked.
 */
export const ofSupervisor = (
  supervisor: SupervisorService,
  /** Every worker's tasks, failing when one does not answer; the supervisor's own listing leaves it out. */
  everyTask: Effect.Effect<ReadonlyArray<WorkerTask>, WorkersError> = supervisor.tasks
): Reach => ({
  tasks: everyTask,
  cancel: (name, worker) =>
    Effect.gen(function* () {
      const workers =
        worker !== undefined ? [worker] : Array.from(new Set((yield* supervisor.tasks).map((task) => task.worker)))
      const outcomes = yield* Effect.forEach(
        workers,
        (target) =>
          supervisor.cancelTask(target, name).pipe(
            Effect.as(true),
            Effect.catchTag("TaskNotFound", () => Effect.succeed(false)),
            Effect.either
          ),
        { concurrency: "unbounded" }
      )
      const cancelled = outcomes.filter((outcome) => outcome._tag === "Right" && outcome.right).length
      const failure = outcomes.find((outcome) => outcome._tag === "Left")
      if (cancelled === 0 && failure !== undefined && failure._tag === "Left") return yield* Effect.fail(failure.left)
      if (failure !== undefined && failure._tag === "Left") {
        yield* Effect.logWarning(`Cancelling task "${name}" everywhere: ${failure.left.message}`)
      }
      return cancelled
    })
})
