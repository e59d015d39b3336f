/**
 * Task policies, served for real: a task on a `Schedule`, one on a cron, a flaky one retried with backoff, one
 * bounded by a timeout, and one that a server with several workers runs on one of them only.
 *
 *   npx tsx examples/scheduled-tasks.ts      (PORT / HOST from the environment, 8000 on 127.0.0.1 otherwise)
 *
 * It serves for about three seconds (GET /tasks lists the records), prints what each task's record tells, then
 * stops itself (exit code 0). The intervals are short so that the whole run takes seconds; a real cleanup would run
 * every few minutes.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Layer, Option, Schedule } from "effect"
import { App, Server, Task } from "../src/index.js"

/** Fails its first two calls, as a remote service that is still waking up would. */
const makeFlakyFetch = Effect.sync(() => {
  let calls = 0
  return Effect.suspend(() =>
    ++calls <= 2 ? Effect.fail(`refused (call ${calls})`) : Effect.succeed(`data (call ${calls})`)
  )
})

const policies = Layer.effectDiscard(
  Effect.gen(function* () {
    const app = yield* App.App

    // Every failed run, retried or timed out, reaches server.exception.report with the task and the run.
    yield* app.signal("server.exception.report", (context) =>
      Console.log(
        `reported: task ${context.task} run ${context.run}: ${Cause.squash(context.cause as Cause.Cause<unknown>)}`
      )
    )

    // A Schedule: the first run at once, the next ones as the schedule says once a run ends.
    yield* app.addTask(Effect.void, { name: "cleanup", schedule: Schedule.spaced("500 millis") })

    // A cron string (seconds first when there are six fields), in UTC unless a timeZone is given.
    yield* app.addTask(Effect.void, { name: "heartbeat", schedule: "* * * * * *", timeZone: "Europe/Paris" })

    // Retries with backoff: the run fails only once the retry schedule gives up.
    yield* app.addTask(yield* makeFlakyFetch, {
      name: "flaky-fetch",
      retry: Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(5))),
      timeout: "1 second"
    })

    // A timeout bounds each run: this one fails with TaskTimeout, on every tick of its schedule.
    yield* app.addTask(Effect.sleep("10 seconds"), {
      name: "too-slow",
      schedule: Schedule.spaced("2 seconds"),
      timeout: "200 millis"
    })

    // One worker of the machine runs it (WORKERS=N); a process serving alone simply runs it.
    yield* app.addTask(Effect.void, { name: "digest", placement: "one-worker", schedule: Schedule.spaced("1 second") })
  })
)

const routes = HttpLayerRouter.add(
  "GET",
  "/tasks",
  Effect.flatMap(App.tasks, (tasks) => HttpServerResponse.json(tasks.map(Task.info)))
)

const describe = (task: Task.Task) => {
  const last = Option.match(task.lastRun, { onNone: () => "none", onSome: (run) => run.outcome })
  const next = Option.isSome(task.nextRunAt) ? ", waiting for its next run" : ""
  return `${task.name}: ${task.unsafeStatus()}, runs ${task.runs}, failures ${task.failures}, attempt ${task.attempt}, last run ${last}${next}`
}

const demo = Effect.gen(function* () {
  const server = yield* Server.Server
  yield* Console.log(`scheduled-tasks example on ${server.url} (GET ${server.url}/tasks)`)
  yield* Effect.sleep("2500 millis")
  for (const task of yield* App.tasks) yield* Console.log(describe(task))
  yield* Console.log("stopping")
})

const main = demo.pipe(
  Effect.provide(
    Server.layer({ routes, port: 8000 }).pipe(
      Layer.provideMerge(policies),
      Layer.provideMerge(App.layer({ name: "scheduled-tasks" }))
    )
  )
)

NodeRuntime.runMain(main)
