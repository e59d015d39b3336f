/**
 * One machine of a fleet: the websocket feed of `websocket-feed.ts`, two workers, and a one-in-fleet task, all
 * sharing the PostgreSQL database that `DATABASE_URL` names (`npm run fleet` starts three of these, and a database
 * when none is given).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test PORT=8001 INSPECTOR_PORT=6501 \
 *     node --import tsx examples/fleet.ts
 *
 * - `POST /notify` dispatches `my.custom.event` with `scope: "all"`: every `/feed` websocket of every machine
 *   gets "A message".
 * - The task `fleet-report` runs on one worker of one machine at a time, and logs where it runs every 2 seconds;
 *   stop that machine and it moves to another.
 * - The inspector's `GET /fleet` (here on `INSPECTOR_PORT`, 6457 by default) lists the machines, their workers and
 *   tasks.
 */

import { pathToFileURL } from "node:url"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Layer, Schedule } from "effect"
import { App, Server } from "../src/index.js"
import { routes } from "./websocket-feed.js"

const report = Effect.gen(function* () {
  const server = yield* Server.Server
  yield* Effect.logInfo(`fleet-report runs on ${server.url} (pid ${process.pid})`)
}).pipe(Effect.repeat(Schedule.spaced("2 seconds")))

/**
 * The machine: `PORT`, `WORKERS` (2), the fleet's settings and the inspector from the environment.
 */
export const main = Layer.effectDiscard(
  Effect.gen(function* () {
    const app = yield* App.App
    const server = yield* Server.Server
    yield* app.addTask(Effect.provideService(report, Server.Server, server), {
      name: "fleet-report",
      placement: "one-in-fleet"
    })
    yield* Console.log(`fleet machine on ${server.url} (ws ${server.url.replace("http", "ws")}/feed)`)
  })
).pipe(
  Layer.provideMerge(Server.layer({ routes, port: 8000, workers: 2, fleet: true, inspector: true })),
  Layer.provide(App.layer({ name: "fleet-demo" }))
)

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  Layer.launch(main).pipe(NodeRuntime.runMain)
}
