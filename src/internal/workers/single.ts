import { Effect } from "effect"
import type { AppService } from "../../App.js"
import type { Task } from "../../Task.js"
import type { SupervisorService, WorkerInfo, WorkerTask } from "../../Workers.js"
import { hooksOf } from "../hooks.js"
import { info } from "../task/record.js"
import { WorkerNotFound, WorkersError } from "./errors.js"
import { shutdownSelf } from "./process.js"

/** The name a process serving alone has in its worker table. */
export const singleName = "main"

/** A lone process's tasks as a worker table lists them: all under its one name. */
export const asWorkerTasks = (tasks: ReadonlyArray<Task>): ReadonlyArray<WorkerTask> =>
  tasks.map((task) => ({ worker: singleName, ...info(task) }))

const refuse = (what: string) =>
  Effect.fail(
    new WorkersError({
      reason: "ServesAlone",
      detail: `Cannot ${what}: this process serves alone. Start the server with workers > 1 (or WORKERS=N) to ${what}.`
    })
  )

/** The supervisor of a process that serves alone: a worker table of one row, itself. */
export const make = (app: AppService): SupervisorService => {
  const startedAt = Date.now()
  const row = (state: WorkerInfo["state"]): WorkerInfo => ({
    name: singleName,
    state,
    pid: process.pid,
    startedAt,
    ackedAt: startedAt,
    starts: 1,
    restarts: 0,
    restartedAt: undefined,
    serving: state === "serving",
    lastExit: undefined
  })
  return {
    mode: "single",
    app: app.name,
    table: Effect.map(app.state, (state) => [
      row(
        state === "serving"
          ? "serving"
          : state === "stopped"
            ? "stopped"
            : state === "stopping"
              ? "stopping"
              : "starting"
      )
    ]),
    tasks: Effect.sync(() => asWorkerTasks(hooksOf(app).unsafeTasks())),
    cancelTask: (worker, name) =>
      worker === singleName ? app.cancelTask(name) : Effect.fail(new WorkerNotFound({ worker })),
    restart: (options) =>
      Effect.suspend((): Effect.Effect<void, WorkerNotFound | WorkersError> => {
        const unknown = options?.workers?.find((worker) => worker !== singleName)
        return unknown !== undefined ? Effect.fail(new WorkerNotFound({ worker: unknown })) : refuse("restart workers")
      }),
    scale: () => refuse("scale"),
    shutdown: shutdownSelf
  }
}
