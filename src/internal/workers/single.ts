import { Effect } from "effect"
import type { AppService, State } from "../../App.js"
import type { Task } from "../../Task.js"
import type { SupervisorService, WorkerInfo, WorkerState, WorkerTask } from "../../Workers.js"
import { hooksOf } from "../hooks.js"
import { info } from "../task/record.js"
import { mergeCustom, prepare } from "./custom.js"
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
  /** What this process published with `Workers.setState`, shown in its row. */
  let custom: Readonly<Record<string, unknown>> | undefined
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
    lastExit: undefined,
    kind: "server",
    ...(custom !== undefined ? { custom } : {})
  })
  return {
    mode: "single",
    app: app.name,
    name: singleName,
    pid: process.pid,
    state: Effect.map(app.state, workerState),
    table: Effect.map(app.state, (state) => [row(workerState(state))]),
    tasks: Effect.sync(() => asWorkerTasks(hooksOf(app).unsafeTasks())),
    cancelTask: (worker, name) =>
      worker === singleName ? app.cancelTask(name) : Effect.fail(new WorkerNotFound({ worker })),
    restart: (options) =>
      Effect.suspend((): Effect.Effect<void, WorkerNotFound | WorkersError> => {
        if (options?.all === true && options.workers !== undefined) return ambiguous
        const unknown = options?.workers?.find((worker) => worker !== singleName)
        return unknown !== undefined ? Effect.fail(new WorkerNotFound({ worker: unknown })) : refuse("restart workers")
      }),
    scale: () => refuse("scale"),
    shutdown: shutdownSelf,
    // Sanic has no `app.m` serving alone; here the controls that make sense alone work on this process.
    terminate: shutdownSelf,
    setState: (values) =>
      Effect.map(prepare(values), (checked) => {
        custom = mergeCustom(custom, checked.values, checked.remove)
      })
  }
}

/** A worker's state as its app's state says. */
export const workerState = (state: State): WorkerState =>
  state === "serving" ? "serving" : state === "stopped" ? "stopped" : state === "stopping" ? "stopping" : "starting"

export const ambiguous = Effect.fail(
  new WorkersError({
    reason: "AmbiguousRestart",
    detail: "Ambiguous restart with both named workers and all: give one of them."
  })
)
