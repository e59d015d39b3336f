import { Effect } from "effect"
import type { AppService } from "../../App.js"
import * as Task from "../../Task.js"
import type { Supervisor, WorkerInfo } from "../../Workers.js"
import { WorkerNotFound, WorkersError } from "../../Workers.js"
import { shutdownSelf } from "./primary.js"

/** The name a process serving alone has in its worker table. */
export const singleName = "main"

const refuse = (what: string) =>
  Effect.fail(
    new WorkersError({
      reason: `Cannot ${what}: this process serves alone. Start the server with workers > 1 (or WORKERS=N) to ${what}.`
    })
  )

/** The supervisor of a process that serves alone: a worker table of one row, itself. */
export const make = (app: AppService): Supervisor => {
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
    tasks: Effect.sync(() => app.unsafeTasks().map((task) => ({ worker: singleName, ...Task.info(task) }))),
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
