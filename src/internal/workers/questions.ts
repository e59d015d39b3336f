import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { WorkerInfo, WorkerTask } from "../../Workers.js"
import { TaskNotFound } from "../task/errors.js"
import { WorkerNotFound, WorkersError } from "./errors.js"
import * as Protocol from "./protocol.js"
import type { Proc, Slot } from "./slots.js"

const requestTimeout = Duration.seconds(5)

/** A worker's metrics as it sent them: OpenTelemetry's `ScopeMetrics`, as JSON. */
export interface WorkerMetrics {
  readonly worker: string
  readonly scopeMetrics: ReadonlyArray<unknown>
}

/** What the primary asks its workers, over IPC: their tasks, a cancel; and the worker table it keeps itself. */
export const make = (slots: Map<string, Slot>, send: (proc: Proc, message: Protocol.ToWorker) => void) => {
  const info = (slot: Slot): WorkerInfo => {
    const proc = slot.current
    return {
      name: slot.name,
      state: slot.state,
      pid: proc?.pid,
      startedAt: proc?.startedAt,
      ackedAt: proc?.ackedAt,
      starts: slot.starts,
      restarts: slot.restarts,
      restartedAt: slot.restartedAt,
      serving: slot.state === "serving",
      lastExit: slot.lastExit,
      kind: slot.managed === undefined ? "server" : "managed",
      ...(proc?.custom !== undefined ? { custom: proc.custom } : {})
    }
  }

  const request = (slot: Slot, call: Protocol.Call): Effect.Effect<Protocol.Answer, WorkersError> =>
    Effect.suspend(() => {
      const proc = slot.current
      if (proc === undefined || proc.ackedAt === undefined || !proc.worker.isConnected()) {
        return Effect.fail(
          new WorkersError({ reason: "NotServing", detail: `Worker ${slot.name} is not serving (${slot.state}).` })
        )
      }
      return proc.replies.ask(
        (id) => send(proc, { _tag: "fiberapp.request", id, call }),
        requestTimeout,
        () =>
          new WorkersError({
            reason: "NoAnswer",
            detail: `Worker ${slot.name} (pid ${proc.pid}) did not answer within ${Duration.format(requestTimeout)}.`
          })
      )
    })

  /** Every worker's tasks; one that does not answer is left out (and logged), or with `strict` fails the listing. */
  const listAll = <E>(onFailure: (slot: Slot, error: WorkersError) => Effect.Effect<ReadonlyArray<WorkerTask>, E>) =>
    Effect.suspend(() =>
      Effect.forEach(
        Array.from(slots.values()).filter((slot) => slot.managed === undefined && slot.current?.ackedAt !== undefined),
        (slot) =>
          request(slot, { _tag: "fiberapp.listTasks" }).pipe(
            Effect.map(
              (answer): ReadonlyArray<WorkerTask> =>
                answer._tag === "Tasks" ? answer.tasks.map((task) => Protocol.workerTaskOf(slot.name, task)) : []
            ),
            Effect.catchAll((error) => onFailure(slot, error))
          ),
        { concurrency: "unbounded" }
      ).pipe(Effect.map((lists) => onceEach(lists.flat())))
    )

  /** For the inspector: what every worker that answers has. */
  const tasks: Effect.Effect<ReadonlyArray<WorkerTask>> = listAll((slot, error) =>
    Effect.as(Effect.logWarning(`Listing the tasks of ${slot.name} failed: ${error.detail}`), [])
  )

  /** For app code (`scope: "all"`): a worker that does not answer fails the listing, rather than hide a task. */
  const everyTask: Effect.Effect<ReadonlyArray<WorkerTask>, WorkersError> = listAll((slot, error) =>
    Effect.fail(
      new WorkersError({ reason: error.reason, detail: `Listing the tasks of ${slot.name} failed: ${error.detail}` })
    )
  )

  const slotOf = (worker: string): Effect.Effect<Slot, WorkerNotFound> =>
    Effect.suspend(() => {
      const slot = slots.get(worker)
      return slot === undefined || slot.removed ? Effect.fail(new WorkerNotFound({ worker })) : Effect.succeed(slot)
    })

  const cancelTask = (
    worker: string,
    name: string
  ): Effect.Effect<void, WorkerNotFound | TaskNotFound | WorkersError> =>
    slotOf(worker).pipe(
      Effect.flatMap((slot) => request(slot, { _tag: "fiberapp.cancelTask", name })),
      Effect.flatMap((answer): Effect.Effect<void, TaskNotFound | WorkersError> => {
        switch (answer._tag) {
          case "Cancelled":
            return Effect.void
          case "NotFound":
            return Effect.fail(new TaskNotFound({ name }))
          default:
            return Effect.fail(
              new WorkersError({
                reason: "NoAnswer",
                detail: answer._tag === "Failed" ? answer.message : "unexpected answer"
              })
            )
        }
      })
    )

  /** Every serving worker's metrics (OpenTelemetry data); one that does not answer is left out, and logged. */
  const metrics: Effect.Effect<ReadonlyArray<WorkerMetrics>> = Effect.suspend(() =>
    Effect.forEach(
      Array.from(slots.values()).filter((slot) => slot.current?.ackedAt !== undefined),
      (slot) =>
        request(slot, { _tag: "fiberapp.listMetrics" }).pipe(
          Effect.flatMap(
            (answer): Effect.Effect<ReadonlyArray<WorkerMetrics>, WorkersError> =>
              answer._tag === "Metrics"
                ? Effect.succeed([{ worker: slot.name, scopeMetrics: answer.scopeMetrics }])
                : Effect.fail(
                    new WorkersError({
                      reason: "NoAnswer",
                      detail: answer._tag === "Failed" ? answer.message : `unexpected answer ${answer._tag}`
                    })
                  )
          ),
          Effect.catchAll((error) =>
            Effect.as(Effect.logWarning(`Reading the metrics of ${slot.name} failed: ${error.detail}`), [])
          )
        ),
      { concurrency: "unbounded" }
    ).pipe(Effect.map((lists) => lists.flat()))
  )

  return { info, tasks, everyTask, slotOf, cancelTask, metrics }
}

/**
 * A one-worker (or one-in-fleet) task is listed once: the copy that runs (or ran) it, else one of the copies waiting
 * for their turn. Every-worker tasks are listed per worker.
 */
const onceEach = (tasks: ReadonlyArray<WorkerTask>): ReadonlyArray<WorkerTask> => {
  const chosen = new Map<string, WorkerTask>()
  for (const task of tasks) {
    if (task.placement === "every-worker" || task.name === undefined) continue
    const current = chosen.get(task.name)
    if (current === undefined || rank(task) > rank(current)) chosen.set(task.name, task)
  }
  return tasks.filter(
    (task) => task.placement === "every-worker" || task.name === undefined || chosen.get(task.name) === task
  )
}

/** Running first, then a copy that ran (the latest), then one waiting. */
const rank = (task: WorkerTask): number =>
  task.status === "running" ? Number.MAX_SAFE_INTEGER : task.startedAt !== undefined ? task.startedAt : -1
