/**
 * Every snippet of Sanic's "Background tasks" guide page, on fiberapp, served for real.
 *
 *   npx tsx examples/background-tasks.ts      (PORT / HOST from the environment, 8000 on 127.0.0.1 otherwise)
 *
 * Tasks added before the server runs start with it. Once serving, the example fetches a named task, cancels it,
 * lists the tasks, purges the finished ones, then stops itself (exit code 0). Ctrl-C stops it as cleanly.
 * The guide's sleeps of seconds are shortened so the whole run takes about two seconds.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Layer } from "effect"
import { App, Server, Task } from "../src/index.js"

// Creating tasks

const notifyServerStartedAfterASecond = Effect.zipRight(
  Effect.sleep("1 second"),
  Console.log("Server successfully started!")
)

// "Sanic will attempt to automatically inject the app": here the app is injected by type, as a service.
const autoInject = Effect.gen(function* () {
  const app = yield* App.App
  yield* Effect.sleep("500 millis")
  yield* Console.log(`auto_inject ran in app "${app.name}"`)
})

// "Or you can pass the app argument explicitly": a function of the app.
const explicitInject = (app: App.AppService) =>
  Effect.zipRight(Effect.sleep("500 millis"), Console.log(`explicit_inject ran in app "${app.name}"`))

// Adding tasks before app.run

const slowWork = (_app: App.AppService) => Effect.zipRight(Effect.sleep("2 seconds"), Console.log("slow_work done"))

const evenSlower = (num: number) =>
  Effect.zipRight(Effect.sleep(`${num * 100} millis`), Console.log(`even_slower(${num}) done`))

const beforeRun = Layer.effectDiscard(
  Effect.gen(function* () {
    const app = yield* App.App
    yield* app.addTask(notifyServerStartedAfterASecond)
    yield* app.addTask(autoInject)
    yield* app.addTask(explicitInject)
    // Note: we are passing the callable and not an effect ...
    yield* app.addTask(slowWork)
    // ... or we can pass the effect.
    yield* app.addTask(evenSlower(10), { name: "even_slower" })
    // Named tasks
    yield* app.addTask(slowWork, { name: "slow_task" })
  })
)

const routes = HttpLayerRouter.add(
  "GET",
  "/tasks",
  Effect.flatMap(App.tasks, (tasks) => HttpServerResponse.json(tasks.map(Task.info)))
)

const listTasks = (label: string) =>
  Effect.flatMap(App.tasks, (tasks) =>
    Console.log(`${label}: ${tasks.map((task) => `${task.name} (${task.unsafeStatus()})`).join(", ") || "none"}`)
  )

const demo = Effect.gen(function* () {
  const app = yield* App.App
  const server = yield* Server.Server
  yield* Console.log(`background-tasks example on ${server.url} (GET ${server.url}/tasks)`)

  const listed = yield* Effect.promise(() => fetch(`${server.url}/tasks`).then((response) => response.json()))
  yield* Console.log(`GET /tasks -> ${JSON.stringify((listed as Array<Task.Info>).map((task) => task.name))}`)

  // You can now retrieve that task from anywhere in your application using getTask.
  const task = yield* app.getTask("slow_task")
  yield* Console.log(`slow_task is ${yield* task.status}`)

  // If that task needs to be cancelled, you can do that with cancelTask: it returns once the task has ended.
  yield* app.cancelTask("slow_task")
  yield* Console.log(`slow_task is ${yield* task.status}`)

  // All registered tasks can be found in app.tasks ...
  yield* Effect.flatMap(app.getTask("even_slower"), (task) => task.join)
  yield* listTasks("tasks")
  // ... and purgeTasks clears out the completed and cancelled ones.
  yield* Console.log(`purged ${yield* app.purgeTasks} finished tasks`)
  yield* listTasks("tasks after purge")
  yield* Console.log("stopping")
})

const main = demo.pipe(
  Effect.provide(
    Server.layer({ routes, port: 8000 }).pipe(
      Layer.provideMerge(beforeRun),
      Layer.provideMerge(App.layer({ name: "background-tasks" }))
    )
  )
)

NodeRuntime.runMain(main)
